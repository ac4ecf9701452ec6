"""Shared fixtures: a config in a temporary data dir, and the CLI run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.day import demo_catalog_text
from tests.broker import Broker

ROOT = Path(__file__).resolve().parent.parent


def config_text(data_dir: Path, extra: str = "", **store: object) -> str:
    rounding = store.get("cash_rounding", 1)
    currency = store.get("currency", "EUR")
    included = "true" if store.get("prices_include_tax", True) else "false"
    return f"""
[device]
id = "till-01"
store = "s001"
region = "north"
[store]
currency = "{currency}"
prices_include_tax = {included}
cash_rounding = {rounding}
[paths]
data_dir = "{data_dir}"
[loyalty]
points_per_unit = 1
point_value = 1
offline_redeem_cap = 100
[hardware]
printer = "file:{data_dir}/printer.bin"
drawer_pin = 17
{extra}
"""


@pytest.fixture
def till_config(tmp_path: Path) -> Path:
    """A config whose data dir is fresh, with the demo catalog imported."""
    data = tmp_path / "data"
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(config_text(data))
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(demo_catalog_text())
    r = run_cli("catalog", "import", "--config", str(cfg), str(catalog))
    assert r.returncode == 0, r.stderr
    return cfg


def run_cli(
    *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`appliance ARGS` as a separate process, the way an operator runs it."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture
def broker() -> Iterator[Broker]:
    """A fresh Mosquitto on a free port, stopped after the test."""
    b = Broker()
    try:
        yield b
    finally:
        b.close()
