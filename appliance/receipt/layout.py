"""A receipt's layout: typed blocks (title, row, centred text, separator, code, cut) built
from a journal record, and the text a person reads.

The renderers (`appliance.receipt.escpos`, `appliance.receipt.png`) walk the same
blocks, so the paper, the saved text and the picture say the same thing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from appliance.errors import ApplianceError
from appliance.sales.reports import format_report
from protocol.money import format_minor
from protocol.record import Record, Tender
from protocol.text import printable
from protocol.timestamps import parse_stamp

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}

TORN_NOTICE = "*** interrupted — reprinted below ***"


class ReceiptError(ApplianceError):
    """A receipt cannot be rendered (a missing font, an unusable printer profile)."""


@dataclass(frozen=True)
class ReceiptHeader:
    """What the shop prints at the top and bottom of every receipt."""

    store_name: str
    address: list[str] = field(default_factory=list)
    tax_id: str = ""
    footer: list[str] = field(default_factory=list)


# --- layout blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Title:
    """Centred, bold, double height; `large` doubles the width too, `inverted` is white on black."""

    text: str
    large: bool = False
    inverted: bool = False


@dataclass(frozen=True)
class Row:
    """Text on the left, an amount on the right, both inside the receipt width."""

    left: str
    right: str = ""
    bold: bool = False
    tall: bool = False  # double height on paper, for the total


@dataclass(frozen=True)
class Centered:
    """A centred line (address, footer, notices); wrapped when longer than the width."""

    text: str


@dataclass(frozen=True)
class Preformatted:
    """A line laid out already (the Z report's columns): printed as is, cut at the width."""

    text: str


@dataclass(frozen=True)
class Separator:
    """A full-width rule."""

    char: str = "-"


@dataclass(frozen=True)
class Code:
    """The receipt number as a machine-readable code (CODE128 on paper, QR on the PNG)."""

    data: str


@dataclass(frozen=True)
class Cut:
    """Feed past the tear bar and cut."""


Block = Title | Row | Centered | Preformatted | Separator | Code | Cut


def currency_symbol(currency: str) -> str:
    """`€` for EUR, `£` GBP, `$` USD; any other code (CHF, SEK, …) is written as is."""
    return _SYMBOLS.get(currency, currency)


def format_money(amount: int, exponent: int, currency: str) -> str:
    """`1250` EUR -> `€12.50`, `-150` -> `-€1.50`, CHF -> `CHF 12.50`."""
    digits = format_minor(abs(amount), exponent)
    sign = "-" if amount < 0 else ""
    symbol = currency_symbol(currency)
    return f"{sign}{symbol}{digits}" if len(symbol) == 1 else f"{sign}{symbol} {digits}"


def row_lines(left: str, right: str, width: int) -> list[str]:
    """Lay out a left/right row in `width` columns, wrapping the left text when needed."""
    if not right:
        return _wrap(left, width)
    if len(left) + len(right) + 1 <= width:
        return [left + " " * (width - len(left) - len(right)) + right]
    lines = _wrap(left, width)
    last = lines[-1]
    if len(last) + len(right) + 1 <= width:
        lines[-1] = last + " " * (width - len(last) - len(right)) + right
    elif right:
        lines.append(right.rjust(width))
    return lines


def _wrap(text: str, width: int) -> list[str]:
    # Keep a leading indent (line details are indented under the item) on every piece.
    body = text.lstrip(" ")
    indent = " " * (len(text) - len(body))
    return textwrap.wrap(body, width, initial_indent=indent, subsequent_indent=indent) or [""]


def centered_lines(text: str, width: int) -> list[str]:
    return [line.center(width).rstrip() for line in (textwrap.wrap(text, width) or [""])]


def mask_account(account: str) -> str:
    """All but the last four characters hidden: `00001234` -> `****1234`."""
    return "*" * max(len(account) - 4, 0) + account[-4:]


def _format_ts(ts: str) -> str:
    # Records carry UTC (`...Z`); print it as such rather than guess the shop's zone.
    try:
        when = parse_stamp(ts)
    except ValueError:
        return ts
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Builder:
    """Collects blocks for one record; money and widths in one place."""

    def __init__(self, exponent: int, currency: str) -> None:
        self.blocks: list[Block] = []
        self.exponent = exponent
        self.currency = currency

    def add(self, block: Block) -> None:
        # Whatever the record or the config holds, no control character reaches the
        # printer or Pillow (protocol.text).
        match block:
            case Title(text=t) | Centered(text=t) | Preformatted(text=t):
                block = replace(block, text=printable(t))
            case Row(left=left, right=right):
                block = replace(block, left=printable(left), right=printable(right))
            case Code(data=data):
                block = replace(block, data=printable(data))
        self.blocks.append(block)

    def amount(self, minor: int) -> str:
        return format_minor(minor, self.exponent)

    def money(self, minor: int) -> str:
        return format_money(minor, self.exponent, self.currency)


@dataclass(frozen=True)
class Receipt:
    """One receipt's layout, ready to render as text, ESC/POS bytes or a PNG."""

    receipt_no: str
    kind: str
    blocks: tuple[Block, ...]
    width: int = 42
    copy: bool = False

    @classmethod
    def from_record(
        cls,
        record: Record,
        header: ReceiptHeader,
        exponent: int,
        copy: bool = False,
        width: int = 42,
    ) -> Receipt:
        """Lay out a journal record (sale, refund, no_sale or shift_close)."""
        b = _Builder(exponent, record.currency)
        if copy:
            b.add(Title("COPY", large=True, inverted=True))
        b.add(Title(header.store_name))
        for line in header.address:
            b.add(Centered(line))
        if header.tax_id:
            b.add(Centered(f"Tax ID {header.tax_id}"))
        b.add(Separator("="))
        # The Z report's own layout carries its title.
        kind_title = {"refund": "REFUND", "no_sale": "NO SALE"}
        if record.kind in kind_title:
            b.add(Title(kind_title[record.kind], large=True))
        b.add(Row("Receipt", record.receipt_no))
        b.add(Row("Date", _format_ts(record.ts)))
        b.add(Row("Staff", record.staff))
        if record.original_receipt_no:
            b.add(Row("Refund of", record.original_receipt_no))
        if record.refund_lines:
            b.add(Row("Lines", ", ".join(str(n) for n in record.refund_lines)))
        if record.reason:
            b.add(Row("Reason", record.reason))
        if record.approved_by:
            b.add(Row("Approved by", record.approved_by))
        b.add(Separator())

        if record.kind in ("sale", "refund"):
            _sale_body(b, record)
        elif record.kind == "shift_close":
            if record.report is None:
                b.add(Title("Z REPORT", large=True))
            else:
                for line in format_report(record.report, "Z REPORT", exponent).splitlines():
                    b.add(Preformatted(line))

        b.add(Code(record.receipt_no))
        for line in header.footer:
            b.add(Centered(line))
        if copy:
            b.add(Title("COPY", large=True, inverted=True))
        b.add(Cut())
        return cls(record.receipt_no, record.kind, tuple(b.blocks), width, copy)

    # --- text --------------------------------------------------------------------------------

    def lines(self) -> Iterator[tuple[Block, str]]:
        """Each printed line of text with the block it came from (codes and cuts give none)."""
        for block in self.blocks:
            match block:
                case Title(text=text):
                    for line in centered_lines(text, self.width):
                        yield block, line
                case Row(left=left, right=right):
                    for line in row_lines(left, right, self.width):
                        yield block, line
                case Centered(text=text):
                    for line in centered_lines(text, self.width):
                        yield block, line
                case Preformatted(text=text):
                    yield block, text[: self.width]
                case Separator(char=char):
                    yield block, char * self.width
                case Code(data=data):
                    yield block, f"[{data}]".center(self.width).rstrip()
                case Cut():
                    pass

    def to_text(self) -> str:
        """The receipt as a person reads it, one line per printed line."""
        return "".join(line + "\n" for _, line in self.lines())


def _sale_body(b: _Builder, record: Record) -> None:
    gross = 0
    for line in record.lines:
        gross += line.total + line.discount
        b.add(Row(line.name or line.sku, b.amount(line.total)))
        b.add(Row(f"  {line.qty} × {b.amount(line.unit_price)}  tax {line.tax_rate}%"))
        if line.discount:
            b.add(Row("  discount", b.amount(-line.discount)))
    b.add(Separator())
    lines_total = sum(line.total for line in record.lines)
    total = record.total
    b.add(Row("Subtotal", b.amount(gross)))
    if gross != lines_total:
        b.add(Row("Discounts", b.amount(lines_total - gross)))
    # Prices without tax: the record's total is the lines plus the tax added on top.
    if total != lines_total and record.tax:
        b.add(Row("Tax", b.amount(total - lines_total)))
    b.add(Row("TOTAL", b.money(total), bold=True, tall=True))
    if record.rounding:
        b.add(Row("Cash rounding", b.amount(record.rounding)))
    for t in record.tax:
        b.add(Row(f"Tax {t.rate}% on {b.amount(t.base)}", b.amount(t.tax)))
    b.add(Separator())
    tenders = record.tenders
    change = record.change
    # Recorded cash is what stayed in the drawer; the customer handed over that plus change.
    cash = [i for i, t in enumerate(tenders) if t.type == "cash"]
    for i, tender in enumerate(tenders):
        amount = tender.amount + (change if cash and i == cash[-1] else 0)
        b.add(Row(_tender_label(tender), b.money(amount)))
    if change or cash:
        b.add(Row("Change", b.money(change), bold=True))
    loyalty = record.loyalty
    if loyalty is not None:
        b.add(Separator())
        b.add(Row("Loyalty card", mask_account(loyalty.account)))
        earned, redeemed, balance = loyalty.earned, loyalty.redeemed, loyalty.balance
        if record.kind == "refund":
            # A refund's points are negative: the earned ones go, the redeemed ones come back.
            b.add(Row("Points taken back", str(abs(earned))))
            b.add(Row("Points given back", str(abs(redeemed))))
            if balance is None:
                b.add(Centered("the new balance shows on your next receipt"))
            else:
                b.add(Row("New points balance", str(balance)))
        else:
            b.add(Row("Points earned", str(earned)))
            b.add(Row("Points redeemed", str(redeemed)))
            b.add(Row("Points balance", "-" if balance is None else str(balance)))
            if loyalty.offline:
                b.add(Centered("offline — points will be added when online"))
    b.add(Separator())


def _tender_label(tender: Tender) -> str:
    if tender.type == "card":
        return f"Card {tender.ref}" if tender.ref else "Card"
    if tender.type == "points":
        return f"Points ({tender.points})" if tender.points is not None else "Points"
    return tender.type.capitalize()
