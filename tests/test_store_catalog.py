"""The local catalog: replaced all or nothing, loaded in import order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.sales.catalog import Item
from appliance.store import Store, StoreError
from protocol.errors import BadInput


def item(n: int, **change: Any) -> Item:
    fields: dict[str, Any] = {
        "sku": f"SKU{n}",
        "barcode": f"{n:013d}",
        "name": f"Item {n} – ünïcode",
        "price": 100 + n,
        "tax_rate": "5.5" if n % 2 else "20",
        "category": "food",
        "stock": None if n % 3 else n,
    }
    fields.update(change)
    return Item(**fields)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store.open(tmp_path / "data", "till-01") as s:
        yield s


def test_replace_and_load_round_trip_in_order(store: Store, tmp_path: Path) -> None:
    assert store.catalog.load() == []
    items = [item(n) for n in (5, 1, 3, 2)]
    store.catalog.replace(items)
    assert store.catalog.load() == items
    assert store.catalog.count() == 4
    store.catalog.replace([item(9)])
    assert store.catalog.load() == [item(9)]
    store.close()
    with Store.open(tmp_path / "data", "till-01") as again:
        assert again.catalog.load() == [item(9)]


def test_a_large_catalog(store: Store) -> None:
    items = [item(n) for n in range(50_000)]
    store.catalog.replace(items)
    assert store.catalog.count() == 50_000
    assert store.catalog.load() == items


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (item(2, sku="SKU1"), "appears twice"),
        (item(2, price=2.49), "whole numbers"),
        (item(2, price=True), "whole numbers"),
        (item(2, stock=1.5), "whole numbers"),
    ],
)
def test_a_bad_catalog_changes_nothing(store: Store, bad: Item, message: str) -> None:
    store.catalog.replace([item(7)])
    with pytest.raises(StoreError, match=message) as info:
        store.catalog.replace([item(1), bad])
    assert isinstance(info.value, BadInput)
    assert store.catalog.load() == [item(7)]


def test_a_failure_inside_the_transaction_keeps_the_old_catalog(store: Store) -> None:
    store.catalog.replace([item(7)])
    with pytest.raises(StoreError, match="replace the catalog"):
        store.catalog.replace([item(1), item(2, name=None)])  # NOT NULL fails mid-insert
    assert store.catalog.load() == [item(7)]
