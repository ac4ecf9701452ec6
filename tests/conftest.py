"""Shared fixtures: a config in a temporary data dir, and the CLI run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.keys import ENV as KEYS_ENV
from collector.keys import KeyStore
from demo.day import demo_catalog_text
from tests.broker import Broker

ROOT = Path(__file__).resolve().parent.parent

# One collector identity for the whole run: every collector the tests start, in this
# process or as a process (the variable is inherited), signs with it, and every unit's
# `[mqtt] collector_key` is its public half (`collector_pub()`).
os.environ.setdefault(KEYS_ENV, tempfile.mkdtemp(prefix="collector-keys-"))
COLLECTOR_KEYS = KeyStore(Path(os.environ[KEYS_ENV]))


def collector_pub() -> Path:
    """The tests' collector public key file (made with the key on first use)."""
    COLLECTOR_KEYS.signing_key()
    return COLLECTOR_KEYS.secret("signing.pub")


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
{with_collector_key(extra)}
"""


def with_collector_key(text: str) -> str:
    """`text` with the tests' collector key under its `[mqtt]` (required with a url)."""
    if "[mqtt]\n" not in text or "collector_key" in text:
        return text
    return text.replace("[mqtt]\n", f'[mqtt]\ncollector_key = "{collector_pub()}"\n', 1)


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
