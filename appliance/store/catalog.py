"""The local copy of the catalog, replaced whole on each import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from appliance.sales.catalog import Item
from appliance.store.db import Database
from appliance.store.errors import StoreError
from protocol.errors import BadInput


class CatalogRejected(StoreError, BadInput):
    """A catalog the store refuses (a duplicate SKU, a price that is not whole minor units)."""


class CatalogStore:
    """The catalog table: `replace` swaps it all or nothing, `load` reads it in import order."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, items: Sequence[Item]) -> None:
        """Make `items` the catalog, in one transaction: a failure leaves the old one."""
        rows = []
        seen: set[str] = set()
        for item in items:
            if item.sku in seen:
                raise CatalogRejected(f"catalog: sku {item.sku!r} appears twice; nothing changed")
            seen.add(item.sku)
            # bool is an int in Python; neither it nor a float is an amount of money.
            if type(item.price) is not int or (
                item.stock is not None and type(item.stock) is not int
            ):
                raise CatalogRejected(
                    f"catalog: sku {item.sku!r} has price {item.price!r} / stock "
                    f"{item.stock!r}; both must be whole numbers (minor units); nothing changed"
                )
            rows.append(
                (
                    item.sku,
                    item.barcode,
                    item.name,
                    item.price,
                    item.tax_rate,
                    item.category,
                    item.stock,
                )
            )
        with self._db.transaction(f"replace the catalog ({len(rows)} items)") as conn:
            conn.execute("DELETE FROM catalog")
            conn.executemany(
                "INSERT INTO catalog (sku, barcode, name, price, tax_rate, category, stock) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def load(self) -> list[Item]:
        """Every item, in the order it was imported."""
        # 50k items must fit a Pi's memory budget: rows are streamed, and the few
        # distinct categories and tax rates are shared instead of copied per item.
        shared: dict[str, str] = {}
        return [
            Item(
                sku=sku,
                barcode=barcode,
                name=name,
                price=price,
                tax_rate=shared.setdefault(tax_rate, tax_rate),
                category=shared.setdefault(category, category),
                stock=stock,
            )
            for sku, barcode, name, price, tax_rate, category, stock in self._db.each(
                "read the catalog",
                "SELECT sku, barcode, name, price, tax_rate, category, stock "
                "FROM catalog ORDER BY rowid",
            )
        ]

    def set_stock(self, levels: Mapping[str, int]) -> list[str]:
        """Set stock levels by SKU in one transaction; the SKUs not in the catalog.

        Store-wide levels name items some units do not sell: those are skipped, not refused.
        """
        unknown: list[str] = []
        with self._db.transaction(f"set stock of {len(levels)} items") as conn:
            for sku, level in levels.items():
                cur = conn.execute("UPDATE catalog SET stock = ? WHERE sku = ?", (level, sku))
                if cur.rowcount != 1:
                    unknown.append(sku)
        return unknown

    def adjust_stock(self, deltas: Mapping[str, int]) -> dict[str, int]:
        """Add `deltas` to the levels of items whose stock is counted; their new levels.

        Items without a level (stock NULL) are not counted and stay so.
        """
        out: dict[str, int] = {}
        with self._db.transaction(f"adjust stock of {len(deltas)} items") as conn:
            for sku, delta in deltas.items():
                row = conn.execute(
                    "UPDATE catalog SET stock = stock + ? WHERE sku = ? AND stock IS NOT NULL "
                    "RETURNING stock",
                    (delta, sku),
                ).fetchone()
                if row is not None:
                    out[sku] = int(row[0])
        return out

    def count(self) -> int:
        return int(self._db.query("count the catalog", "SELECT count(*) FROM catalog")[0][0])
