"""The lights along the top of the till screen: printer, scanner, drawer, network, display.

Each says how the device is and, when it is not well, what to do about it; the till
keeps selling through every one of these faults, so the advice says that too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from appliance.events import Event

Level = Literal["ok", "warn", "fault"]

_PRINTER: dict[str, tuple[Level, str, str]] = {
    "ok": ("ok", "Printer ready", ""),
    "unknown": ("ok", "Printer ready", ""),
    "paper_low": (
        "warn",
        "Printer paper low",
        "Have a new roll ready; printing carries on.",
    ),
    "paper_out": (
        "fault",
        "Printer out of paper",
        "Load a new roll. Sales go on; their receipts print when paper is back.",
    ),
    "cover_open": ("fault", "Printer cover open", "Close the printer cover."),
    "offline": (
        "fault",
        "Printer not answering",
        "Check its power and cable. Sales go on; receipts print when it is back.",
    ),
}


@dataclass(frozen=True)
class Light:
    """One device's state as shown: a word, a level (colour) and what to do."""

    device: str
    level: Level
    text: str
    advice: str = ""


def printer_light(state: str, queued: int, unprinted: int = 0) -> Light:
    """The printer's state; when it is well, the receipts it held (too old to print by
    themselves) as a warning with where to find them."""
    level, text, advice = _PRINTER.get(
        state, ("fault", f"Printer: {state}", "Check the printer; receipts wait in the queue.")
    )
    if queued and level != "ok":
        text = f"{text} ({queued} waiting)"
    if unprinted and level == "ok":
        return Light(
            "printer",
            "warn",
            f"{unprinted} not printed",
            "receipts too old to print by themselves; a copy from More… › Not printed.",
        )
    return Light("printer", level, text, advice)


def scanner_light(state: str | None) -> Light:
    if state is None:
        return Light("scanner", "warn", "No scanner set up", "Key items by SKU or search.")
    if state == "connected":
        return Light("scanner", "ok", "Scanner ready")
    return Light(
        "scanner",
        "fault",
        "Scanner unplugged",
        "Plug the scanner back in; it reconnects by itself. Meanwhile key items or search.",
    )


def drawer_light(is_open: bool | None, events: Sequence[Event]) -> Light:
    last = next((e for e in reversed(events) if e.source == "drawer"), None)
    if last is not None and last.kind in ("drawer.jammed", "drawer.fault"):
        return Light(
            "drawer",
            "fault",
            "Drawer did not open",
            "Open it with the key; check the cable to the printer port.",
        )
    if last is not None and last.kind == "drawer.open_too_long" and is_open:
        return Light("drawer", "warn", "Drawer left open", "Close the cash drawer.")
    if is_open:
        return Light("drawer", "ok", "Drawer open")
    return Light("drawer", "ok", "Drawer closed" if is_open is False else "Drawer ready")


def journal_light(out_of_service: str | None, unsaved: int) -> Light:
    """The journal: out of service (it failed its integrity check), or sales it would not
    take. No lamp of its own: a fault shows in the notice bar, above everything else."""
    if out_of_service is not None:
        return Light("journal", "fault", "Out of service", f"{out_of_service}. Use another till.")
    if unsaved:
        return Light(
            "journal",
            "fault",
            f"{unsaved} sale{'s' if unsaved > 1 else ''} not saved",
            "The journal cannot be written (is the disk full?): no new sale until they "
            "are saved. Call support.",
        )
    return Light("journal", "ok", "Journal ok")


def network_light(configured: bool, connected: bool, outbox: int) -> Light:
    if not configured:
        return Light("network", "ok", "Standalone", "")
    if connected:
        return Light("network", "ok", "Online" + (f" ({outbox} to send)" if outbox else ""))
    waiting = f" ({outbox} to send)" if outbox else ""
    return Light(
        "network",
        "fault",
        f"Offline{waiting}",
        "Sales are kept and sent when the network is back; card balances are not known.",
    )


def worst(lights: Sequence[Light]) -> Light | None:
    """The light whose advice the bar shows: the first fault, else the first warning."""
    for level in ("fault", "warn"):
        for light in lights:
            if light.level == level and light.advice:
                return light
    return None
