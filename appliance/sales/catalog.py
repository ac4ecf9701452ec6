"""The catalog the till sells from: O(1) look-ups by SKU and barcode. Its items and the
CSV a shop imports (all or nothing) are the protocol's (`protocol.catalogfile`), so the
collector reads a catalog file exactly as the unit does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from appliance.sales import barcode as bc
from protocol.catalogfile import OPTIONAL, REQUIRED, CatalogError, Item, parse_catalog_csv

__all__ = ["OPTIONAL", "REQUIRED", "Catalog", "CatalogError", "Item", "parse_catalog_csv"]


class Catalog:
    """Items by SKU and by barcode (UPC-A and its EAN-13 form find the same item)."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._items = list(items)
        self._by_sku = {item.sku: item for item in self._items}
        lookup_key = bc.lookup_key
        self._by_barcode = {lookup_key(i.barcode): i for i in self._items if i.barcode}
        if len(self._by_sku) != len(self._items):
            raise CatalogError("catalog: a sku appears twice; re-import the catalog")
        if len(self._by_barcode) != sum(1 for i in self._items if i.barcode):
            raise CatalogError("catalog: a barcode appears twice; re-import the catalog")

    def by_barcode(self, code: str) -> Item | None:
        """The item with this EAN-13, EAN-8 or UPC-A code, or None."""
        return self._by_barcode.get(bc.lookup_key(code))

    def by_sku(self, sku: str) -> Item | None:
        """The item with this SKU, or None."""
        return self._by_sku.get(sku)

    def categories(self) -> list[str]:
        """The non-empty categories, in the order they first appear in the catalog."""
        return list(dict.fromkeys(i.category for i in self._items if i.category))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)
