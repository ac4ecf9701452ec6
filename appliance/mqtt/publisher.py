"""The outbox publisher: journal records to the collector, in seq order, until acknowledged.

Records leave the outbox only on the collector's `ack` (`{"upto": seq}`); nothing here
trusts the broker to queue or deliver. On every (re)connect, on a `resend` command and
when acks stop coming for `ack_timeout` seconds, it sends again from the first
unacknowledged record; the collector drops duplicates by seq.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from itertools import islice
from typing import Any

from appliance.store import Pending, Store

log = logging.getLogger("appliance.mqtt.publisher")

# Sends one encoded record as a QoS 1 message; returns once the broker has it (PUBACK).
Send = Callable[[bytes], Coroutine[Any, Any, None]]
_BATCH = 256


class OutboxPublisher:
    """Publishes `Store.outbox.pending()` with up to `window` QoS 1 messages in flight.

    Publish calls start strictly in seq order (each one is handed to the MQTT client
    before the next is read), so the broker sees the records in order; only their PUBACKs
    are awaited concurrently.
    """

    def __init__(self, store: Store, *, window: int = 64, ack_timeout: float = 15.0) -> None:
        self.store = store
        self.window = window
        self.ack_timeout = ack_timeout
        first = store.outbox.pending(limit=1)
        # Everything up to `acked` has left the outbox; `sent` is the last seq handed
        # to the client in this pass.
        self.acked = first[0].seq - 1 if first else store.last_seq()
        self.sent = self.acked
        self.rewinds = 0
        self._generation = 0  # bumped by each rewind, so a batch read before it stops
        self._wake = asyncio.Event()
        self._acks = asyncio.Event()
        self._progress = time.monotonic()

    def wake(self) -> None:
        """A record was committed: send it now (the controller calls this)."""
        self._wake.set()

    # -- what the collector says ------------------------------------------------------------
    def ack(self, upto: int) -> int:
        """The collector stored everything up to `upto`: drop it from the outbox."""
        last = self.store.last_seq()
        if upto > last:
            # Never drop what we have not written: an ack beyond the journal is forged
            # or belongs to another journal (a re-imaged unit).
            log.warning("ack beyond the journal", extra={"upto": upto, "last_seq": last})
            upto = last
        if upto <= self.acked:
            return 0
        dropped = self.store.outbox.ack(upto)
        self.acked = upto
        self.sent = max(self.sent, upto)
        self._progress = time.monotonic()
        self._acks.set()
        self._wake.set()
        return dropped

    def rewind(self, from_seq: int | None = None) -> None:
        """Send again from `from_seq` (default: the first unacknowledged record).

        Below the outbox (already acknowledged) the records come from the journal: the
        collector asks for them when it lost some (a restored database).
        """
        start = self.acked + 1 if from_seq is None else max(from_seq, 1)
        self.sent = min(self.sent, start - 1)
        self._generation += 1
        self._progress = time.monotonic()
        self._wake.set()

    async def wait_drained(self, timeout: float) -> bool:
        """Wait until the collector acknowledged every record; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.store.outbox.depth():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._acks.clear()
            try:
                await asyncio.wait_for(self._acks.wait(), left)
            except TimeoutError:
                return False
        return True

    # -- sending ---------------------------------------------------------------------------
    def _next_batch(self) -> list[Pending]:
        if self.sent < self.acked:
            # A resend below the outbox: these come from the journal itself.
            stored = islice(self.store.texts(after=self.sent), _BATCH)
            return [Pending(seq, text.encode()) for seq, text in stored if seq <= self.acked]
        return self.store.outbox.pending(limit=_BATCH, after=self.sent)

    async def run(self, send: Send) -> None:
        """Publish for one connection; returns never, raises what `send` raises."""
        self.sent = min(self.sent, self.acked)  # a new connection starts from the first unacked
        self._progress = time.monotonic()
        window = asyncio.Semaphore(self.window)
        inflight: set[asyncio.Task[None]] = set()
        failed: list[BaseException] = []

        def done(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            window.release()
            if not task.cancelled() and task.exception() is not None:
                failed.append(task.exception())  # type: ignore[arg-type]
                self._wake.set()

        try:
            while True:
                if failed:
                    raise failed[0]
                self._wake.clear()
                batch = self._next_batch()
                generation = self._generation
                for record in batch:
                    await window.acquire()
                    if failed:
                        window.release()
                        raise failed[0]
                    if generation != self._generation:
                        window.release()
                        break
                    if record.seq <= self.sent:
                        window.release()  # a rewind or an ack moved past it meanwhile
                        continue
                    if self.sent <= self.acked:
                        self._progress = time.monotonic()  # the ack clock starts now
                    self.sent = record.seq
                    # The task runs its synchronous part (the client queues the packet)
                    # in creation order, so publishes start in seq order.
                    # The stored text as it was signed: one encode per record, at commit.
                    task = asyncio.create_task(send(record.payload))
                    inflight.add(task)
                    task.add_done_callback(done)
                if batch:
                    continue
                await self._idle()
        finally:
            for task in list(inflight):
                task.cancel()

    async def _idle(self) -> None:
        """Wait for a commit, an ack or a rewind; rewind when acks stop coming."""
        if self.sent <= self.acked:
            await self._wake.wait()
            return
        left = self._progress + self.ack_timeout - time.monotonic()
        if left > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), left)
                return
            except TimeoutError:
                pass
        self.rewinds += 1
        log.warning(
            "no ack from the collector; sending again",
            extra={"from_seq": self.acked + 1, "sent": self.sent, "timeout": self.ack_timeout},
        )
        self.rewind()
