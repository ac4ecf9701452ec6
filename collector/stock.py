"""Stock across outlets: one level per (store, SKU), moved by sales, refunds, deliveries
and counts, and sent to the store's units (`cmd/stock`) after each change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from appliance.mqtt.messages import Command, StockArgs, StockLevel, encode, store_cmd_topic
from collector.db import now
from collector.errors import CollectorInput
from collector.models import Stock, StockMove

Key = tuple[str, str]  # (store, sku)


@dataclass(frozen=True)
class Outgoing:
    """A message to publish once the transaction that decided it has committed."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def upsert_insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT that can say ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def apply_moves(session: Session, moves: Iterable[StockMove]) -> None:
    """Record the moves and add them to the levels, in (store, sku) order so concurrent
    collectors take the row locks in the same order and cannot deadlock."""
    deltas: dict[Key, int] = {}
    for move in moves:
        session.add(move)
        deltas[(move.store, move.sku)] = deltas.get((move.store, move.sku), 0) + move.delta
    for (store, sku), delta in sorted(deltas.items()):
        ins = upsert_insert(session, Stock).values(
            store=store, sku=sku, level=delta, version=1, published_version=0
        )
        session.execute(
            ins.on_conflict_do_update(
                index_elements=["store", "sku"],
                set_={"level": Stock.level + delta, "version": Stock.version + 1},
            )
        )


def check_move(store: str, sku: str, qty: int, kind: str) -> None:
    """CollectorInput unless this is a sensible delivery (`receive`) or count."""
    if not store or len(store) > 32 or not sku or len(sku) > 64:
        raise CollectorInput(f"store {store!r} or sku {sku!r} is empty or too long")
    if kind == "receive" and qty <= 0:
        raise CollectorInput(f"--qty {qty}: a delivery adds a positive quantity")
    if kind == "count" and qty < 0:
        raise CollectorInput(f"--qty {qty}: a count cannot be negative")


def receive(engine: Engine, store: str, sku: str, qty: int) -> int:
    """A delivery: raise the level by `qty`; returns the new level."""
    check_move(store, sku, qty, "receive")
    with Session(engine) as session, session.begin():
        move = StockMove(store=store, sku=sku, delta=qty, reason="receive", at=now())
        apply_moves(session, [move])
        return int(session.scalars(select(Stock.level).filter_by(store=store, sku=sku)).one())


def count(engine: Engine, store: str, sku: str, level: int) -> int:
    """A stock count: the counted level replaces the book level (the move is the difference)."""
    check_move(store, sku, level, "count")
    with Session(engine) as session, session.begin():
        row = session.execute(
            select(Stock).filter_by(store=store, sku=sku).with_for_update()
        ).scalar_one_or_none()
        delta = level - (row.level if row else 0)
        move = StockMove(store=store, sku=sku, delta=delta, reason="count", at=now())
        apply_moves(session, [move])
        return level


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


def moves_for_record(record: Mapping[str, Any], at: str) -> list[StockMove]:
    """A sale lowers each line's SKU by its quantity; a refund puts it back (its
    quantities are negative in the record, as the till writes them)."""
    if record.get("kind") not in ("sale", "refund"):
        return []
    return [
        StockMove(
            store=record["store"],
            sku=line["sku"],
            delta=-int(line["qty"]),
            reason=record["kind"],
            ref=record["sale_id"],
            at=at,
        )
        for line in record["lines"]
    ]
