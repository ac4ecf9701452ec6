"""Retail barcodes: the protocol's (`protocol.barcodes`), as the till has always named them."""

from protocol.barcodes import BarcodeError, lookup_key, validate

__all__ = ["BarcodeError", "lookup_key", "validate"]
