"""Things that happened on the unit that someone should see: drawer, printer, scanner faults.

Drivers take an `EventSink` and never know where events go; the service logs them,
shows them on screen and (with MQTT) reports them on the `events` topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """`kind` is dotted, e.g. `drawer.opened`, `printer.paper_out`, `scanner.unplugged`."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)

    @property
    def source(self) -> str:
        return self.kind.split(".", 1)[0]


EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """An EventSink for tests and tools that do not care."""
