"""Stock across outlets: one level per (store, SKU), moved by sales, refunds, deliveries
and counts, and sent to the store's units (`cmd/stock`) after each change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from collector.errors import CollectorInput
from collector.models import Base, Stock, StockMove
from collector.outgoing import Outgoing
from collector.upsert import upsert_insert
from protocol.limits import MAX_SKU, MAX_STOCK
from protocol.messages import Command, StockArgs, StockLevel, encode, store_cmd_topic
from protocol.record import Record
from protocol.timestamps import utc_stamp

Key = tuple[str, str]  # (store, sku)
MOVES = Base.metadata.tables[StockMove.__tablename__]
UPSERT_ROWS = 1000  # levels per upsert statement (SQLite allows 32,766 parameters)


def apply_moves(session: Session, moves: list[dict[str, Any]]) -> None:
    """Record the moves (`stock_moves` rows as dicts) and add them to the levels: one
    multi-row upsert in (store, sku) order, so concurrent collectors take the row locks in
    the same order and cannot deadlock."""
    if not moves:
        return
    session.execute(insert(MOVES), moves)
    deltas: dict[Key, int] = {}
    for move in moves:
        key = (move["store"], move["sku"])
        deltas[key] = deltas.get(key, 0) + move["delta"]
    rows = [
        {"store": store, "sku": sku, "level": delta, "version": 1, "published_version": 0}
        for (store, sku), delta in sorted(deltas.items())
    ]
    for i in range(0, len(rows), UPSERT_ROWS):
        ins = upsert_insert(session, Stock).values(rows[i : i + UPSERT_ROWS])
        session.execute(
            ins.on_conflict_do_update(
                index_elements=["store", "sku"],
                set_={"level": Stock.level + ins.excluded.level, "version": Stock.version + 1},
            )
        )


def stock_moves(session: Session, records: Iterable[Record], at: str) -> bool:
    """A batch's sales lower each line's SKU by its quantity; refunds put it back (their
    quantities are negative in the record, as the till writes them). One move per (store,
    sku, reason) per batch, without a `ref`: the sale lines say which sale took what, and
    a row per line was a third of the rows the ingest wrote. True when a level moved."""
    summed: dict[tuple[str, str, str], int] = {}
    for record in records:
        kind = record.kind
        if kind not in ("sale", "refund"):
            continue
        for line in record.lines:
            key = (record.store, line.sku[:MAX_SKU], kind)  # cut to the column, as the lines
            summed[key] = summed.get(key, 0) - line.qty
    moves = [
        {"store": store, "sku": sku, "delta": delta, "reason": reason, "ref": None, "at": at}
        for (store, sku, reason), delta in summed.items()
    ]
    apply_moves(session, moves)
    return bool(moves)


def check_move(store: str, sku: str, qty: int, kind: str) -> None:
    """CollectorInput unless this is a sensible delivery (`receive`) or count."""
    if not store or len(store) > 32 or not sku or len(sku) > MAX_SKU:
        raise CollectorInput(f"store {store!r} or sku {sku!r} is empty or too long")
    if kind == "receive" and qty <= 0:
        raise CollectorInput(f"--qty {qty}: a delivery adds a positive quantity")
    if kind == "count" and qty < 0:
        raise CollectorInput(f"--qty {qty}: a count cannot be negative")
    if qty > MAX_STOCK:
        # The units refuse a level beyond it (protocol.limits): it would never reach them.
        raise CollectorInput(f"--qty {qty}: beyond {MAX_STOCK:,}, the most a level may count")


def receive(engine: Engine, store: str, sku: str, qty: int) -> int:
    """A delivery: raise the level by `qty`; returns the new level."""
    check_move(store, sku, qty, "receive")
    with Session(engine) as session, session.begin():
        apply_moves(session, [_move(store, sku, qty, "receive")])
        return int(session.scalars(select(Stock.level).filter_by(store=store, sku=sku)).one())


def count(engine: Engine, store: str, sku: str, level: int) -> int:
    """A stock count: the counted level replaces the book level (the move is the difference)."""
    check_move(store, sku, level, "count")
    with Session(engine) as session, session.begin():
        row = session.execute(
            select(Stock).filter_by(store=store, sku=sku).with_for_update()
        ).scalar_one_or_none()
        delta = level - (row.level if row else 0)
        apply_moves(session, [_move(store, sku, delta, "count")])
        return level


def _move(store: str, sku: str, delta: int, reason: str) -> dict[str, Any]:
    return {
        "store": store,
        "sku": sku,
        "delta": delta,
        "reason": reason,
        "ref": None,
        "at": utc_stamp(),
    }


@dataclass(frozen=True)
class LevelRow:
    store: str
    sku: str
    level: int


def levels(engine: Engine, *, below: int | None = None, store: str | None = None) -> list[LevelRow]:
    """Levels ordered by store and SKU; only those under `below` when it is given."""
    query = select(Stock.store, Stock.sku, Stock.level).order_by(Stock.store, Stock.sku)
    if below is not None:
        query = query.where(Stock.level < below)
    if store is not None:
        query = query.where(Stock.store == store)
    with Session(engine) as session, session.begin():
        return [LevelRow(s, k, int(v)) for s, k, v in session.execute(query)]


@dataclass(frozen=True)
class StockUpdate:
    """Levels to send, and the versions to mark as sent once they are out."""

    messages: list[Outgoing]
    versions: list[tuple[str, str, int]]


def pending_updates(engine: Engine) -> StockUpdate:
    """`cmd/stock` for every store whose levels changed since they were last sent."""
    with Session(engine) as session, session.begin():
        rows = session.execute(
            select(Stock.store, Stock.sku, Stock.level, Stock.version)
            .where(Stock.version > Stock.published_version)
            .order_by(Stock.store, Stock.sku)
        ).all()
    by_store: dict[str, list[StockLevel]] = {}
    for store, sku, level, _ in rows:
        by_store.setdefault(store, []).append(StockLevel(sku=sku, stock=int(level)))
    messages = [
        Outgoing(
            store_cmd_topic(store, "stock"),
            encode(Command(corr=uuid.uuid4().hex, args=_args(StockArgs(levels=found)))),
        )
        for store, found in by_store.items()
    ]
    return StockUpdate(messages, [(s, k, int(v)) for s, k, _, v in rows])


def _args(args: StockArgs) -> dict[str, Any]:
    return {"levels": [{"sku": lv.sku, "stock": lv.stock} for lv in args.levels]}


def mark_sent(engine: Engine, versions: Iterable[tuple[str, str, int]]) -> None:
    """Levels at these versions are out; a newer change (higher version) still goes."""
    with Session(engine) as session, session.begin():
        for store, sku, version in versions:
            session.execute(
                update(Stock)
                .where(Stock.store == store, Stock.sku == sku, Stock.published_version < version)
                .values(published_version=version)
            )
