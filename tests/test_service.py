"""`appliance run` under a pretend systemd: READY, watchdog pings, JSON logs, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def test_run_notifies_pets_the_watchdog_and_stops_on_sigterm(
    till_config: Path, tmp_path: Path
) -> None:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(till_config)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and said.count("WATCHDOG=1") < 3:
            try:
                said += sock.recv(4096).decode().split("\n")
            except TimeoutError:
                assert proc.poll() is None, "the service died"
        assert any(s == "READY=1" for s in said)
        assert said.count("WATCHDOG=1") >= 3
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert proc.returncode == 0
    logs = [json.loads(line) for line in err.splitlines() if line.strip()]
    msgs = [entry["msg"] for entry in logs]
    assert "ready" in msgs and "stopping" in msgs
    ready = next(entry for entry in logs if entry["msg"] == "ready")
    assert ready["items"] == 40 and ready["simulate"] is True


async def test_a_crashing_component_is_shown_and_restarted() -> None:
    from appliance.events import Event
    from appliance.service import supervise

    runs: list[int] = []
    events: list[Event] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("bug in a driver loop")

    await supervise("flaky", flaky, events.append)
    assert len(runs) == 3
    assert [e.kind for e in events] == ["service.component_crashed"] * 2
    assert events[0].detail["component"] == "flaky"


def test_the_service_does_not_import_the_screens() -> None:
    """The screens sit on top of the service (they import it); it is handed them by the
    command line, so it must not name `appliance.display` anywhere, lazily or not."""
    import ast

    tree = ast.parse((ROOT / "appliance" / "service.py").read_text())
    imported = [
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
    ]
    assert "appliance.config" in imported  # the walk sees the imports at all
    assert not [n for n in imported if n.startswith("appliance.display")]


async def test_the_service_runs_the_frontend_it_is_given(till_config: Path) -> None:
    import asyncio

    from appliance.config import load_config
    from appliance.service import Unit, run_service

    cfg = load_config(till_config)
    sold: list[int] = []

    async def frontend(unit: Unit, stop: asyncio.Event) -> None:
        await unit.controller.handle({"op": "login", "staff": "ana"})
        await unit.controller.handle({"op": "key", "sku": "B1", "qty": 1})
        out = await unit.controller.handle({"op": "tender", "type": "card", "ref": "T1"})
        assert out.record is not None, out.rejected
        sold.append(out.record.total)
        stop.set()  # as SIGTERM would

    assert await asyncio.wait_for(run_service(cfg, simulate=True, frontend=frontend), 30) == 0
    assert sold == [120]


async def test_a_frontend_that_crashes_leaves_the_till_selling(till_config: Path) -> None:
    import asyncio

    from appliance.config import load_config
    from appliance.service import Unit, run_service

    cfg = load_config(till_config)
    handed: list[tuple[Unit, asyncio.Event]] = []

    async def frontend(unit: Unit, stop: asyncio.Event) -> None:
        handed.append((unit, stop))
        raise RuntimeError("a bug in the screens")

    service = asyncio.create_task(run_service(cfg, simulate=True, frontend=frontend))
    for _ in range(1000):
        if handed and any(e.kind == "service.component_crashed" for e in handed[0][0].events):
            break
        assert not service.done(), service
        await asyncio.sleep(0.01)
    unit, stop = handed[0]
    crash = next(e for e in unit.events if e.kind == "service.component_crashed")
    assert crash.detail["component"] == "frontend" and "a bug" in crash.detail["error"]
    await unit.controller.handle({"op": "login", "staff": "ana"})
    await unit.controller.handle({"op": "key", "sku": "B1", "qty": 1})
    out = await unit.controller.handle({"op": "tender", "type": "card", "ref": "T1"})
    assert out.record is not None and not service.done()
    stop.set()
    assert await asyncio.wait_for(service, 30) == 0
