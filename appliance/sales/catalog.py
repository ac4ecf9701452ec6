"""The catalog: items, the CSV a shop imports (all or nothing), and O(1) look-ups."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from appliance.sales import barcode as bc
from protocol.cards import loyalty_card
from protocol.errors import BadInput
from protocol.limits import MAX_ITEM_TEXT, MAX_SKU
from protocol.money import canonical_rate, parse_major
from protocol.text import control_character

REQUIRED = ("sku", "barcode", "name", "price", "tax_rate")
OPTIONAL = ("category", "stock")


class CatalogError(BadInput):
    """A catalog file or item we refuse; the message names the file, line and field."""


@dataclass(frozen=True, slots=True)
class Item:
    """One thing the shop sells. `price` in minor units; `tax_rate` canonical (`"5.5"`)."""

    sku: str
    barcode: str  # as given in the catalog; "" for items only keyed by SKU
    name: str
    price: int
    tax_rate: str
    category: str = ""
    stock: int | None = None


def _header(row: list[str], where: str) -> dict[str, int]:
    names = [c.strip().lower() for c in row]
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in REQUIRED + OPTIONAL:
            raise CatalogError(
                f"{where}: unknown column {name!r}; the columns are {','.join(REQUIRED + OPTIONAL)}"
            )
        if name in columns:
            raise CatalogError(f"{where}: column {name!r} appears twice")
        columns[name] = i
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise CatalogError(
            f"{where}: header lacks {', '.join(missing)}; it must start "
            f"{','.join(REQUIRED)}[,{','.join(OPTIONAL)}]"
        )
    return columns


def _text(value: str, field: str, where: str, *, required: bool, limit: int = MAX_ITEM_TEXT) -> str:
    text = value.strip()
    if required and not text:
        raise CatalogError(f"{where}: {field} is empty")
    if len(text) > limit:
        raise CatalogError(f"{where}: {field} is longer than {limit} characters")
    if (found := control_character(text)) is not None:
        # a line break in a name would break receipts and the screen
        raise CatalogError(f"{where}: {field} {text[:40]!r} has a control character ({found})")
    return text


def _item(row: list[str], columns: dict[str, int], exp: int, where: str) -> Item:
    def cell(name: str) -> str:
        return row[columns[name]] if name in columns else ""

    sku = _text(cell("sku"), "sku", where, required=True, limit=MAX_SKU)
    name = _text(cell("name"), "name", where, required=True)
    code = cell("barcode").strip()
    if code:
        try:
            bc.validate(code)
        except bc.BarcodeError as e:
            raise CatalogError(f"{where}: {e}") from e
        if loyalty_card(code) is not None:
            raise CatalogError(
                f'{where}: barcode "{code}" is in the loyalty card range (29…); '
                "give the item another barcode"
            )
    raw_price = cell("price")
    try:
        price = parse_major(raw_price, exp)
    except ValueError as e:
        raise CatalogError(f"{where}: price {e}") from e
    if price < 0:
        raise CatalogError(f'{where}: price "{raw_price.strip()}" is negative')
    try:
        rate = canonical_rate(cell("tax_rate"))
    except ValueError as e:
        raise CatalogError(f"{where}: {e}") from e
    raw_stock = cell("stock").strip()
    stock: int | None = None
    if raw_stock:
        if not raw_stock.lstrip("-").isdigit() or not raw_stock.isascii():
            raise CatalogError(f'{where}: stock "{raw_stock}" is not a whole number')
        stock = int(raw_stock)
    category = _text(cell("category"), "category", where, required=False)
    return Item(sku, code, name, price, rate, category, stock)


def parse_catalog_csv(text: str, exponent: int, source: str = "catalog.csv") -> list[Item]:
    """Every item of a catalog CSV, or `CatalogError` at the first bad row (all or nothing)."""
    text = text.removeprefix("\ufeff")  # spreadsheets save UTF-8 with a BOM
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            start = reader.line_num + 1
            header = next(reader, None)
        if header is None:
            raise CatalogError(f"{source}: the file is empty; it needs a header and items")
        columns = _header(header, f"{source}:{start}")
        items: list[Item] = []
        skus: dict[str, int] = {}
        codes: dict[str, int] = {}
        line = reader.line_num + 1
        for row in reader:
            where = f"{source}:{line}"
            first, line = line, reader.line_num + 1
            if not any(c.strip() for c in row):
                continue  # blank lines (often one at the end) are not rows
            if len(row) != len(columns):
                raise CatalogError(f"{where}: {len(row)} fields, the header has {len(columns)}")
            item = _item(row, columns, exponent, where)
            if item.sku in skus:
                raise CatalogError(f'{where}: sku "{item.sku}" already on line {skus[item.sku]}')
            skus[item.sku] = first
            if item.barcode:
                key = bc.lookup_key(item.barcode)
                if key in codes:
                    raise CatalogError(
                        f'{where}: barcode "{item.barcode}" already on line {codes[key]}'
                    )
                codes[key] = first
            items.append(item)
    except csv.Error as e:
        raise CatalogError(f"{source}:{reader.line_num}: not valid CSV: {e}") from e
    if not items:
        raise CatalogError(f"{source}: no items after the header")
    return items


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
