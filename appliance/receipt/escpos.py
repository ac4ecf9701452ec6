"""Receipts on paper: a layout as ESC/POS bytes, through python-escpos's Dummy printer
(which keeps the bytes; the printer driver sends them)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from appliance.receipt.layout import (
    TORN_NOTICE,
    Block,
    Centered,
    Code,
    Cut,
    Preformatted,
    Receipt,
    ReceiptError,
    Row,
    Separator,
    Title,
    row_lines,
)

# Tried in order: one code page for the whole receipt keeps the printer from
# switching tables mid-line. CP858 is CP850 (Western Europe) plus the euro sign.
_PREFERRED_CODE_PAGES = ("CP858", "CP1252", "ISO_8859-15", "CP850", "CP437")

# CODE128 code set B: 11 modules a character, plus start, check and stop.
_BARCODE_MODULE_DOTS = 2
_BARCODE_MAX_DOTS = 512  # the narrowest 80 mm head (Epson TM-T88) prints 512 dots


def render(receipt: Receipt, profile: str = "default") -> bytes:
    """`receipt` as ESC/POS bytes for `profile` (a python-escpos printer profile name)."""
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
        _select_code_page(p, (line for _, line in receipt.lines()))
        for block in receipt.blocks:
            _block(p, block, receipt.width)
    except EscposError as e:
        raise ReceiptError(f"receipt {receipt.receipt_no}: cannot encode for printer: {e}") from e
    return bytes(p.output)


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


def _block(p: Any, block: Block, width: int) -> None:
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


def torn_notice_bytes(profile: str = "default", width: int = 42) -> bytes:
    """What ends a receipt cut short by a fault: reset, a notice line, feed and cut."""
    notice = Receipt(
        receipt_no="",
        kind="notice",
        blocks=(Title(TORN_NOTICE), Cut()),
        width=width,
    )
    # A fresh line first: the fragment may have stopped mid-line.
    return b"\n" + render(notice, profile)
