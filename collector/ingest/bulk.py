"""The ingest's bulk writes: a batch's sales, lines and tenders as three statements
straight to the driver (an executemany of SQLAlchemy's compiled INSERT on SQLite, COPY
on PostgreSQL), and the one-query lookup of which sales are stored already. ORM flushes
and Core's per-row parameter work were most of the ingest's CPU (docs/collector.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, String, Table, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from collector.models import Base, Sale, SaleLine, SaleTender
from protocol.limits import MAX_RECEIPT_NO, MAX_REGION, MAX_SKU, MAX_STAFF
from protocol.record import Record

if TYPE_CHECKING:
    import psycopg

SALES = Base.metadata.tables[Sale.__tablename__]
LINES = Base.metadata.tables[SaleLine.__tablename__]
TENDERS = Base.metadata.tables[SaleTender.__tablename__]
# Every text is cut to its column (protocol.limits): an older unit's longer value must not
# dead-letter a legal record (and stick its chain); the raw record keeps it whole.
_NAME = cast("String", LINES.c.name.type).length
_RATE = cast("String", LINES.c.tax_rate.type).length


def insert_sales(session: Session, taken: list[tuple[Record, bytes, int]], at: str) -> None:
    """Checked records (each with the payload it came in and the chain of its device it
    belongs to) as their sales, lines and tenders: three bulk writes straight to the
    driver (`_insert_many`)."""
    sale_rows = []
    for r, payload, chain in taken:
        sale_rows.append(
            (
                r.sale_id,
                r.device,
                chain,
                r.seq,
                r.kind,
                r.receipt_no[:MAX_RECEIPT_NO],
                r.store,
                r.region[:MAX_REGION],
                r.staff[:MAX_STAFF],
                r.ts,
                r.ts[:10],
                r.currency,
                r.total,
                r.loyalty.account if r.loyalty else None,
                r.refund_of,
                r.hash,
                # The record as the device sent it (decoded and checked), not
                # encoded again: it is JSON text already.
                payload.decode("utf-8"),
                at,
            )
        )
    # The rows, then their ids in one query: an INSERT … RETURNING of 256 rows is one
    # 4,000-parameter statement that psycopg re-parses every batch (docs/benchmarks.md,
    # "The figures behind the code"), and COPY returns nothing.
    _insert_many(session, SALES, _SALE_KEYS, sale_rows)
    wanted = [r.sale_id for r, _, _ in taken]
    found = stored_ids(session, wanted)
    sale_ids = [found[sale_id] for sale_id in wanted]
    lines = [
        (
            sale_id,
            n,
            li.sku[:MAX_SKU],
            li.name[:_NAME],
            li.qty,
            li.unit_price,
            li.discount,
            li.total,
            li.tax_rate[:_RATE],
        )
        for sale_id, (r, _, _) in zip(sale_ids, taken, strict=True)
        for n, li in enumerate(r.lines, 1)
    ]
    tenders = [
        (sale_id, t.type, t.amount)
        for sale_id, (r, _, _) in zip(sale_ids, taken, strict=True)
        for t in r.tenders
    ]
    if lines:
        _insert_many(session, LINES, _LINE_KEYS, lines)
    if tenders:
        _insert_many(session, TENDERS, _TENDER_KEYS, tenders)


def stored_ids(session: Session, sale_ids: list[str]) -> dict[str, int]:
    """The row id of each of `sale_ids` already in `sales`. On PostgreSQL one array
    parameter (`= ANY(%s)`): an `IN` of 256 bound values was rendered by SQLAlchemy and
    re-parsed by psycopg every batch, twice a batch (docs/benchmarks.md)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT sale_id, id FROM sales WHERE sale_id = ANY(%s)", (sale_ids,)
        )
    else:
        rows = conn.execute(
            select(SALES.c.sale_id, SALES.c.id).where(SALES.c.sale_id.in_(sale_ids))
        )
    return {str(sale_id): int(id_) for sale_id, id_ in rows}


_SALE_KEYS = (
    "sale_id",
    "device",
    "chain",
    "seq",
    "kind",
    "receipt_no",
    "store",
    "region",
    "staff",
    "ts",
    "day",
    "currency",
    "total",
    "account",
    "refund_of",
    "hash",
    "raw",
    "ingested_at",
)
_LINE_KEYS = (
    "sale",
    "line_no",
    "sku",
    "name",
    "qty",
    "unit_price",
    "discount",
    "total",
    "tax_rate",
)
_TENDER_KEYS = ("sale", "type", "amount")
# (dialect, table) -> the INSERT's SQL and how a row becomes its parameters
_INSERTS: dict[tuple[str, str], tuple[str, Callable[[tuple[Any, ...]], Any] | None]] = {}


def _insert_many(
    session: Session, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """`rows` (values in `keys` order, already in the driver's types: `raw` as JSON text)
    as one executemany of SQLAlchemy's INSERT compiled for this dialect, sent to the
    driver as it is: Core's executemany spent a quarter of the ingest building and
    processing each row's parameters (docs/benchmarks.md)."""
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy(conn, table, keys, rows)
        return
    cached = _INSERTS.get((dialect.name, table.name))
    if cached is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        convert: Callable[[tuple[Any, ...]], Any] | None
        if not compiled.positional:  # psycopg: %(name)s
            convert = lambda row: dict(zip(keys, row, strict=True))  # noqa: E731
        elif list(compiled.positiontup or ()) == list(keys):  # SQLite: ?, in our order
            convert = None
        else:
            order = [keys.index(k) for k in compiled.positiontup or ()]
            convert = lambda row: tuple(row[i] for i in order)  # noqa: E731
        cached = _INSERTS[(dialect.name, table.name)] = (str(compiled), convert)
    sql, convert = cached
    conn.exec_driver_sql(sql, rows if convert is None else [convert(row) for row in rows])


def _copy(
    conn: Connection, table: Table, keys: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """PostgreSQL: the rows through COPY … FROM STDIN, in the session's transaction.
    psycopg's executemany runs Python for every row even pipelined and prepared (five
    rows a sale: the sale, three lines, a tender), and the server plans each one; COPY
    is psycopg's C row writer and one bulk load (docs/benchmarks.md)."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(key) for key in keys)
    sql = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    raw = conn.connection.dbapi_connection
    dbapi = cast("psycopg.Connection[Any]", raw)
    error = conn.dialect.loaded_dbapi.Error
    try:
        with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except error as exc:
        # As SQLAlchemy would have raised it (DataError, OperationalError…): ingest sorts
        # a refused value from a lost database by those classes.
        lost = conn.dialect.is_disconnect(exc, raw, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, None, exc, error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
