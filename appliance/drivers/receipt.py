"""Receipts: one layout built from a journal record, rendered as text, ESC/POS bytes and PNG.

The layout is a list of typed blocks (title, row, centred text, separator, code, cut).
Every renderer walks the same blocks, so the paper, the saved text and the PNG say the
same thing. Rendering is pure apart from `to_png`, which writes the file it is given.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError
from appliance.sales.money import format_minor

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSansMono.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSansMono-Bold.ttf"

PNG_WIDTH = 576  # dots across an 80 mm head at 203 dpi
_PNG_MARGIN = 12
_PNG_FONT_SIZE = 22  # DejaVu Sans Mono advance is 0.6 em: 42 columns fill ~555 px
_PNG_LINE = 28

# Tried in order: one code page for the whole receipt keeps the printer from
# switching tables mid-line. CP858 is CP850 (Western Europe) plus the euro sign.
_PREFERRED_CODE_PAGES = ("CP858", "CP1252", "ISO_8859-15", "CP850", "CP437")

# CODE128 code set B: 11 modules a character, plus start, check and stop.
_BARCODE_MODULE_DOTS = 2
_BARCODE_MAX_DOTS = 512  # the narrowest 80 mm head (Epson TM-T88) prints 512 dots

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


def _centered_lines(text: str, width: int) -> list[str]:
    return [line.center(width).rstrip() for line in (textwrap.wrap(text, width) or [""])]


def mask_account(account: str) -> str:
    """All but the last four characters hidden: `00001234` -> `****1234`."""
    return "*" * max(len(account) - 4, 0) + account[-4:]


def _format_ts(ts: str) -> str:
    # Records carry UTC (`...Z`); print it as such rather than guess the shop's zone.
    try:
        when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _qty(value: Any) -> str:
    return str(value)


# Z report values are plain ints; these key words say an int is money, not a count.
_MONEY_WORDS = (
    "total", "sales", "refund", "net", "gross", "tax", "base", "amount", "cash", "card",
    "discount", "rounding", "change", "expected", "takings", "value", "float",
)  # fmt: skip
_COUNT_WORDS = ("count", "number", "seq", "points", "earned", "redeemed", "qty", "items")


def _is_money_key(key: str) -> bool:
    k = key.lower()
    if any(w in k for w in _COUNT_WORDS):
        return False
    return any(w in k for w in _MONEY_WORDS)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


class _Builder:
    """Collects blocks for one record; money and widths in one place."""

    def __init__(self, exponent: int, currency: str) -> None:
        self.blocks: list[Block] = []
        self.exponent = exponent
        self.currency = currency

    def add(self, block: Block) -> None:
        self.blocks.append(block)

    def amount(self, minor: int) -> str:
        return format_minor(minor, self.exponent)

    def money(self, minor: int) -> str:
        return format_money(minor, self.exponent, self.currency)

    def report(self, data: Mapping[str, Any], indent: str = "") -> None:
        for key, value in data.items():
            label = indent + _label(str(key))
            if isinstance(value, Mapping):
                self.add(Row(label))
                self.report(value, indent + "  ")
            elif isinstance(value, list):
                self.add(Row(label))
                for item in value:
                    if isinstance(item, Mapping):
                        self.report(item, indent + "  ")
                        self.add(Separator("."))
                    else:
                        self.add(Row(indent + "  " + str(item)))
            elif isinstance(value, int) and not isinstance(value, bool) and _is_money_key(key):
                self.add(Row(label, self.amount(value)))
            elif value is None:
                self.add(Row(label, "-"))
            else:
                self.add(Row(label, str(value)))


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
        record: Mapping[str, Any],
        header: ReceiptHeader,
        exponent: int,
        copy: bool = False,
        width: int = 42,
    ) -> Receipt:
        """Lay out a CONTRACT journal record (sale, refund, no_sale or shift_close)."""
        kind = str(record.get("kind", "sale"))
        currency = str(record.get("currency", ""))
        receipt_no = str(record.get("receipt_no", ""))
        b = _Builder(exponent, currency)

        if copy:
            b.add(Title("COPY", large=True, inverted=True))
        b.add(Title(header.store_name))
        for line in header.address:
            b.add(Centered(line))
        if header.tax_id:
            b.add(Centered(f"Tax ID {header.tax_id}"))
        b.add(Separator("="))
        kind_title = {"refund": "REFUND", "no_sale": "NO SALE", "shift_close": "Z REPORT"}
        report = record.get("report")
        z_lines = _z_report_lines(report, exponent) if kind == "shift_close" else None
        if kind in kind_title and not z_lines:  # the Z report's layout carries its own title
            b.add(Title(kind_title[kind], large=True))
        b.add(Row("Receipt", receipt_no))
        b.add(Row("Date", _format_ts(str(record.get("ts", "")))))
        b.add(Row("Staff", str(record.get("staff", ""))))
        if record.get("original_receipt_no"):
            b.add(Row("Refund of", str(record["original_receipt_no"])))
        if record.get("refund_lines"):
            b.add(Row("Lines", ", ".join(str(n) for n in record["refund_lines"])))
        if record.get("reason"):
            b.add(Row("Reason", str(record["reason"])))
        if record.get("approved_by"):
            b.add(Row("Approved by", str(record["approved_by"])))
        b.add(Separator())

        if kind in ("sale", "refund"):
            _sale_body(b, record)
        elif kind == "shift_close":
            if z_lines:
                for line in z_lines:
                    b.add(Preformatted(line))
            elif isinstance(report, Mapping):
                b.report(report)
                b.add(Separator())

        b.add(Code(receipt_no))
        for line in header.footer:
            b.add(Centered(line))
        if copy:
            b.add(Title("COPY", large=True, inverted=True))
        b.add(Cut())
        return cls(receipt_no, kind, tuple(b.blocks), width, copy)

    # --- text --------------------------------------------------------------------------------

    def lines(self) -> Iterator[tuple[Block, str]]:
        """Each printed line of text with the block it came from (codes and cuts give none)."""
        for block in self.blocks:
            match block:
                case Title(text=text):
                    for line in _centered_lines(text, self.width):
                        yield block, line
                case Row(left=left, right=right):
                    for line in row_lines(left, right, self.width):
                        yield block, line
                case Centered(text=text):
                    for line in _centered_lines(text, self.width):
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

    # --- ESC/POS -----------------------------------------------------------------------------

    def to_escpos(self, profile: str = "default") -> bytes:
        """The receipt as ESC/POS bytes for `profile` (a python-escpos printer profile name)."""
        from escpos.exceptions import Error as EscposError
        from escpos.printer import Dummy

        try:
            p = Dummy(profile=profile)
        except Exception as e:  # escpos raises plain errors for an unknown profile
            raise ReceiptError(
                f"printer profile {profile!r} is unknown to python-escpos: {e}; "
                "use 'default' or a model name such as 'TM-T20II'"
            ) from e
        try:
            p.hw("INIT")
            _select_code_page(p, (line for _, line in self.lines()))
            for block in self.blocks:
                _escpos_block(p, block, self.width)
        except EscposError as e:
            raise ReceiptError(f"receipt {self.receipt_no}: cannot encode for printer: {e}") from e
        return bytes(p.output)

    # --- PNG ---------------------------------------------------------------------------------

    def to_png(self, path: Path) -> None:
        """Render the receipt ~576 px wide like an 80 mm printer, with a QR of the number."""
        from PIL import Image, ImageDraw, ImageFont

        try:
            regular = ImageFont.truetype(str(FONT_REGULAR), _PNG_FONT_SIZE)
            bold = ImageFont.truetype(str(FONT_BOLD), _PNG_FONT_SIZE)
            big = ImageFont.truetype(str(FONT_BOLD), _PNG_FONT_SIZE * 2 - 4)
        except OSError as e:
            raise ReceiptError(
                f"font {FONT_REGULAR} or its Bold variant is missing; "
                "install the Debian package fonts-dejavu-core"
            ) from e
        qr = _qr_image(self.receipt_no)

        # First pass measures, second draws: the height depends on the layout.
        ops: list[tuple[str, Any]] = []
        height = _PNG_MARGIN
        for block in self.blocks:
            match block:
                case Title(text=text, large=large, inverted=inverted):
                    font = big if large else bold
                    step = _PNG_LINE * 2 if large else _PNG_LINE + 8
                    cols = self.width // 2 if large else self.width
                    for line in textwrap.wrap(text, cols) or [""]:
                        ops.append(("title", (height, line, font, step, inverted)))
                        height += step
                case Row(bold=is_bold, tall=tall):
                    step = _PNG_LINE + 10 if tall else _PNG_LINE
                    font = bold if is_bold else regular
                    for line in row_lines(block.left, block.right, self.width):
                        ops.append(("text", (height + step - _PNG_LINE, line, font)))
                        height += step
                case Centered(text=text):
                    for line in _centered_lines(text, self.width):
                        ops.append(("text", (height, line, regular)))
                        height += _PNG_LINE
                case Preformatted(text=text):
                    ops.append(("text", (height, text[: self.width], regular)))
                    height += _PNG_LINE
                case Separator(char=char):
                    ops.append(("text", (height, char * self.width, regular)))
                    height += _PNG_LINE
                case Code(data=data):
                    ops.append(("qr", height))
                    height += qr.height
                    ops.append(("center", (height, data, regular)))
                    height += _PNG_LINE
                case Cut():
                    ops.append(("cut", height))
                    height += _PNG_LINE
        height += _PNG_MARGIN

        img = Image.new("L", (PNG_WIDTH, height), 255)
        draw = ImageDraw.Draw(img)
        for op, arg in ops:
            if op == "text":
                y, line, font = arg
                draw.text((_PNG_MARGIN, y), line, font=font, fill=0)
            elif op in ("title", "center"):
                y, text, font = arg[:3]
                inverted = op == "title" and arg[4]
                w = draw.textlength(text, font=font)
                x = (PNG_WIDTH - w) / 2
                if inverted:
                    draw.rectangle((x - 10, y, x + w + 10, y + arg[3] - 4), fill=0)
                draw.text((x, y), text, font=font, fill=255 if inverted else 0)
            elif op == "qr":
                img.paste(qr, ((PNG_WIDTH - qr.width) // 2, arg))
            elif op == "cut":
                y = arg + _PNG_LINE // 2
                for x in range(0, PNG_WIDTH, 16):
                    draw.line((x, y, x + 8, y), fill=0, width=2)
        try:
            img.save(path, format="PNG")
        except OSError as e:
            raise ReceiptError(f"cannot write receipt image {path}: {e}") from e


def _sale_body(b: _Builder, record: Mapping[str, Any]) -> None:
    lines: list[Mapping[str, Any]] = list(record.get("lines") or [])
    gross = 0
    for line in lines:
        unit, qty = int(line.get("unit_price", 0)), line.get("qty", 1)
        total, discount = int(line.get("total", 0)), int(line.get("discount", 0))
        gross += total + discount
        b.add(Row(str(line.get("name", line.get("sku", ""))), b.amount(total)))
        detail = f"  {_qty(qty)} × {b.amount(unit)}"
        if line.get("tax_rate") is not None:
            detail += f"  tax {line['tax_rate']}%"
        b.add(Row(detail))
        if discount:
            b.add(Row("  discount", b.amount(-discount)))
    b.add(Separator())
    lines_total = sum(int(line.get("total", 0)) for line in lines)
    total = int(record.get("total", 0))
    b.add(Row("Subtotal", b.amount(gross)))
    if gross != lines_total:
        b.add(Row("Discounts", b.amount(lines_total - gross)))
    taxes: list[Mapping[str, Any]] = list(record.get("tax") or [])
    # Prices without tax: the record's total is the lines plus the tax added on top.
    if total != lines_total and taxes:
        b.add(Row("Tax", b.amount(total - lines_total)))
    b.add(Row("TOTAL", b.money(total), bold=True, tall=True))
    if record.get("rounding"):
        b.add(Row("Cash rounding", b.amount(int(record["rounding"]))))
    for t in taxes:
        base, tax = int(t.get("base", 0)), int(t.get("tax", 0))
        b.add(Row(f"Tax {t.get('rate')}% on {b.amount(base)}", b.amount(tax)))
    b.add(Separator())
    tenders: list[Mapping[str, Any]] = list(record.get("tenders") or [])
    change = int(record.get("change") or 0)
    # Recorded cash is what stayed in the drawer; the customer handed over that plus change.
    cash = [i for i, t in enumerate(tenders) if t.get("type") == "cash"]
    for i, tender in enumerate(tenders):
        amount = int(tender.get("amount", 0)) + (change if cash and i == cash[-1] else 0)
        b.add(Row(_tender_label(tender), b.money(amount)))
    if change or cash:
        b.add(Row("Change", b.money(change), bold=True))
    loyalty = record.get("loyalty")
    if isinstance(loyalty, Mapping):
        b.add(Separator())
        b.add(Row("Loyalty card", mask_account(str(loyalty.get("account", "")))))
        earned, redeemed = int(loyalty.get("earned") or 0), int(loyalty.get("redeemed") or 0)
        balance = loyalty.get("balance")
        if record.get("kind") == "refund":
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
            if loyalty.get("offline"):
                b.add(Centered("offline — points will be added when online"))
    b.add(Separator())


def _z_report_lines(report: Any, exponent: int) -> list[str] | None:
    """The Z report as appliance.sales.reports lays it out; None when it is not that shape."""
    if not isinstance(report, Mapping):
        return None
    try:
        from appliance.sales.reports import format_report

        return format_report(dict(report), "Z REPORT", exponent).splitlines()
    except (ImportError, KeyError, TypeError, ValueError):
        return None  # an older or foreign report: shown key by key instead


def _tender_label(tender: Mapping[str, Any]) -> str:
    kind = str(tender.get("type", ""))
    if kind == "card":
        ref = tender.get("ref")
        return f"Card {ref}" if ref else "Card"
    if kind == "points":
        points = tender.get("points")
        return f"Points ({points})" if points is not None else "Points"
    return kind.capitalize()


def _select_code_page(p: Any, lines: Iterable[str]) -> None:
    """Pick one code page the printer has that encodes all of the text, else let escpos switch.

    python-escpos's MagicEncode switches tables per character from whatever it tried
    last; a single page from the start keeps the bytes predictable across receipts.
    """
    text = set("".join(lines))
    available = p.profile.get_code_pages()
    encoder = p.magic.encoder
    candidates = [c for c in _PREFERRED_CODE_PAGES if c in available]
    for page in candidates:
        if all(encoder.can_encode(page, ch) for ch in text):
            p.charcode(page)
            return
    if candidates:
        # Start from the likeliest page; MagicEncode switches only for what it lacks.
        p.charcode(candidates[0])
        encoder.used_encodings.add(candidates[0])
    p.charcode("AUTO")


def _escpos_block(p: Any, block: Block, width: int) -> None:
    match block:
        case Title(text=text, large=large, inverted=inverted):
            p.set(align="center", bold=True, double_height=True, double_width=large)
            if inverted:
                p.set(invert=True)
            cols = width // 2 if large else width
            for line in textwrap.wrap(text, cols) or [""]:
                p.text(line + "\n")
            p.set(align="left", bold=False, normal_textsize=True, invert=False)
        case Row(left=left, right=right, bold=bold, tall=tall):
            if bold or tall:
                p.set(bold=bold, double_height=tall)
            for line in row_lines(left, right, width):
                p.text(line + "\n")
            if bold or tall:
                p.set(bold=False, normal_textsize=True)
        case Centered(text=text):
            p.set(align="center")
            for line in textwrap.wrap(text, width) or [""]:
                p.text(line + "\n")
            p.set(align="left")
        case Preformatted(text=text):
            p.text(text[:width] + "\n")
        case Separator(char=char):
            p.text(char * width + "\n")
        case Code(data=data):
            modules = 11 * (len(data) + 2) + 13
            if data.isascii() and modules * _BARCODE_MODULE_DOTS <= _BARCODE_MAX_DOTS:
                # _hw_barcode, not barcode(): the public one prints its choice to stdout,
                # which would corrupt `appliance replay`'s JSON lines.
                p._hw_barcode(
                    "{B" + data, "CODE128", height=60, width=_BARCODE_MODULE_DOTS,
                    pos="BELOW", font="B", align_ct=True, function_type="B",
                )  # fmt: skip
            else:
                p.set(align="center")
                p.qr(data, size=6, native=True)
            p.text("\n")
            p.set(align="left")
        case Cut():
            p.cut()


def _qr_image(data: str) -> Any:
    import qrcode

    code = qrcode.QRCode(border=2, box_size=6)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def torn_notice_bytes(profile: str = "default", width: int = 42) -> bytes:
    """What ends a receipt cut short by a fault: reset, a notice line, feed and cut."""
    notice = Receipt(
        receipt_no="",
        kind="notice",
        blocks=(Title(TORN_NOTICE), Cut()),
        width=width,
    )
    # A fresh line first: the fragment may have stopped mid-line.
    return b"\n" + notice.to_escpos(profile)
