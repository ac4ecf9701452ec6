"""Receipts from journal records: the text, the ESC/POS bytes (code pages) and the PNG."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from appliance.receipt import escpos, png
from appliance.receipt.layout import (
    Receipt,
    ReceiptError,
    ReceiptHeader,
    format_money,
    mask_account,
    row_lines,
)
from appliance.sales.reports import format_report, shift_report
from protocol.record import Record, convert, plain
from protocol.text import printable

HEADER = ReceiptHeader(
    store_name="Épicerie Müller",
    address=["Hauptstraße 1", "10115 Berlin"],
    tax_id="DE123456789",
    footer=["Danke für Ihren Einkauf!", "Returns within 30 days"],
)

# escpos code page slot names -> Python codecs, written out independently of escpos.
CODECS = {
    "CP437": "cp437",
    "CP850": "cp850",
    "CP852": "cp852",
    "CP857": "cp857",
    "CP858": "cp858",
    "CP1250": "cp1250",
    "CP1252": "cp1252",
    "ISO_8859-2": "iso8859_2",
    "ISO_8859-7": "iso8859_7",
    "ISO_8859-15": "iso8859_15",
}


def sale_dict(seq: int = 42, **changes: Any) -> dict[str, Any]:
    """A CONTRACT journal record: two tax rates, a line discount, points and cash, loyalty."""
    record: dict[str, Any] = {
        "schema": 1,
        "seq": seq,
        "sale_id": f"sale-{seq}",
        "kind": "sale",
        "receipt_no": f"s001-till-01-{seq:06d}",
        "device": "till-01",
        "store": "s001",
        "region": "north",
        "staff": "ana",
        "ts": "2026-11-23T10:00:00.123Z",
        "currency": "EUR",
        "lines": [
            {
                "sku": "A1",
                "barcode": "4006381333931",
                "name": "Crème brûlée",
                "qty": 2,
                "unit_price": 450,
                "discount": 90,
                "total": 810,
                "tax_rate": "5.5",
            },
            {
                "sku": "B2",
                "barcode": "4012345678901",
                "name": "Müller Milch Banane",
                "qty": 1,
                "unit_price": 1299,
                "discount": 0,
                "total": 1299,
                "tax_rate": "20",
            },
        ],
        "total": 2109,
        "tax": [
            {"rate": "5.5", "base": 810, "tax": 42},
            {"rate": "20", "base": 1299, "tax": 217},
        ],
        "tenders": [
            {"type": "points", "amount": 150, "points": 150},
            {"type": "card", "amount": 959, "ref": "VISA-4421"},
            {"type": "cash", "amount": 1000},  # what stayed in the drawer
        ],
        "change": 100,  # handed 11.00 in cash
        "rounding": 0,
        "loyalty": {
            "account": "00001234",
            "earned": 19,
            "redeemed": 150,
            "balance": 2048,
            "offline": False,
        },
        "refund_of": None,
        "prev_hash": "0" * 64,
        "hash": "ab" * 32,
        "sig": "cd" * 64,
    }
    record.update(changes)
    return record


def sale_record(seq: int = 42, **changes: Any) -> Record:
    return convert(sale_dict(seq, **changes), Record)


def decode_escpos(data: bytes, profile: str = "default") -> str:
    """Decode printer bytes as the printer would: each ESC t n switches the code page."""
    from escpos.capabilities import get_profile

    slots = {int(n): name for name, n in get_profile(profile).get_code_pages().items()}
    parts = re.split(rb"\x1bt(.)", data, flags=re.S)
    text = parts[0].decode("cp437", errors="replace")  # the power-on page
    for n, segment in zip(parts[1::2], parts[2::2], strict=True):
        text += segment.decode(CODECS[slots[n[0]]], errors="replace")
    return text


def test_sale_text_has_every_line() -> None:
    text = Receipt.from_record(sale_record(), HEADER, 2).to_text()
    lines = text.splitlines()
    assert all(len(line) <= 42 for line in lines)
    for expected in [
        "Épicerie Müller",
        "Hauptstraße 1",
        "Tax ID DE123456789",
        "s001-till-01-000042",
        "2026-11-23 10:00:00 UTC",
        "ana",
        "Crème brûlée",
        "2 × 4.50",
        "Müller Milch Banane",
        "1 × 12.99",
        "Danke für Ihren Einkauf!",
        "[s001-till-01-000042]",
    ]:
        assert expected in text, expected

    def row(left: str, right: str) -> None:
        assert any(ln.startswith(left) and ln.endswith(right) for ln in lines), (left, right)

    row("Crème brûlée", "8.10")
    row("  discount", "-0.90")
    row("Müller Milch Banane", "12.99")
    row("Subtotal", "21.99")
    row("Discounts", "-0.90")
    row("TOTAL", "€21.09")
    row("Tax 5.5% on 8.10", "0.42")
    row("Tax 20% on 12.99", "2.17")
    row("Points (150)", "€1.50")
    row("Card VISA-4421", "€9.59")
    row("Cash", "€11.00")
    row("Change", "€1.00")
    row("Loyalty card", "****1234")
    row("Points earned", "19")
    row("Points redeemed", "150")
    row("Points balance", "2048")
    assert "00001234" not in text
    assert "offline" not in text
    assert "COPY" not in text


def test_offline_loyalty_says_points_come_later() -> None:
    loyalty = {"account": "00000001", "earned": 5, "redeemed": 0, "balance": None, "offline": True}
    text = Receipt.from_record(sale_record(loyalty=loyalty), HEADER, 2).to_text()
    assert "offline — points will be added when online" in text
    assert re.search(r"Points balance +-$", text, re.M)


def test_reprint_is_marked_copy_at_top_and_bottom() -> None:
    lines = Receipt.from_record(sale_record(), HEADER, 2, copy=True).to_text().splitlines()
    assert lines[0].strip() == "COPY"
    assert lines[-1].strip() == "COPY"


def test_refund_no_sale_and_z_report_titles() -> None:
    refund = sale_record(
        43,
        kind="refund",
        lines=[{**sale_dict()["lines"][0], "total": -810, "discount": -90, "qty": -2}],
        total=-810,
        tax=[{"rate": "5.5", "base": -810, "tax": -42}],
        tenders=[{"type": "cash", "amount": -810}],
        change=0,
        loyalty=None,
        refund_of="sale-42",
        original_receipt_no="s001-till-01-000042",
        refund_lines=[1],
        reason="damaged",
        approved_by="sam",
    )
    text = Receipt.from_record(refund, HEADER, 2).to_text()
    assert "REFUND" in text
    assert re.search(r"^TOTAL +-€8\.10$", text, re.M)
    assert re.search(r"^Refund of +s001-till-01-000042$", text, re.M)
    assert re.search(r"^Reason +damaged$", text, re.M)
    assert re.search(r"^Approved by +sam$", text, re.M)
    assert re.search(r"^Cash +-€8\.10$", text, re.M)

    no_sale = sale_record(
        44,
        kind="no_sale",
        lines=[],
        total=0,
        tax=[],
        tenders=[],
        change=0,
        loyalty=None,
        reason="change for the float",
    )
    text = Receipt.from_record(no_sale, HEADER, 2).to_text()
    assert "NO SALE" in text and "change for the float" in text
    assert "TOTAL" not in text


def test_z_report_uses_the_shift_report_layout() -> None:
    refund = sale_record(
        2,
        kind="refund",
        total=-810,
        tenders=[],
        lines=[],
        tax=[{"rate": "5.5", "base": -810, "tax": -42}],
        change=0,
    )
    report = shift_report([sale_record(1), refund], 2)
    z = sale_record(3, kind="shift_close", lines=[], tenders=[], tax=[], report=plain(report))
    text = Receipt.from_record(z, HEADER, 2).to_text()
    assert text.count("Z REPORT") == 1
    assert format_report(report, "Z REPORT", 2) in text
    assert "[s001-till-01-000003]" in text
    assert all(len(line) <= 42 for line in text.splitlines())


def test_money_and_layout_pieces() -> None:
    assert format_money(1250, 2, "EUR") == "€12.50"
    assert format_money(-150, 2, "GBP") == "-£1.50"
    assert format_money(995, 2, "USD") == "$9.95"
    assert format_money(1205, 2, "CHF") == "CHF 12.05"
    assert format_money(500, 0, "ISK") == "ISK 500"
    assert mask_account("00001234") == "****1234"
    assert row_lines("Tea", "1.00", 10) == ["Tea   1.00"]
    wrapped = row_lines("A very long product name indeed", "12.99", 20)
    assert all(len(line) <= 20 for line in wrapped)
    assert wrapped[-1].endswith("12.99")


def test_width_48_for_font_a_on_80mm() -> None:
    lines = Receipt.from_record(sale_record(), HEADER, 2, width=48).to_text().splitlines()
    assert max(len(line) for line in lines) == 48


def test_escpos_one_western_code_page_for_euro_and_accents() -> None:
    data = escpos.render(Receipt.from_record(sale_record(), HEADER, 2))
    assert data.startswith(b"\x1b@")  # ESC @: a known state first
    # CP858 (slot 19) encodes all of it: selected once, never switched.
    assert re.findall(rb"\x1bt(.)", data, flags=re.S) == [b"\x13"]
    assert "€21.09".encode("cp858") == b"\xd521.09"
    assert "€21.09".encode("cp858") in data
    assert "Crème brûlée".encode("cp858") in data
    assert "Müller".encode("cp858") in data
    assert "é".encode("cp858") == b"\x82"
    text = decode_escpos(data)
    for expected in ["Crème brûlée", "Müller Milch Banane", "€21.09", "Hauptstraße 1", "2 × 4.50"]:
        assert expected in text


def test_escpos_switches_pages_for_what_one_page_lacks() -> None:
    lines = sale_dict()["lines"]
    lines[1] = {**lines[1], "name": "Łódź żurek"}  # Polish: not in any Western page
    loyalty = {"account": "00000001", "earned": 5, "redeemed": 0, "balance": None, "offline": True}
    data = escpos.render(Receipt.from_record(sale_record(lines=lines, loyalty=loyalty), HEADER, 2))
    assert len(re.findall(rb"\x1bt(.)", data, flags=re.S)) > 1
    text = decode_escpos(data)
    for expected in ["Crème brûlée", "Łódź żurek", "€21.09", "offline — points will be added"]:
        assert expected in text


def test_escpos_em_dash_picks_cp1252() -> None:
    loyalty = {"account": "00000001", "earned": 5, "redeemed": 0, "balance": None, "offline": True}
    data = escpos.render(Receipt.from_record(sale_record(loyalty=loyalty), HEADER, 2))
    assert re.findall(rb"\x1bt(.)", data, flags=re.S) == [b"\x10"]  # CP1252, slot 16
    assert "€".encode("cp1252") == b"\x80" and "é".encode("cp1252") == b"\xe9"
    assert "Crème brûlée".encode("cp1252") in data
    assert "€21.09".encode("cp1252") in data


def test_escpos_barcode_and_cut() -> None:
    data = escpos.render(Receipt.from_record(sale_record(), HEADER, 2))
    no = b"s001-till-01-000042"
    # GS k 73 (CODE128, function B), length, code set B, the receipt number.
    assert b"\x1dkI" + bytes([len(no) + 2]) + b"{B" + no in data
    assert data.endswith(b"\x1dV\x00")  # full cut after the feed
    long_no = "s001-a-very-long-store-name-till-with-a-long-name-01-000042"
    data = escpos.render(Receipt.from_record(sale_record(receipt_no=long_no), HEADER, 2))
    assert b"\x1dkI" not in data  # too wide for 512 dots: a QR instead
    assert b"\x1d(k" in data and long_no.encode() in data


def test_escpos_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ReceiptError, match="profile 'no-such-printer'"):
        escpos.render(Receipt.from_record(sale_record(), HEADER, 2), "no-such-printer")


def test_png_is_printer_wide_and_not_blank(tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    png.render(Receipt.from_record(sale_record(), HEADER, 2, copy=True), out)
    with Image.open(out) as img:
        assert img.width == 576
        assert img.height > 1000
        gray = img.convert("L")
        hist = gray.histogram()
        dark = sum(hist[:64])
        total = img.width * img.height
        assert 0.02 * total < dark < 0.5 * total
        # The QR sits centred below the body: its middle rows have dark modules.
        band = gray.crop((188, 0, 388, img.height))
        assert sum(band.histogram()[:64]) > 0


def test_png_without_font_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(png, "FONT_REGULAR", tmp_path / "missing.ttf")
    with pytest.raises(ReceiptError, match="fonts-dejavu-core"):
        png.render(Receipt.from_record(sale_record(), HEADER, 2), tmp_path / "r.png")
    assert not (tmp_path / "r.png").exists()


def test_control_characters_never_reach_the_printer_or_pillow(tmp_path: Path) -> None:
    """A card ref "AUTH\\r123" (an old journal's, or a name from the collector) and a
    footer with GS V (the ESC/POS cut) made Pillow's layout fail; every receipt after
    stayed queued. They print, as spaces, and the printer gets no stray command."""
    base = sale_dict()
    tenders = [{**t, "ref": "AUTH\r123"} if t["type"] == "card" else t for t in base["tenders"]]
    record = sale_record(tenders=tenders)
    header = ReceiptHeader("Shop\x00", footer=["Merci\x1dV\x00", "bidi \u202eevil\u202c"])
    receipt = Receipt.from_record(record, header, 2)
    text = receipt.to_text()
    assert "AUTH 123" in text and "Merci V" in text and "bidi evil" in text
    assert not any(ch < " " for ch in text.replace("\n", ""))
    data = escpos.render(receipt, "default")
    plain_header = ReceiptHeader("Shop", footer=["Merci V", "bidi evil"])
    cuts = escpos.render(Receipt.from_record(record, plain_header, 2), "default").count(b"\x1dV")
    assert data.count(b"\x1dV") == cuts  # the receipt's own cut, no other
    png.render(receipt, tmp_path / "r.png")
    with Image.open(tmp_path / "r.png") as img:
        assert img.width == 576


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("plain text, é ü €", "plain text, é ü €"),
        ("a\rb\nc\td\x00e\x7ff\x85g", "a b c d e f g"),
        ("\u2028line\u2029para\u00a0nbsp", " line para nbsp"),
        (
            "zero\u200bwidth \u202eoverride\u202c \ue000private \ud800",
            "zerowidth override private ",
        ),
    ],
)
def test_printable(given: str, shown: str) -> None:
    assert printable(given) == shown
    assert printable(shown) == shown
