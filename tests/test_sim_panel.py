"""The simulated touch panel of `appliance run --simulate` (appliance.sim_panel): scenario
events on DATA_DIR/sim-panel.sock, answered one JSON line each, through the same
controller as the screens; scans through the simulated scanner's pty."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from appliance.config import load_config
from appliance.service import open_unit
from appliance.sim_panel import LINE_LIMIT, SOCKET_NAME, serve_sim_panel
from appliance.store import Store
from protocol.cards import make_loyalty_card
from tests.conftest import ROOT
from tests.waiting import until

STABILO, BAGUETTE = "4006381333931", "3760123450010"  # A1 1.45, B1 1.20 (demo catalog)


def headless(till_config: Path) -> Path:
    till_config.write_text(till_config.read_text() + "\n[display]\nenabled = false\n")
    return till_config


def test_run_simulate_rings_up_a_sale_on_its_panel(till_config: Path) -> None:
    cfg = load_config(headless(till_config))
    path = cfg.data_dir / SOCKET_NAME
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(till_config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "no panel socket"
            time.sleep(0.05)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            f = s.makefile("rwb")

            def ask(line: str) -> dict[str, Any]:
                f.write(line.encode() + b"\n")
                f.flush()
                answer: dict[str, Any] = json.loads(f.readline())
                return answer

            assert ask('{"op":"login","staff":"ana"}')["view"]["staff"] == "ana"
            got = ask(json.dumps({"op": "scan", "code": STABILO}))
            assert got["ok"] and got["view"]["lines"] == 1 and got["view"]["total"] == 145
            bad = ask(json.dumps({"op": "scan", "code": STABILO[:-1] + "2"}))
            assert not bad["ok"] and "check digit" in bad["reason"]
            assert bad["view"]["lines"] == 1  # nothing changed
            sold = ask('{"op":"tender","type":"cash","amount":"5.00"}')
            assert sold["ok"] and sold["sale"]["total"] == 145 and sold["sale"]["change"] == 355
            assert sold["view"]["state"] == "idle" and sold["view"]["lines"] == 0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert not path.exists(), "the socket is removed on a clean stop"
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        [record] = list(store.records())
    assert record.receipt_no == sold["sale"]["receipt_no"] and record.lines[0].sku == "A1"


async def test_the_panel_waits_as_the_screens_do_and_refuses_bad_lines(till_config: Path) -> None:
    """Scans are read through the pty and waited for on the scan watchers, as the screens
    wait: `scan_outcomes`, which nothing reads under `appliance run`, is left unread (a
    bench that read it would hide a leak there). A bad line gets its reason and changes
    nothing; a line over the limit closes the connection."""
    cfg = load_config(headless(till_config))
    stop = asyncio.Event()
    async with open_unit(cfg, simulate=True) as unit:
        panel = asyncio.create_task(serve_sim_panel(unit, stop))
        path = cfg.data_dir / SOCKET_NAME
        await until(path.exists, "the panel's socket")
        reader, writer = await asyncio.open_unix_connection(str(path))

        async def ask(line: bytes) -> dict[str, Any]:
            writer.write(line + b"\n")
            await writer.drain()
            answer: dict[str, Any] = json.loads(await reader.readline())
            return answer

        await ask(b'{"op":"login","staff":"ana"}')
        for code in (STABILO, BAGUETTE, STABILO):
            assert (await ask(json.dumps({"op": "scan", "code": code}).encode()))["ok"]
        card = await ask(json.dumps({"op": "scan", "code": make_loyalty_card("00000007")}).encode())
        # No [mqtt]: the card goes on offline, and the answer came once it was on the sale.
        assert card["view"]["loyalty"] == {"account": "00000007", "balance": None, "offline": True}
        assert card["view"]["lines"] == 3 and card["view"]["total"] == 145 + 120 + 145
        assert unit.controller.scan_outcomes.qsize() == 4, "the panel read scan_outcomes"
        view = await ask(b'{"op":"view"}')
        assert view == {"op": "view", "ok": True, "view": card["view"]}
        memory = await ask(b'{"op":"memory"}')
        assert memory["ok"] and memory["blocks"] > 0
        for line, reason in (
            (b"not json", "not valid JSON"),
            (b'{"op":"fly"}', "unknown op 'fly'"),
            (b'{"op":"scan","code":""}', "scan needs a code"),
            (b'{"op":"tender","type":"gold"}', "tender type 'gold' is not cash or card"),
            (b"\xff\xfe", "not UTF-8"),
            (b"", "an empty line"),
        ):
            refused = await ask(line)
            assert refused["ok"] is False and reason in refused["reason"], (line, refused)
        assert (await ask(b'{"op":"view"}'))["view"] == card["view"]  # nothing changed
        writer.write(b"x" * (LINE_LIMIT + 10) + b"\n")
        await writer.drain()
        cut = json.loads(await reader.readline())
        assert cut["ok"] is False and "longer than" in cut["reason"]
        assert await reader.read() == b""  # and the connection is closed
        writer.close()
        stop.set()
        await asyncio.wait_for(panel, 10)
        assert not path.exists()
        # The till took nothing from the bad lines and is still selling.
        done = await unit.controller.handle({"op": "tender", "type": "card", "ref": "T1"})
        assert done.record is not None and done.record.total == 410
