"""`appliance replay`: drive the till with scenario events, on simulated hardware.

Scans go through the simulated serial scanner (a pty) and the real read path, exactly
as a scan at the counter would; everything else goes to the same controller the touch
screen calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from appliance.config import Config
from appliance.controller import Outcome
from appliance.service import Unit, open_unit
from protocol.commandline import read_input
from protocol.errors import BadInput

OPS = frozenset(
    {
        "login", "logout", "approve", "scan", "key", "qty", "discount", "price", "void_line",
        "redeem", "tender", "cancel", "refund", "no_sale", "shift_close",
    }
)  # fmt: skip
SCAN_TIMEOUT = 5.0
log = logging.getLogger("appliance.replay")


class ScenarioError(BadInput):
    """A scenario file that cannot be replayed (checked before anything runs)."""


def parse_scenario(text: str, source: str) -> list[dict[str, Any]]:
    """All events of a scenario; ScenarioError naming file and line on the first bad one."""
    events: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            # Numbers stay text so "20.00" and 12.5 reach the money code exactly.
            ev = json.loads(line, parse_float=str)
        except json.JSONDecodeError as e:
            raise ScenarioError(f"{source}:{n}: not valid JSON ({e.msg})") from e
        if not isinstance(ev, dict):
            raise ScenarioError(f"{source}:{n}: an event must be a JSON object")
        op = ev.get("op")
        if op not in OPS:
            raise ScenarioError(f"{source}:{n}: unknown op {op!r}")
        if op == "scan":
            code = ev.get("code")
            if not isinstance(code, str) or not code or any(c in code for c in "\r\n\t"):
                raise ScenarioError(f"{source}:{n}: scan needs a code without line breaks")
        events.append(ev)
    return events


def load_scenario(path: str | Path) -> list[dict[str, Any]]:
    return parse_scenario(read_input(path, "scenario file", ScenarioError), str(path))


async def scan_through_scanner(unit: Unit, code: str) -> Outcome:
    """Send a code through the simulated scanner and wait for the till's answer."""
    assert unit.sim_scanner is not None
    outcomes = unit.controller.scan_outcomes
    while not outcomes.empty():  # anything left from an earlier stray read
        outcomes.get_nowait()
    unit.sim_scanner.scan(code)
    try:
        return await asyncio.wait_for(outcomes.get(), SCAN_TIMEOUT)
    except TimeoutError:
        return Outcome("scan", rejected=f"scanner gave no read for {code!r}")


async def play(
    unit: Unit, events: Iterable[dict[str, Any]], out: Callable[[Outcome], None]
) -> None:
    """Feed events to the unit in order, handing each outcome to `out`."""
    for ev in events:
        if ev["op"] == "scan":
            outcome = await scan_through_scanner(unit, ev["code"])
        else:
            outcome = await unit.controller.handle(ev)
        out(outcome)


def print_outcome(outcome: Outcome) -> None:
    line = outcome.report_line()
    if line is not None:
        # Flushed at once: a line on stdout means the sale is committed (kill -9 tests rely on it).
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()


async def replay(
    cfg: Config,
    events: list[dict[str, Any]],
    *,
    drain: float = 10.0,
    config_path: Path | None = None,
) -> int:
    async with open_unit(cfg, simulate=True, config_path=config_path) as unit:
        await unit.scanner_connected()
        await unit.journal_checked.wait()
        if unit.controller.out_of_service is not None:
            reason = f"the till is out of service: {unit.controller.out_of_service}"
            print_outcome(Outcome("replay", rejected=reason))
            return 1
        await play(unit, events, print_outcome)
        if unit.controller.unsaved:
            # Completed sales only in memory: they are gone when we exit. Never exit 0.
            n = unit.controller.unsaved
            log.error("completed sales could not be saved", extra={"unsaved": n})
            print_outcome(Outcome("replay", rejected=f"{n} completed sales were NOT saved"))
            return 1
        await unit.drain_printer(timeout=10.0)
        if unit.publisher is not None and not await unit.drain_outbox(drain):
            # Not an error: the records stay in the outbox for the next run to send.
            log.warning(
                "collector did not acknowledge everything",
                extra={"outbox_depth": unit.store.outbox.depth(), "waited": drain},
            )
    return 0
