"""Sales reports: totals per customer, assistant, region, store, product or day, over
what was ingested, as a table, CSV or JSON (`collector report sales`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table
from sqlalchemy import Engine, case, distinct, func, select
from sqlalchemy.orm import Session

from collector.errors import CollectorInput
from collector.models import Sale, SaleLine
from collector.terminal import as_text
from protocol.money import exponent, format_minor

DIMENSIONS = ("customer", "assistant", "region", "store", "product", "day")
FORMATS = ("table", "csv", "json")
NO_CUSTOMER = "(none)"


@dataclass(frozen=True)
class SalesRow:
    """One group: `sales` counts sales less refunds, `total` is minor units (refunds
    negative). For products, `total` is the line totals and `qty` the units."""

    group: str
    sales: int
    total: int
    qty: int | None = None


def parse_day(text: str | None, option: str) -> str | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise CollectorInput(f"{option} {text!r} is not a date (YYYY-MM-DD)") from exc


def sales_report(
    engine: Engine, by: str, *, start: str | None = None, end: str | None = None
) -> list[SalesRow]:
    """Totals per group of `by` over sales and refunds with `start <= day <= end`."""
    if by not in DIMENSIONS:
        raise CollectorInput(f"--by {by!r}: choose one of {', '.join(DIMENSIONS)}")
    # Amounts and quantities are signed in the records themselves (a refund's are
    # negative, as the till writes them); only the count of receipts needs a sign.
    sign = case((Sale.kind == "refund", -1), else_=1)
    signed_count = func.sum(sign)
    if by == "product":
        group: Any = SaleLine.sku
        query = select(
            group,
            func.count(distinct(case((Sale.kind == "sale", Sale.id))))
            - func.count(distinct(case((Sale.kind == "refund", Sale.id)))),
            func.sum(SaleLine.total),
            func.sum(SaleLine.qty),
        ).join(Sale, SaleLine.sale == Sale.id)
    else:
        group = {
            "customer": func.coalesce(Sale.account, NO_CUSTOMER),
            "assistant": Sale.staff,
            "region": Sale.region,
            "store": Sale.store,
            "day": Sale.day,
        }[by]
        query = select(group, signed_count, func.sum(Sale.total))
    query = query.where(Sale.kind.in_(("sale", "refund"))).group_by(group)
    if start:
        query = query.where(Sale.day >= start)
    if end:
        query = query.where(Sale.day <= end)
    with Session(engine) as session, session.begin():
        rows = session.execute(query).all()
    # Sorted here, not by the database: collations differ between SQLite and PostgreSQL.
    found = [
        SalesRow(str(r[0]), int(r[1]), int(r[2] or 0), int(r[3] or 0) if by == "product" else None)
        for r in rows
    ]
    return sorted(found, key=lambda row: row.group)


def currencies(engine: Engine) -> list[str]:
    with Session(engine) as session, session.begin():
        return list(session.scalars(select(Sale.currency).distinct()))


def render_sales(rows: Sequence[SalesRow], fmt: str, by: str, currency: list[str]) -> str:
    """The report as JSON, CSV or a rich table (money in major units when one currency)."""
    if fmt not in FORMATS:
        raise CollectorInput(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    dicts = [{k: v for k, v in asdict(r).items() if v is not None} for r in rows]
    if fmt == "json":
        return json.dumps(dicts, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        fields = ["group", "sales", "total"] + (["qty"] if by == "product" else [])
        writer = csv.DictWriter(out, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        return out.getvalue().rstrip("\n")
    exp = exponent(currency[0]) if len(currency) == 1 else 0
    unit = currency[0] if len(currency) == 1 else "minor units"
    table = Table(title=f"Sales by {by}")
    table.add_column(by)
    table.add_column("sales", justify="right")
    if by == "product":
        table.add_column("qty", justify="right")
    table.add_column(f"total ({unit})", justify="right")
    for r in rows:
        cells = [r.group, str(r.sales)] + ([str(r.qty)] if by == "product" else [])
        table.add_row(*cells, format_minor(r.total, exp))
    return as_text(table)
