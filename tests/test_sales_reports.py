"""X/Z shift figures from journal records, and their 42-column print layout."""

from __future__ import annotations

import json

import msgspec
from msgspec import to_builtins

from appliance.sales.reports import format_report, shift_report
from appliance.sales.till import Till
from protocol.record import Draft, Record, ShiftReport
from tests.records import record_of
from tests.test_sales_till import make_till


def _commit(records: list[Record], draft: Draft | None) -> Record:
    # What the store adds, enough for a report: a receipt number in order.
    assert draft is not None
    record = record_of(draft, len(records) + 1)
    records.append(record)
    return record


def _row(label: str, value: str) -> str:
    return label + " " * (42 - len(label) - len(value)) + value


def _shift() -> tuple[Till, list[Record]]:
    till = make_till()
    records: list[Record] = []
    till.login("ana")
    till.key("A1")  # 1.45 at 20 %
    till.key("B1", 2)  # 2.40 at 5.5 %
    _commit(records, till.tender("cash", 500))  # 3.85, change 1.15
    till.key("W1")  # 7.99 at 0 %
    till.discount_line(10)  # -0.80
    till.attach_loyalty("00000001", 100, False)
    till.redeem(50)
    till.tender("cash", 200)
    sale2 = _commit(records, till.tender("card", ref="T1"))  # 7.19: 0.50 points, 2, 4.69 card
    till.logout()
    till.login("ben")
    _commit(records, till.refund(sale2, [1], set()))
    _commit(records, till.no_sale("change for the bakery"))
    return till, records


def test_shift_report_figures() -> None:
    _, records = _shift()
    report = shift_report(records, 2)
    assert report.sales == 2 and report.refunds == 1 and report.no_sales == 1
    assert report.gross_sales == 385 + 719
    assert report.refunded == -719
    assert report.net == 385
    assert report.discounts == 80 - 80
    assert report.first_receipt_no == "s001-till-01-000001"
    assert report.last_receipt_no == "s001-till-01-000004"
    assert to_builtins(report.tax) == [
        {"rate": "0", "base": 0, "tax": 0},
        {"rate": "5.5", "base": 227, "tax": 13},
        {"rate": "20", "base": 121, "tax": 24},
    ]
    # the refund of 7.19: 0.50 points back, 4.69 to the card, 2.00 in cash
    assert to_builtins(report.tenders) == [
        {"type": "cash", "taken": 385 + 200, "refunded": -200, "net": 385},
        {"type": "card", "taken": 469, "refunded": -469, "net": 0},
        {"type": "points", "taken": 50, "refunded": -50, "net": 0},
    ]
    assert report.expected_cash == 385  # 5.00 handed over less 1.15 change, etc.
    assert to_builtins(report.no_sale_reasons) == [
        {"staff": "ben", "ts": "2026-11-23T10:00:00.123Z", "reason": "change for the bakery",
         "receipt_no": "s001-till-01-000004"}
    ]  # fmt: skip
    assert to_builtins(report.staff) == [
        {"staff": "ana", "sales": 2, "refunds": 0, "total": 385 + 719},
        {"staff": "ben", "sales": 0, "refunds": 1, "total": -719},
    ]
    assert to_builtins(report.loyalty) == {"earned": 4 - 4, "redeemed": 50 - 50}
    # It travels inside a journal record: its JSON reads back as the same report.
    assert msgspec.json.decode(msgspec.json.encode(report), type=ShiftReport) == report
    assert json.loads(msgspec.json.encode(report))["from"] == report.from_


def test_empty_shift() -> None:
    report = shift_report([], 2)
    assert report.sales == 0 and report.expected_cash == 0 and to_builtins(report.tenders) == []
    assert report.first_receipt_no is None
    text = format_report(report, "X REPORT", 2)
    assert "X REPORT" in text and all(len(line) <= 42 for line in text.splitlines())


def test_format_report_fits_42_columns_and_shows_the_figures() -> None:
    _, records = _shift()
    reason = "a very long reason that will not fit on one printed line at all"
    records[-1] = msgspec.structs.replace(records[-1], reason=reason)
    text = format_report(shift_report(records, 2), "Z REPORT", 2)
    lines = text.splitlines()
    assert all(len(line) <= 42 for line in lines), [li for li in lines if len(li) > 42]
    assert lines[1].strip() == "Z REPORT"
    assert _row("Expected cash in drawer", "3.85") in lines
    assert _row("Net", "3.85") in lines
    assert any(line.startswith("5.5%") and line.endswith("0.13") for line in lines)
    assert any(line.startswith("ana") and line.endswith("11.04") for line in lines)
    assert any(line.startswith("  ben 10:00 a very long reason") for line in lines)


def test_zero_exponent_currency() -> None:
    report = msgspec.structs.replace(shift_report([], 0), expected_cash=1500)
    assert _row("Expected cash in drawer", "1500") in format_report(report, "X", 0)


def test_z_report_in_shift_close_matches_x_report() -> None:
    till, records = _shift()
    till.login("marie")
    close = till.shift_close(records)
    assert close.report == shift_report(records, 2)
