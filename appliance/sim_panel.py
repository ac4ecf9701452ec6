"""The simulated touch panel of `appliance run --simulate`: the screens' twin, as the
pty is the scanner's.

A Unix socket, DATA_DIR/sim-panel.sock (mode 0600), takes the contract's scenario events,
one JSON object a line, and answers each with one JSON line. Everything but a scan goes
to `Controller.handle`, as a key on the till screen does. A scan is written to the
simulated scanner's pty and read back by the production driver; the panel then waits as
the screens do (the scan watchers, the `scanner.rejected` event, a card's balance) and
never reads `Controller.scan_outcomes`, which nothing reads under `appliance run`.

Answers: `{"op", "ok": true, "view": {…}}`, with `"sale"` (the `replay` line: sale_id,
receipt_no, total, change) when an operation committed a sale or refund, or
`{"op", "ok": false, "reason", "view"}`. Two requests of the panel's own change
nothing: `{"op":"view"}` answers the view alone (the till as its screen sees it: state,
staff, live lines, total, due, loyalty card, warnings; and the drawer kicks still to
pulse), `{"op":"memory"}` Python's allocated blocks (`Memory`, for `bench rss`). A bad
line gets its reason and changes nothing. `bench/rss.py` rings up its sales through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import tracemalloc
from typing import Any

from appliance.drivers.scanner import Scan
from appliance.events import Event
from appliance.replay import SCAN_TIMEOUT, ScenarioError, parse_scenario
from appliance.service import Unit

log = logging.getLogger("appliance.sim_panel")

SOCKET_NAME = "sim-panel.sock"
LINE_LIMIT = 64 * 1024  # bytes in one request line (asyncio's default reader limit)


def view(unit: Unit) -> dict[str, Any]:
    """The open sale as the till screen shows it, and the drawer kicks still to come, as
    plain JSON values."""
    v = unit.till.view()
    card = v.loyalty
    return {
        "state": v.state,
        "staff": v.staff.id if v.staff is not None else None,
        "lines": sum(1 for line in v.lines if not line.voided),
        "total": v.total,
        "due": v.due,
        "loyalty": None
        if card is None
        else {"account": card.account, "balance": card.balance, "offline": card.offline},
        "warnings": unit.controller.warnings,
        "kicks": unit.controller.kicks_pending,
    }


async def scan(unit: Unit, code: str) -> str | None:
    """Read `code` through the simulated scanner and wait until the till has dealt with
    it; the scanner's reason when it refused the read, else None."""
    assert unit.sim_scanner is not None
    read: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    def on_scan(s: Scan) -> None:
        if s.code == code and not read.done():
            read.set_result(None)

    def on_event(event: Event) -> None:
        if event.kind == "scanner.rejected" and not read.done():
            read.set_result(str(event.detail.get("reason", "unreadable")))

    unit.scan_watchers.append(on_scan)
    unit.event_watchers.append(on_event)
    try:
        unit.sim_scanner.scan(code)
        try:
            reason = await asyncio.wait_for(read, SCAN_TIMEOUT)
        except TimeoutError:
            return f"scanner gave no read for {code!r}"
    finally:
        unit.scan_watchers.remove(on_scan)
        unit.event_watchers.remove(on_event)
    await unit.controller.scans_done()  # a card: its balance asked, the card on the sale
    return reason


