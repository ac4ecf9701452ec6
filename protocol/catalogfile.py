"""The files a shop or a fleet manager writes, as both sides read them: the catalog CSV
(`sku,barcode,name,price,tax_rate[,category,stock]`), a prices CSV (`sku,price`) and a
stock CSV (`sku,stock`). Prices are in major units as people write them (`2.49`),
converted with the currency's exponent; every file is all or nothing, and a bad one is
refused naming the file, line and field. The unit imports catalogs with it
(`appliance catalog import`, `cmd/catalog`), the collector pushes them
(`collector push`)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from protocol import barcodes as bc
from protocol.cards import loyalty_card
from protocol.errors import BadInput
from protocol.limits import MAX_ITEM_TEXT, MAX_SKU, MAX_STOCK
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
        digits = raw_stock.removeprefix("-")
        if not digits.isdigit() or not digits.isascii():
            raise CatalogError(f'{where}: stock "{raw_stock[:40]}" is not a whole number')
        if len(digits) > 10 or abs(int(raw_stock)) > MAX_STOCK:
            raise CatalogError(
                f'{where}: stock "{raw_stock[:40]}" is beyond {MAX_STOCK:,} either way'
            )
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


def _rows(text: str, source: str, columns: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """(where, row) for every non-blank row of a CSV whose header is exactly `columns`."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            raise CatalogError(f"{source}: the file is empty; it needs a header and rows")
        names = tuple(c.strip().lower() for c in header)
        if names != columns:
            raise CatalogError(
                f"{source}:{reader.line_num}: the header must be {','.join(columns)}, "
                f"not {','.join(names)[:200]}"
            )
        line = reader.line_num + 1
        for row in reader:
            where, line = f"{source}:{line}", reader.line_num + 1
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(columns):
                raise CatalogError(f"{where}: {len(row)} fields, the header has {len(columns)}")
            yield where, row
    except csv.Error as e:
        raise CatalogError(f"{source}:{reader.line_num}: not valid CSV: {e}") from e


_WHOLE = re.compile(r"^-?[0-9]{1,10}$")


def _once(seen: dict[str, str], sku: str, where: str) -> None:
    """Refuse a SKU met before (`seen` maps each SKU to where it was)."""
    if sku in seen:
        raise CatalogError(f'{where}: sku "{sku}" already on {seen[sku]}')
    seen[sku] = where


def parse_prices_csv(text: str, exponent: int, source: str = "prices.csv") -> list[tuple[str, int]]:
    """(sku, price in minor units) of every row of a `sku,price` CSV, all or nothing."""
    out: list[tuple[str, int]] = []
    seen: dict[str, str] = {}
    for where, row in _rows(text, source, ("sku", "price")):
        sku = _text(row[0], "sku", where, required=True, limit=MAX_SKU)
        _once(seen, sku, where)
        try:
            price = parse_major(row[1], exponent)
        except ValueError as e:
            raise CatalogError(f"{where}: price {e}") from e
        if price < 0:
            raise CatalogError(f'{where}: price "{row[1].strip()}" is negative')
        out.append((sku, price))
    if not out:
        raise CatalogError(f"{source}: no rows after the header")
    return out


def parse_stock_csv(text: str, source: str = "stock.csv") -> list[tuple[str, int]]:
    """(sku, level) of every row of a `sku,stock` CSV, all or nothing."""
    out: list[tuple[str, int]] = []
    seen: dict[str, str] = {}
    for where, row in _rows(text, source, ("sku", "stock")):
        sku = _text(row[0], "sku", where, required=True, limit=MAX_SKU)
        _once(seen, sku, where)
        raw = row[1].strip()
        if not _WHOLE.match(raw) or abs(int(raw)) > MAX_STOCK:
            raise CatalogError(
                f'{where}: stock "{raw[:40]}" is not a whole number within ±{MAX_STOCK}'
            )
        out.append((sku, int(raw)))
    if not out:
        raise CatalogError(f"{source}: no rows after the header")
    return out
