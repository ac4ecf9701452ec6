"""Retail barcodes: EAN-13, EAN-8 and UPC-A with their check digits (the till's scanner
and both sides' catalog files check them alike). Loyalty card numbers (EAN-13s in the
range `29`) are `protocol.cards`."""

from __future__ import annotations

from protocol.cards import ean_check_digit
from protocol.errors import BadInput

_LENGTHS = {13: "ean13", 8: "ean8", 12: "upca"}


class BarcodeError(BadInput):
    """A code that is not a valid EAN-13, EAN-8 or UPC-A."""


def validate(code: str) -> str:
    """Return the symbology of a valid code; BarcodeError saying why otherwise."""
    if not code.isascii() or not code.isdigit():
        raise BarcodeError(f"barcode {code[:40]!r} has characters other than digits")
    kind = _LENGTHS.get(len(code))
    if kind is None:
        raise BarcodeError(f"barcode {code[:40]!r} has {len(code)} digits (need 8, 12 or 13)")
    if ean_check_digit(code[:-1]) != int(code[-1]):
        raise BarcodeError(f"barcode {code!r} has a wrong check digit")
    return kind


def lookup_key(code: str) -> str:
    """The key items are filed under: UPC-A is EAN-13 with a leading zero."""
    return "0" + code if len(code) == 12 else code
