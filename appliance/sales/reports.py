"""Shift figures (X report while the shift runs, Z report in its `shift_close` record).

The report is a plain JSON-able dict, because the Z report travels inside a journal
record; `format_report` lays it out for a 42-column receipt printer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from appliance.sales.money import format_minor
from appliance.sales.pricing import sort_rates

WIDTH = 42
_TENDER_ORDER = ("cash", "card", "points")


def _rounding(record: dict[str, Any]) -> int:
    if "rounding" in record:
        return int(record["rounding"])
    return sum(int(t["amount"]) for t in record["tenders"]) - int(record["total"])


def shift_report(records: list[dict[str, Any]], exponent: int) -> dict[str, Any]:
    """The figures of a shift from its journal records (sales, refunds, no-sales)."""
    sales = [r for r in records if r.get("kind") == "sale"]
    refunds = [r for r in records if r.get("kind") == "refund"]
    no_sales = [r for r in records if r.get("kind") == "no_sale"]
    trading = sales + refunds
    tax: dict[str, list[int]] = {}
    tenders: dict[str, dict[str, int]] = {}
    staff: dict[str, dict[str, Any]] = {}
    earned = redeemed = 0
    for r in trading:
        refund = r["kind"] == "refund"
        for row in r["tax"]:
            acc = tax.setdefault(row["rate"], [0, 0])
            acc[0] += int(row["base"])
            acc[1] += int(row["tax"])
        for t in r["tenders"]:
            acc_t = tenders.setdefault(t["type"], {"taken": 0, "refunded": 0})
            acc_t["refunded" if refund else "taken"] += int(t["amount"])
        who = staff.setdefault(
            r["staff"], {"staff": r["staff"], "sales": 0, "refunds": 0, "total": 0}
        )
        who["refunds" if refund else "sales"] += 1
        who["total"] += int(r["total"])
        if r.get("loyalty"):
            earned += int(r["loyalty"].get("earned") or 0)
            redeemed += int(r["loyalty"].get("redeemed") or 0)
    receipts = [r["receipt_no"] for r in records if r.get("receipt_no")]
    stamps = [r["ts"] for r in records if r.get("ts")]
    gross = sum(int(r["total"]) for r in sales)
    refunded = sum(int(r["total"]) for r in refunds)
    cash = tenders.get("cash", {"taken": 0, "refunded": 0})
    types = sorted(tenders, key=lambda t: (*_TENDER_ORDER, t).index(t))
    return {
        "exponent": exponent,
        "currency": next((r["currency"] for r in records if r.get("currency")), None),
        "records": len(records),
        "from": min(stamps, default=None),
        "to": max(stamps, default=None),
        "first_receipt_no": receipts[0] if receipts else None,
        "last_receipt_no": receipts[-1] if receipts else None,
        "sales": len(sales),
        "refunds": len(refunds),
        "gross_sales": gross,
        "refunded": refunded,
        "net": gross + refunded,
        "discounts": sum(int(li["discount"]) for r in trading for li in r["lines"]),
        "rounding": sum(_rounding(r) for r in trading),
        "tax": [
            {"rate": rate, "base": tax[rate][0], "tax": tax[rate][1]} for rate in sort_rates(tax)
        ],
        "tenders": [
            {"type": t, **tenders[t], "net": tenders[t]["taken"] + tenders[t]["refunded"]}
            for t in types
        ],
        # Tender amounts are already net of change: what stayed in the drawer.
        "expected_cash": cash["taken"] + cash["refunded"],
        "no_sales": len(no_sales),
        "no_sale_reasons": [
            {
                "staff": r["staff"],
                "ts": r.get("ts"),
                "reason": r.get("reason", ""),
                "receipt_no": r.get("receipt_no"),
            }
            for r in no_sales
        ],
        "staff": [staff[s] for s in sorted(staff)],
        "loyalty": {"earned": earned, "redeemed": redeemed},
    }


def _row(label: str, value: str) -> str:
    room = WIDTH - len(value) - 1
    return f"{label[:room]:<{room}} {value}"


def _cols(cells: Iterable[str], widths: tuple[int, ...]) -> str:
    first, *rest = list(cells)
    out = f"{first[: widths[0]]:<{widths[0]}}"
    out += "".join(f"{c:>{w}}" for c, w in zip(rest, widths[1:], strict=True))
    return out[:WIDTH]


def format_report(report: dict[str, Any], title: str, exponent: int) -> str:
    """The report as 42-column text for the receipt printer and the screen."""

    def m(amount: int) -> str:
        return format_minor(int(amount), exponent)

    rule, thin = "=" * WIDTH, "-" * WIDTH
    out = [rule, title[:WIDTH].center(WIDTH).rstrip(), rule]
    if report.get("currency"):
        out.append(_row("Currency", str(report["currency"])))
    out += [_row("From", _when(report.get("from"))), _row("To", _when(report.get("to")))]
    if report.get("first_receipt_no"):
        out += [
            _row("First receipt", report["first_receipt_no"]),
            _row("Last receipt", report["last_receipt_no"]),
        ]
    out += [
        thin,
        _cols(["Sales", str(report["sales"]), m(report["gross_sales"])], (20, 6, 16)),
        _cols(["Refunds", str(report["refunds"]), m(report["refunded"])], (20, 6, 16)),
        _row("Net", m(report["net"])),
        _row("Discounts (net of refunds)", m(report["discounts"])),
        _row("Cash rounding", m(report["rounding"])),
        thin,
        _cols(["TAX", "base", "tax"], (10, 16, 16)),
    ]
    for row in report["tax"]:
        out.append(_cols([f"{row['rate']}%", m(row["base"]), m(row["tax"])], (10, 16, 16)))
    out += [thin, _cols(["TENDER", "taken", "refunded", "net"], (9, 11, 11, 11))]
    for t in report["tenders"]:
        out.append(
            _cols([t["type"], m(t["taken"]), m(t["refunded"]), m(t["net"])], (9, 11, 11, 11))
        )
    out += [thin, _row("Expected cash in drawer", m(report["expected_cash"]))]
    out.append(_row("No sales", str(report["no_sales"])))
    for ns in report["no_sale_reasons"]:
        out.append(f"  {ns['staff']} {_when(ns.get('ts'))[11:16]} {ns['reason']}"[:WIDTH])
    loyalty = report.get("loyalty") or {}
    if loyalty.get("earned") or loyalty.get("redeemed"):
        out += [
            _row("Points earned", str(loyalty["earned"])),
            _row("Points redeemed", str(loyalty["redeemed"])),
        ]
    out += [thin, _cols(["STAFF", "sales", "refunds", "total"], (12, 7, 8, 15))]
    for s in report["staff"]:
        out.append(
            _cols([s["staff"], str(s["sales"]), str(s["refunds"]), m(s["total"])], (12, 7, 8, 15))
        )
    out.append(rule)
    return "\n".join(out) + "\n"


def _when(ts: str | None) -> str:
    # "2026-11-23T10:00:00.123Z" -> "2026-11-23 10:00:00" (UTC, as recorded)
    return "-" if not ts else ts[:19].replace("T", " ")
