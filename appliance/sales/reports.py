"""Shift figures (X report while the shift runs, Z report in its `shift_close` record).

The report's shape is the protocol's (`protocol.record.ShiftReport`), because the Z
report travels inside a journal record; `format_report` lays it out for a 42-column
receipt printer.
"""

from __future__ import annotations

from collections.abc import Iterable

from appliance.sales.pricing import sort_rates
from protocol.money import format_minor
from protocol.record import (
    NoSaleNote,
    PointsTotals,
    Record,
    ShiftReport,
    StaffTotals,
    TaxRow,
    TenderTotals,
)

WIDTH = 42
_TENDER_ORDER = ("cash", "card", "points")


def _rounding(record: Record) -> int:
    if record.rounding is not None:
        return record.rounding
    return sum(t.amount for t in record.tenders) - record.total


def shift_report(records: Iterable[Record], exponent: int) -> ShiftReport:
    """The figures of a shift from its journal records (sales, refunds, no-sales), in one
    pass: the journal streams them, so a long shift is never all in memory at once (a
    list of 1,000 decoded sales held 6 MB, and the unit kept that RSS after the close)."""
    counted = sales = refunds = gross = refunded = discounts = rounding = 0
    earned = redeemed = 0
    tax: dict[str, list[int]] = {}
    tenders: dict[str, list[int]] = {}  # type -> [taken, refunded]
    staff: dict[str, list[int]] = {}  # staff -> [sales, refunds, total]
    no_sales: list[NoSaleNote] = []
    first_receipt: str | None = None
    last_receipt: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    currency: str | None = None
    for r in records:
        counted += 1
        if r.receipt_no:
            first_receipt = first_receipt or r.receipt_no
            last_receipt = r.receipt_no
        if r.ts:
            first_ts = r.ts if first_ts is None else min(first_ts, r.ts)
            last_ts = r.ts if last_ts is None else max(last_ts, r.ts)
        currency = currency or r.currency or None
        if r.kind == "no_sale":
            no_sales.append(
                NoSaleNote(staff=r.staff, ts=r.ts, reason=r.reason or "", receipt_no=r.receipt_no)
            )
            continue
        if r.kind not in ("sale", "refund"):
            continue
        refund = r.kind == "refund"
        if refund:
            refunds += 1
            refunded += r.total
        else:
            sales += 1
            gross += r.total
        discounts += sum(li.discount for li in r.lines)
        rounding += _rounding(r)
        for row in r.tax:
            acc = tax.setdefault(row.rate, [0, 0])
            acc[0] += row.base
            acc[1] += row.tax
        for t in r.tenders:
            tenders.setdefault(t.type, [0, 0])[1 if refund else 0] += t.amount
        who = staff.setdefault(r.staff, [0, 0, 0])
        who[1 if refund else 0] += 1
        who[2] += r.total
        if r.loyalty is not None:
            earned += r.loyalty.earned
            redeemed += r.loyalty.redeemed
    cash = tenders.get("cash", [0, 0])
    types = sorted(tenders, key=lambda t: (*_TENDER_ORDER, t).index(t))
    return ShiftReport(
        exponent=exponent,
        currency=currency,
        records=counted,
        from_=first_ts,
        to=last_ts,
        first_receipt_no=first_receipt,
        last_receipt_no=last_receipt,
        sales=sales,
        refunds=refunds,
        gross_sales=gross,
        refunded=refunded,
        net=gross + refunded,
        discounts=discounts,
        rounding=rounding,
        tax=[TaxRow(rate=rate, base=tax[rate][0], tax=tax[rate][1]) for rate in sort_rates(tax)],
        tenders=[
            TenderTotals(type=t, taken=tenders[t][0], refunded=tenders[t][1], net=sum(tenders[t]))
            for t in types
        ],
        # Tender amounts are already net of change: what stayed in the drawer.
        expected_cash=sum(cash),
        no_sales=len(no_sales),
        no_sale_reasons=no_sales,
        staff=[
            StaffTotals(staff=s, sales=v[0], refunds=v[1], total=v[2])
            for s, v in sorted(staff.items())
        ],
        loyalty=PointsTotals(earned=earned, redeemed=redeemed),
    )


def _row(label: str, value: str) -> str:
    room = WIDTH - len(value) - 1
    return f"{label[:room]:<{room}} {value}"


def _cols(cells: Iterable[str], widths: tuple[int, ...]) -> str:
    first, *rest = list(cells)
    out = f"{first[: widths[0]]:<{widths[0]}}"
    out += "".join(f"{c:>{w}}" for c, w in zip(rest, widths[1:], strict=True))
    return out[:WIDTH]


def format_report(report: ShiftReport, title: str, exponent: int) -> str:
    """The report as 42-column text for the receipt printer and the screen."""

    def m(amount: int) -> str:
        return format_minor(amount, exponent)

    rule, thin = "=" * WIDTH, "-" * WIDTH
    out = [rule, title[:WIDTH].center(WIDTH).rstrip(), rule]
    if report.currency:
        out.append(_row("Currency", report.currency))
    out += [_row("From", _when(report.from_)), _row("To", _when(report.to))]
    if report.first_receipt_no:
        out += [
            _row("First receipt", report.first_receipt_no),
            _row("Last receipt", report.last_receipt_no or ""),
        ]
    out += [
        thin,
        _cols(["Sales", str(report.sales), m(report.gross_sales)], (20, 6, 16)),
        _cols(["Refunds", str(report.refunds), m(report.refunded)], (20, 6, 16)),
        _row("Net", m(report.net)),
        _row("Discounts (net of refunds)", m(report.discounts)),
        _row("Cash rounding", m(report.rounding)),
        thin,
        _cols(["TAX", "base", "tax"], (10, 16, 16)),
    ]
    for row in report.tax:
        out.append(_cols([f"{row.rate}%", m(row.base), m(row.tax)], (10, 16, 16)))
    out += [thin, _cols(["TENDER", "taken", "refunded", "net"], (9, 11, 11, 11))]
    for t in report.tenders:
        out.append(_cols([t.type, m(t.taken), m(t.refunded), m(t.net)], (9, 11, 11, 11)))
    out += [thin, _row("Expected cash in drawer", m(report.expected_cash))]
    out.append(_row("No sales", str(report.no_sales)))
    for ns in report.no_sale_reasons:
        out.append(f"  {ns.staff} {_when(ns.ts)[11:16]} {ns.reason}"[:WIDTH])
    if report.loyalty.earned or report.loyalty.redeemed:
        out += [
            _row("Points earned", str(report.loyalty.earned)),
            _row("Points redeemed", str(report.loyalty.redeemed)),
        ]
    out += [thin, _cols(["STAFF", "sales", "refunds", "total"], (12, 7, 8, 15))]
    for s in report.staff:
        out.append(_cols([s.staff, str(s.sales), str(s.refunds), m(s.total)], (12, 7, 8, 15)))
    out.append(rule)
    return "\n".join(out) + "\n"


def _when(ts: str | None) -> str:
    # "2026-11-23T10:00:00.123Z" -> "2026-11-23 10:00:00" (UTC, as recorded)
    return "-" if not ts else ts[:19].replace("T", " ")
