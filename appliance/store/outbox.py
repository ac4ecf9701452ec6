"""The outbox: journal records the collector has not acknowledged yet."""

from __future__ import annotations

from typing import NamedTuple

from appliance.store.db import Database


class Pending(NamedTuple):
    """A record waiting to be sent: its seq and its stored JSON, sent as it was signed."""

    seq: int
    payload: bytes


class Outbox:
    """Seqs waiting to be sent, filled by `Store.append` in the same transaction as the record.

    Rows leave only on `ack(upto)`, i.e. when the collector has confirmed it stored them.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, limit: int = 100, after: int = 0) -> list[Pending]:
        """Up to `limit` unacknowledged records with seq > `after`, oldest first."""
        rows = self._db.query(
            "read the outbox",
            "SELECT j.seq, j.record FROM outbox o JOIN journal j ON j.seq = o.seq "
            "WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
            (after, limit),
        )
        return [Pending(seq, text.encode()) for seq, text in rows]

    def ack(self, upto: int) -> int:
        """Drop every entry with seq <= `upto`; returns how many went."""
        with self._db.transaction(f"acknowledge the outbox up to {upto}") as conn:
            return conn.execute("DELETE FROM outbox WHERE seq <= ?", (upto,)).rowcount

    def depth(self) -> int:
        """How many records wait to be sent."""
        return int(self._db.query("count the outbox", "SELECT count(*) FROM outbox")[0][0])
