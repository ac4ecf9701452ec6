"""Catalog CSV import (all or nothing, one clear line per mistake) and look-ups."""

from __future__ import annotations

import pytest

from appliance.sales.catalog import Catalog, CatalogError, Item, parse_catalog_csv
from demo.day import demo_catalog_text
from protocol.cards import make_loyalty_card

HEADER = "sku,barcode,name,price,tax_rate,category,stock\n"
ROW_A = "A1,4006381333931,Stabilo point 88,1.45,20,Stationery,50\n"
ROW_B = "B1,3760123450010,Baguette,1.20,5.5,Bakery,\n"
UPC = "036000291452"  # UPC-A; its EAN-13 form is 0036000291452


def test_demo_catalog_parses() -> None:
    items = parse_catalog_csv(demo_catalog_text(), 2)
    assert len(items) == 40
    assert items[0] == Item("A1", "4006381333931", "Stabilo point 88", 145, "20", "Stationery", 50)
    assert all(isinstance(i.price, int) for i in items)


def test_columns_by_name_optional_absent_bom_and_canonical_rate() -> None:
    text = (
        "\ufeffname,tax_rate,price,barcode,sku\r\n"
        "Loose apples,5.50,2,,F1\r\n"
        "Cola,20.0,0.5,036000291452,C1\r\n"
    )
    items = parse_catalog_csv(text, 2)
    assert items == [
        Item("F1", "", "Loose apples", 200, "5.5", "", None),
        Item("C1", UPC, "Cola", 50, "20", "", None),  # stored as given (UPC-A)
    ]


def test_zero_exponent_currency() -> None:
    items = parse_catalog_csv(HEADER + "J1,4006381333931,Onigiri,180,8,,\n", 0)
    assert items[0].price == 180 and items[0].tax_rate == "8"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "catalog.csv: the file is empty; it needs a header and items"),
        ("\n\n", "catalog.csv: the file is empty; it needs a header and items"),
        (HEADER, "catalog.csv: no items after the header"),
        (
            HEADER + ROW_A + "A2,3760123450010,Bad,1,2x,20,,\n",
            "catalog.csv:3: 8 fields, the header has 7",
        ),
        (
            HEADER + ROW_A + 'A2,3760123450010,Pen,"1,2x",20,,\n',
            'catalog.csv:3: price "1,2x" is not a number',
        ),
        (HEADER + "A2,3760123450010,Pen,1.234,20,,\n", 'catalog.csv:2: price "1.234" has more'),
        (HEADER + "A2,3760123450010,Pen,-1.00,20,,\n", 'catalog.csv:2: price "-1.00" is negative'),
        (HEADER + "A2,3760123450010,Pen,,20,,\n", 'catalog.csv:2: price "" is not a number'),
        (HEADER + "A2,3760123450010,Pen,1,abc,,\n", 'catalog.csv:2: tax rate "abc" is not'),
        (HEADER + "A2,3760123450010,Pen,1,101,,\n", 'catalog.csv:2: tax rate "101" is not'),
        (HEADER + "A2,3760123450010,Pen,1,20,,x\n", 'catalog.csv:2: stock "x" is not a whole'),
        # int("--5") raised ValueError out of the import; these three went to the store,
        # which cannot hold more than 64 bits (or Python would not even make the int).
        (HEADER + "A2,3760123450010,Pen,1,20,,--5\n", 'catalog.csv:2: stock "--5" is not a'),
        (
            HEADER + "A2,3760123450010,Pen,1,20,,-1000000001\n",
            'catalog.csv:2: stock "-1000000001" is beyond 1,000,000,000 either way',
        ),
        (HEADER + f"A2,3760123450010,Pen,1,20,,{2**63}\n", "catalog.csv:2: stock"),
        (HEADER + "A2,3760123450010,Pen,1,20,," + "9" * 5000 + "\n", "catalog.csv:2: stock"),
        (HEADER + ",3760123450010,Pen,1,20,,\n", "catalog.csv:2: sku is empty"),
        (
            HEADER + "S" * 65 + ",3760123450010,Pen,1,20,,\n",
            "catalog.csv:2: sku is longer than 64 characters",
        ),
        (
            HEADER + "A2,3760123450010,Pen,1000000000,20,,\n",
            'catalog.csv:2: price "1000000000" is over the largest amount, 100000000.00',
        ),
        (
            HEADER + "A2,3760123450010,P\x85en,1,20,,\n",
            "catalog.csv:2: name 'P\\x85en' has a control character (U+0085)",
        ),
        (HEADER + "A2,3760123450010, ,1,20,,\n", "catalog.csv:2: name is empty"),
        (
            HEADER + ROW_A + "A1,3760123450010,Pen,1,20,,\n",
            'catalog.csv:3: sku "A1" already on line 2',
        ),
        (
            HEADER + ROW_A + "A2,4006381333931,Pen,1,20,,\n",
            'catalog.csv:3: barcode "4006381333931" already on line 2',
        ),
        (
            HEADER + f"C1,{UPC},Cola,1,20,,\nC2,0{UPC},Cola,1,20,,\n",
            f'catalog.csv:3: barcode "0{UPC}" already on line 2',
        ),
        (
            HEADER + "A2,4006381333932,Pen,1,20,,\n",
            "catalog.csv:2: barcode '4006381333932' has a wrong check digit",
        ),
        (HEADER + "A2,40063813,Pen,1,20,,\n", "catalog.csv:2: barcode '40063813' has a wrong"),
        (HEADER + "A2,12345,Pen,1,20,,\n", "catalog.csv:2: barcode '12345' has 5 digits"),
        (
            HEADER + f"A2,{make_loyalty_card('00000001')},Pen,1,20,,\n",
            'catalog.csv:2: barcode "2900000000018" is in the loyalty card range',
        ),
        ("sku,barcode,name,price\nA,,B,1\n", "catalog.csv:1: header lacks tax_rate"),
        ("sku,barcode,name,price,tax_rate,colour\n", "catalog.csv:1: unknown column 'colour'"),
        ("sku,sku,barcode,name,price,tax_rate\n", "catalog.csv:1: column 'sku' appears twice"),
        (HEADER + 'A2,,"Two\nlines",1,20,,\n', "catalog.csv:2: name 'Two\\nlines' has a control"),
    ],
)
def test_bad_rows_are_refused_with_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(CatalogError) as err:
        parse_catalog_csv(text, 2)
    assert str(err.value).startswith(message), str(err.value)


