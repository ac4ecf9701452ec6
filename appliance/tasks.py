"""Stopping tasks for certain on Python 3.11."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], patience: float = 10.0
) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` and wait for them, asking again while any lingers; the ones still
    running after `patience` seconds. Python 3.11's `asyncio.wait_for` (aiomqtt's publish
    waits in one) can swallow a cancel that lands as its inner wait finishes (fixed in
    3.12): the task then runs on, and a clean stop hung until it was cut off."""
    pending = {t for t in tasks if not t.done()}
    deadline = time.monotonic() + patience
    while pending and time.monotonic() < deadline:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.05)
    return pending
