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
