"""Receipts as pictures: a layout drawn ~576 px wide like an 80 mm printer (Pillow), with a
QR code of the receipt number. The demo and `receipts_dir` keep these beside the text."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from appliance.receipt.layout import (
    Centered,
    Code,
    Cut,
    Preformatted,
    Receipt,
    ReceiptError,
    Row,
    Separator,
    Title,
    centered_lines,
    row_lines,
)

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_REGULAR = FONT_DIR / "DejaVuSansMono.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSansMono-Bold.ttf"

PNG_WIDTH = 576  # dots across an 80 mm head at 203 dpi
_PNG_MARGIN = 12
_PNG_FONT_SIZE = 22  # DejaVu Sans Mono advance is 0.6 em: 42 columns fill ~555 px
_PNG_LINE = 28


def render(receipt: Receipt, path: Path) -> None:
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
    qr = _qr_image(receipt.receipt_no)

    # First pass measures, second draws: the height depends on the layout.
    ops: list[tuple[str, Any]] = []
    height = _PNG_MARGIN
    for block in receipt.blocks:
        match block:
            case Title(text=text, large=large, inverted=inverted):
                font = big if large else bold
                step = _PNG_LINE * 2 if large else _PNG_LINE + 8
                cols = receipt.width // 2 if large else receipt.width
                for line in textwrap.wrap(text, cols) or [""]:
                    ops.append(("title", (height, line, font, step, inverted)))
                    height += step
            case Row(bold=is_bold, tall=tall):
                step = _PNG_LINE + 10 if tall else _PNG_LINE
                font = bold if is_bold else regular
                for line in row_lines(block.left, block.right, receipt.width):
                    ops.append(("text", (height + step - _PNG_LINE, line, font)))
                    height += step
            case Centered(text=text):
                for line in centered_lines(text, receipt.width):
                    ops.append(("text", (height, line, regular)))
                    height += _PNG_LINE
            case Preformatted(text=text):
                ops.append(("text", (height, text[: receipt.width], regular)))
                height += _PNG_LINE
            case Separator(char=char):
                ops.append(("text", (height, char * receipt.width, regular)))
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


def _qr_image(data: str) -> Any:
    import qrcode

    code = qrcode.QRCode(border=2, box_size=6)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")
