"""The ingest in a process of its own, beside the collector's MQTT loop.

Why a process: per sale, the collector spends about as long in paho (reading and
decoding MQTT 5 packets) as in the ingest (decode, chain check, database). As two threads
they take turns on one GIL, so a collector used at most one core; as two processes they
use two (measured in docs/benchmarks.md, "Fourth round"). A batch goes to the worker as
`(topic, payload)` pairs and comes back as the `BatchResult` to publish, so the pipe
carries little more than the payloads.

The worker is `concurrent.futures.ProcessPoolExecutor` with one process (spawned, never
forked from a process with threads), so batches stay in order. Its logging comes back
to the parent's loggers (a `QueueHandler` there, a thread here), so what it logs goes
where the collector's own logs go. It ignores SIGINT and SIGTERM: the collector decides
when it stops, letting it finish the batch in hand; a collector killed outright takes it
down within a second (it watches its parent). If the worker dies, the batch it held is
sent again to a new one: nothing was acked, and ingest is idempotent.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from collector.config import LoyaltySection
from collector.errors import CollectorError
from collector.ingest.batches import BatchResult, Incoming, Ingestor

PARENT_CHECK = 1.0  # seconds between the worker's looks at whether its collector lives


class DatabaseUnavailable(Exception):
    """The worker could not reach the database (the batch is retried, nothing acked)."""


class WorkerLost(Exception):
    """The worker process died with a batch in hand (it is sent again to a new one)."""


class IngestThread:
    """The ingest on a thread of this process: for an in-memory SQLite database, which
    another process cannot open, and where a second process is not wanted."""

    def __init__(
        self, engine: Engine, resend_interval: float, loyalty: LoyaltySection, keys: Path
    ) -> None:
        self._ingestor = Ingestor(
            engine, resend_interval=resend_interval, loyalty=loyalty, keys=keys
        )

    async def ingest(self, batch: list[Incoming]) -> BatchResult:
        try:
            return await asyncio.to_thread(self._ingestor.ingest, batch)
        except OperationalError as exc:
            raise DatabaseUnavailable(str(exc.orig).strip()) from exc

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


class IngestProcess:
    """The ingest in a worker process (see the module's docstring)."""

    def __init__(
        self, engine: Engine, resend_interval: float, loyalty: LoyaltySection, keys: Path
    ) -> None:
        self._url = engine.url.render_as_string(hide_password=False)
        self._settings = (resend_interval, loyalty, keys)
        self._context = multiprocessing.get_context("spawn")
        self._logs: Any = self._context.Queue()
        self._pool: ProcessPoolExecutor | None = None
        self._relay = threading.Thread(target=_relay_logs, args=(self._logs,), daemon=True)
        self._relay.start()
        self._closed = False

    def start(self) -> None:
        """Start the worker and open its database now, not on the first batch (a spawned
        interpreter importing SQLAlchemy takes most of a second)."""
        self._executor().submit(_warm)

    @property
    def pid(self) -> int | None:
        """The worker's process id, once it has started (tests kill it)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return next(iter(processes), None)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=self._context,
                initializer=_start,
                initargs=(
                    self._url,
                    *self._settings,
                    self._logs,
                    logging.getLogger().getEffectiveLevel(),
                    os.getpid(),
                ),
            )
        return self._pool

    async def ingest(self, batch: list[Incoming]) -> BatchResult:
        pool = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _ingest, batch)
        except BrokenProcessPool as exc:
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerLost(f"the ingest worker died ({exc})") from exc

    def close(self) -> None:
        """Let the worker finish its batch, then stop it and the log relay."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._logs.put(None)
        self._relay.join(5)
        self._logs.close()


def _relay_logs(logs: Any) -> None:
    """Parent side: hand each record the worker logged to the logger of the same name."""
    while True:
        try:
            record = logs.get()
        except (EOFError, OSError):
            return
        if record is None:
            return
        logging.getLogger(record.name).handle(record)


# -- in the worker process ----------------------------------------------------------------

_ingestor: Ingestor | None = None
_settings: tuple[str, float, LoyaltySection, Path] | None = None


def _start(
    url: str,
    resend_interval: float,
    loyalty: LoyaltySection,
    keys: Path,
    logs: Any,
    level: int,
    parent: int,
) -> None:
    global _settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)
    _settings = (url, resend_interval, loyalty, keys)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """Exit once the collector is gone (killed outright: no shutdown reached us)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def _open() -> Ingestor:
    global _ingestor
    if _ingestor is None:
        from collector.db import open_database

        assert _settings is not None
        url, resend_interval, loyalty, keys = _settings
        engine = open_database(url, migrate=False)
        _ingestor = Ingestor(engine, resend_interval=resend_interval, loyalty=loyalty, keys=keys)
        # What starting made (modules, the engine) lives as long as the worker: frozen out
        # of the garbage collector's sight, so a full collection between batches no longer walks
        # it and stalls a batch by tens of ms (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
    return _ingestor


def _warm() -> None:
    _open()  # its result is not sent back: an Ingestor does not pickle


def _ingest(batch: list[Incoming]) -> BatchResult:
    try:
        return _open().ingest(batch)
    except OperationalError as exc:
        # Raised again as a plain exception: the driver's own may not survive pickling.
        raise DatabaseUnavailable(str(exc.orig).strip()) from None
    except CollectorError as exc:  # open_database: the server is not there yet
        raise DatabaseUnavailable(str(exc)) from None
