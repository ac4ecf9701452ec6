"""The fleet: what the collector knows of each unit (state, last seen, version, outbox
depth, printer) from its status and telemetry (`collector fleet status`). Which devices
are enrolled is collector.enrolment's; rollouts will live here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.models import Device, Enrolment
from collector.terminal import as_text


@dataclass(frozen=True)
class FleetRow:
    """One device as the collector last heard of it. `last_seq` is of its journal chain
    `chain` (1 for its first key, one more after each `collector fleet rekey` that took a
    new one)."""

    device: str
    store: str
    region: str
    state: str
    last_seen: str
    version: str
    outbox_depth: int | None
    printer: str | None
    chain: int
    last_seq: int
    key_registered: bool


def fleet_status(engine: Engine) -> list[FleetRow]:
    """Every enrolled device the collector has heard of, by store and id."""
    with Session(engine) as session, session.begin():
        # Only enrolled devices are shown (collector.enrolment); a revoked one as revoked.
        rows = session.execute(
            select(Device, Enrolment.revoked_at)
            .join(Enrolment, Enrolment.device == Device.id)
            .order_by(Device.store, Device.id)
        ).all()
        return [
            FleetRow(
                d.id,
                d.store,
                d.region,
                "revoked" if revoked is not None else d.state,
                d.last_seen,
                d.version,
                d.outbox_depth,
                d.printer,
                d.chain,
                d.last_seq,
                d.public_key is not None,
            )
            for d, revoked in rows
        ]


def render_fleet(rows: Sequence[FleetRow], as_json: bool) -> str:
    """`collector fleet status`: a table, or JSON with every field."""
    if as_json:
        return json.dumps([asdict(r) for r in rows])
    table = Table(title="Fleet")
    columns = ("device", "store", "state", "last seen", "version", "outbox", "printer", "chain")
    for col in (*columns, "seq"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.device,
            r.store,
            r.state,
            r.last_seen,
            r.version,
            "" if r.outbox_depth is None else str(r.outbox_depth),
            r.printer or "",
            str(r.chain),
            str(r.last_seq),
        )
    return as_text(table)
