"""The TOML config: strict, with one clear line per mistake."""

from __future__ import annotations

import pytest

from appliance.config import ConfigError, load_config, parse_config

GOOD = """
[device]
id = "till-01"
store = "s001"
region = "north"
[store]
currency = "CHF"
prices_include_tax = true
cash_rounding = 5
[paths]
data_dir = "/tmp/x"
[mqtt]
url = "mqtt://127.0.0.1:1883"
collector_key = "/etc/appliance/collector.pub"
[loyalty]
points_per_unit = 1
point_value = 1
offline_redeem_cap = 0
[hardware]
printer = "file:/tmp/printer.bin"
scanner = "/dev/serial/by-id/x"
drawer_pin = 17
[update]
pubkey = "/etc/appliance/release.pub"
"""


def test_the_contract_example_parses() -> None:
    cfg = parse_config(GOOD)
    assert cfg.device.id == "till-01"
    assert cfg.store.cash_rounding == 5
    assert cfg.exponent == 2
    assert str(cfg.data_dir) == "/tmp/x"
    assert cfg.hardware.print_max_age == 600  # ten minutes: the customer has gone by then
    longer = parse_config(GOOD.replace("drawer_pin = 17", "drawer_pin = 17\nprint_max_age = 900"))
    assert longer.hardware.print_max_age == 900


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD.replace('region = "north"', 'region = "north"\ncolour = "red"'), "colour"),
        (GOOD.replace("drawer_pin = 17", 'drawer_pin = "17"'), "hardware.drawer_pin"),
        (GOOD.replace('id = "till-01"', 'id = "Till 01"'), "device.id"),
        (GOOD.replace('region = "north"', f'region = "{"r" * 65}"'), "device.region"),
        (GOOD.replace('currency = "CHF"', 'currency = "XYZ"'), "currency"),
        (GOOD.replace("cash_rounding = 5", "cash_rounding = 0"), "cash_rounding"),
        (GOOD.replace("cash_rounding = 5", "cash_rounding = 100000"), "cash_rounding"),
        (
            GOOD.replace("cash_rounding = 5", "cash_rounding = 99999999999999999999"),
            "store.cash_rounding: Expected `int` <= 1000",
        ),
        (
            GOOD.replace('data_dir = "/tmp/x"', 'data_dir = "/tmp/\\u0000x"'),
            "paths.data_dir: control character U+0000 is not allowed",
        ),
        (
            GOOD.replace("cash_rounding = 5", 'cash_rounding = 5\nfooter = ["Merci\\u001dV"]'),
            "store.footer[0]: control character U+001D is not allowed",
        ),
        (GOOD + "[till]\ncashier_discount_max = 101\n", "till.cashier_discount_max"),
        (GOOD + "[till]\ncashier_discount_max = 12.5\n", "till.cashier_discount_max"),
        (GOOD + "[till]\npin_lockout = 0\n", "till.pin_lockout: Expected `int` >= 1"),
        (GOOD + "[till]\npin_wait_max = 0.5\n", "till.pin_wait_max"),
        (GOOD + "[till]\npin_limit = 3\n", "pin_limit"),
        (
            GOOD.replace("drawer_pin = 17", "drawer_pin = 17\nprint_max_age = 10"),
            "hardware.print_max_age: Expected `float` >= 30",
        ),
        (
            GOOD.replace("drawer_pin = 17", "drawer_pin = 17\nprint_max_age = 604801"),
            "hardware.print_max_age: Expected `float` <= 604800",
        ),
        (
            GOOD.replace("drawer_pin = 17", 'drawer_pin = 17\nprint_max_age = "10m"'),
            "print_max_age",
        ),
        (GOOD + "\n[journal]\ncheck_interval = 0\n", "journal.check_interval"),
        (GOOD.replace("[device]", "[device"), "not valid TOML"),
        ("[store]\ncurrency = 'EUR'\n", "device"),
    ],
)
def test_mistakes_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "shop.toml")
    msg = str(e.value)
    assert msg.startswith("shop.toml: ")
    assert needle in msg
    assert "\n" not in msg


def test_the_till_limits_have_their_defaults_and_take_a_shops_own() -> None:
    t = parse_config(GOOD).till
    assert (t.cashier_discount_max, t.pin_tries, t.pin_lockout) == (10, 3, 10)
    assert (t.pin_till_tries, t.pin_wait_max) == (10, 300.0)
    own = parse_config(GOOD + "[till]\ncashier_discount_max = 0\npin_lockout = 5\n").till
    assert (own.cashier_discount_max, own.pin_lockout, own.pin_tries) == (0, 5, 3)


def test_missing_file_is_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