def test_line_numbers_are_physical_lines() -> None:
    # Blank lines count; a row is named by the line it starts on.
    multiline = HEADER + ROW_A + "\n" + 'X1,,Pen,1,20,"Multi\nline",\n'
    with pytest.raises(CatalogError, match=r"^shop\.csv:4: category 'Multi\\nline' has a control"):
        parse_catalog_csv(multiline, 2, "shop.csv")
    text = HEADER + ROW_A + "\n" + 'X1,,"Quoted, with comma",1,20,Misc,\n' + "X2,,Bad,zz,20,,\n"
    with pytest.raises(CatalogError, match=r'^shop\.csv:5: price "zz" is not a number$'):
        parse_catalog_csv(text, 2, "shop.csv")


def test_a_bad_row_means_no_items_at_all() -> None:
    text = HEADER + ROW_A + ROW_B + "C1,,Cheese,x,5.5,,\n"
    with pytest.raises(CatalogError):
        parse_catalog_csv(text, 2)


def test_catalog_lookups() -> None:
    items = parse_catalog_csv(HEADER + ROW_A + ROW_B + f"C1,{UPC},Cola,1,20,Drinks,\n", 2)
    catalog = Catalog(items)
    assert len(catalog) == 3
    assert list(catalog) == items
    cola = items[2]
    assert catalog.by_barcode(UPC) is cola
    assert catalog.by_barcode("0" + UPC) is cola  # the scanner may send either form
    assert catalog.by_barcode("4006381333931") is items[0]
    assert catalog.by_barcode("3760123450027") is None
    assert catalog.by_sku("B1") is items[1]
    assert catalog.by_sku("b1") is None
    assert catalog.categories() == ["Stationery", "Bakery", "Drinks"]


def test_ean13_item_found_by_its_upca_form() -> None:
    catalog = Catalog([Item("C1", "0" + UPC, "Cola", 100, "20")])
    assert catalog.by_barcode(UPC) is not None


def test_catalog_refuses_duplicates() -> None:
    a = Item("A1", "4006381333931", "Pen", 100, "20")
    with pytest.raises(CatalogError, match="sku"):
        Catalog([a, Item("A1", "", "Other", 1, "20")])
    with pytest.raises(CatalogError, match="barcode"):
        Catalog([a, Item("A2", "4006381333931", "Other", 1, "20")])
    assert len(Catalog([Item("X", "", "x", 1, "0"), Item("Y", "", "y", 1, "0")])) == 2


def test_large_catalog_builds_and_finds() -> None:
    from protocol.cards import ean_check_digit

    items = []
    for n in range(50_000):
        body = f"200{n:09d}"
        items.append(Item(f"S{n}", body + str(ean_check_digit(body)), f"Item {n}", n, "20"))
    catalog = Catalog(items)
    assert len(catalog) == 50_000
    assert catalog.by_barcode(items[49_999].barcode) is items[49_999]
    assert catalog.by_sku("S12345") is items[12_345]
