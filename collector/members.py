"""Collectors that come and go: which of them are running, and what happens to the share
of the devices' records a stopped or dead one was dealt.

Why: several collectors take the devices' records through one shared subscription, each
with a persistent session (so a lone collector that restarts finds the backlog queued at
the broker). Mosquitto, like EMQX and VerneMQ, deals a shared subscription's messages to
every member that has a session, connected or not: a stopped collector's session went on
taking its share of every unit's records for as long as it lived (seven days), and the
others could only get them by asking each unit to resend, round after round, while half
of each resend went the same way (100 sales took 40 s to deliver 2).

So the members keep a row each in the database they share (`collector_members`), written
every `heartbeat` seconds while subscribed; the database is the one party every collector
already trusts, which a broker-side presence topic would not be. Then:

- a member that stops (SIGTERM) while another is running ends its session as it
  disconnects (MQTT 5 DISCONNECT with Session Expiry 0): the broker deals everything to
  the others at once. What it was dealt but had not taken is gone from the broker; the
  units still have it (nothing leaves an outbox before its ack), and the others ask for it
  when the next record shows the gap, or the unit resends when acks stop coming;
- the last member to stop keeps its session, so the broker queues for it as before;
- a member not seen for `stale` seconds is dead (killed, its host or its broker
  connection down, or stopped as the last while another has since started): a running
  member claims its row (one UPDATE, so only one claims it) and clears its session by
  connecting under its client id with a clean start and Session Expiry 0. What that
  session held is gone from the broker, not from the units: the clearing member asks each
  device heard from lately to resend what follows the last record stored (a no-op for one
  that is up to date), rather than leave it to the next gap or the unit's ack timeout.
  A member that was only slow comes back under a new session.

Nothing is written as a member stops: a database that does not answer must not hold up a
SIGTERM, and a stopped member's row goes stale like a dead one's.

Times are the members' own clocks (milliseconds since the epoch): hosts that share a
database keep NTP time, far closer than `stale`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from collector.models import Device, Member
from collector.upsert import upsert_insert
from protocol.timestamps import utc_stamp

RUNNING, CLEARED = "running", "cleared"  # CLEARED: dead, its session ended by another


@dataclass(frozen=True)
class Timings:
    """`[cluster]`: seconds between a member's heartbeats, and without one before the
    others take it for dead."""

    heartbeat: float = 5.0
    stale: float = 30.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def beat(engine: Engine, client_id: str, now_ms: int | None = None) -> None:
    """`client_id` is running (its row made or brought back)."""
    now = _now_ms() if now_ms is None else now_ms
    with Session(engine) as s, s.begin():
        stmt = upsert_insert(s, Member).values(
            client_id=client_id, state=RUNNING, started_at=now, seen_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[Member.client_id],
            set_={"state": RUNNING, "seen_at": now},
        )
        s.execute(stmt)


def running_peers(
    engine: Engine, client_id: str, timings: Timings, now_ms: int | None = None
) -> list[str]:
    """The other members seen running within the last `stale` seconds."""
    now = _now_ms() if now_ms is None else now_ms
    with Session(engine) as s:
        rows = s.scalars(
            select(Member.client_id).where(
                Member.client_id != client_id,
                Member.state == RUNNING,
                Member.seen_at >= now - int(timings.stale * 1000),
            )
        )
        return sorted(rows)


def claim_dead(
    engine: Engine, client_id: str, timings: Timings, now_ms: int | None = None
) -> list[str]:
    """The members whose sessions `client_id` is now to clear: not seen for `stale`
    seconds. Each is claimed by one UPDATE that only one member can win, so two live
    members do not both clear the same one."""
    now = _now_ms() if now_ms is None else now_ms
    cutoff = now - int(timings.stale * 1000)
    dead_now = (Member.state == RUNNING) & (Member.seen_at < cutoff)
    claimed = []
    with Session(engine) as s:
        candidates = list(
            s.scalars(select(Member.client_id).where(Member.client_id != client_id, dead_now))
        )
    for other in candidates:
        with Session(engine) as s, s.begin():
            result = s.execute(
                update(Member)
                .where(Member.client_id == other, dead_now)
                .values(state=CLEARED, seen_at=now)
            )
            won = cast(CursorResult[Any], result).rowcount
        if won:
            claimed.append(other)
    return claimed


def unclaim(engine: Engine, client_id: str) -> None:
    """Clearing `client_id`'s session failed (the broker went): claim it again next time."""
    with Session(engine) as s, s.begin():
        s.execute(
            update(Member)
            .where(Member.client_id == client_id, Member.state == CLEARED)
            .values(state=RUNNING, seen_at=0)
        )


def recent_devices(engine: Engine, within: float) -> list[tuple[str, str, int]]:
    """(store, device, last stored seq) of each device heard from in the last `within`
    seconds: those that may have sent records to a member that died meanwhile."""
    since = utc_stamp(time.time() - within)
    with Session(engine) as s:
        rows = s.execute(
            select(Device.store, Device.id, Device.last_seq).where(Device.last_seen >= since)
        )
        return [(str(store), str(dev), int(seq)) for store, dev, seq in rows]