class Memory:
    """`{"op":"memory"}`, a debugging aid for `bench rss`: Python's allocated blocks
    (after a garbage collection with `"collect":true`, so only what is still referenced
    counts) and, when tracemalloc traces (PYTHONTRACEMALLOC=N in the environment), the
    bytes traced; `"diff":true` also takes a snapshot and lists the lines whose memory
    grew most since the last such ask."""

    def __init__(self) -> None:
        self._last: tracemalloc.Snapshot | None = None

    def answer(self, collect: bool = False, diff: bool = False) -> dict[str, Any]:
        if collect:
            gc.collect()  # after READY the heap is frozen: this walks only what came since
        found: dict[str, Any] = {"op": "memory", "ok": True, "blocks": sys.getallocatedblocks()}
        if not tracemalloc.is_tracing():
            return found
        found["traced"] = tracemalloc.get_traced_memory()[0]
        if diff:
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            if self._last is not None:
                grew = [d for d in snap.compare_to(self._last, "traceback") if d.size_diff > 0]
                found["grew"] = [
                    f"{d.size_diff / 1024:+.1f} KiB, {d.count_diff:+d} blocks: "
                    + " <- ".join(f"{f.filename}:{f.lineno}" for f in d.traceback)
                    for d in grew[:20]
                ]
            self._last = snap
        return found


async def answer(unit: Unit, line: str, memory: Memory | None = None) -> dict[str, Any]:
    """The answer to one request line."""
    with contextlib.suppress(ValueError):
        asked = json.loads(line)
        if asked == {"op": "view"}:
            return {"op": "view", "ok": True, "view": view(unit)}
        if isinstance(asked, dict) and asked.get("op") == "memory":
            return (memory or Memory()).answer(
                collect=asked.get("collect") is True, diff=asked.get("diff") is True
            )
    try:
        events = parse_scenario(line, "sim-panel")
    except ScenarioError as e:
        return {"op": None, "ok": False, "reason": str(e).removeprefix("sim-panel:1: ")}
    if not events:
        return {"op": None, "ok": False, "reason": "an empty line"}
    event = events[0]
    op = event["op"]
    if op == "scan":
        reason = await scan(unit, event["code"])
        found: dict[str, Any] = {"op": op, "ok": reason is None}
        if reason is not None:
            found["reason"] = reason
    else:
        outcome = await unit.controller.handle(event)
        found = {"op": op, "ok": outcome.rejected is None}
        if outcome.rejected is not None:
            found["reason"] = outcome.rejected
        elif (sale := outcome.report_line()) is not None:
            found["sale"] = sale
    found["view"] = view(unit)
    return found


async def serve_sim_panel(unit: Unit, stop: asyncio.Event) -> None:
    """Take panel requests on DATA_DIR/sim-panel.sock until `stop` is set (a frontend of
    `run_service`). A socket that cannot be made is logged and the till goes on."""
    path = unit.cfg.data_dir / SOCKET_NAME
    clients: set[asyncio.StreamWriter] = set()
    memory = Memory()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.add(writer)
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return  # the client went away
                except asyncio.LimitOverrunError:
                    reason = f"a request line is longer than {LINE_LIMIT} bytes; closing"
                    log.warning("panel request refused", extra={"reason": reason})
                    refused = {"op": None, "ok": False, "reason": reason}
                    writer.write(json.dumps(refused).encode() + b"\n")
                    return
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    found: dict[str, Any] = {"op": None, "ok": False, "reason": "not UTF-8"}
                else:
                    try:
                        found = await answer(unit, line, memory)
                    except Exception as e:  # our bug: the panel (and the till) go on
                        log.exception("panel request failed")
                        found = {"op": None, "ok": False, "reason": f"internal error: {e!r}"}
                if not found["ok"]:
                    log.info("panel request refused", extra={"reason": found["reason"]})
                writer.write(json.dumps(found, ensure_ascii=False).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            return
        finally:
            clients.discard(writer)
            writer.close()

    await unit.scanner_connected()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a process that was killed; we hold the service lock
    try:
        server = await asyncio.start_unix_server(serve, path, limit=LINE_LIMIT)
        os.chmod(path, 0o600)
    except OSError as e:
        log.error("the simulated panel could not start", extra={"path": str(path), "error": str(e)})
        return
    log.info("simulated panel ready", extra={"path": str(path)})
    try:
        await stop.wait()
    finally:
        server.close()
        for writer in list(clients):
            writer.close()
        await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
