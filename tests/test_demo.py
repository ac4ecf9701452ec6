"""`appliance demo` end to end, as `make demo` runs it: embedded broker, collector on
SQLite, one simulated unit; the collector's report must agree with the till's Z report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_demo_day_reaches_the_collector(tmp_path: Path, broker: str) -> None:
    out = tmp_path / "demo"
    env = dict(os.environ, APPLIANCE_DEMO_BROKER=broker, COLUMNS="120")
    r = subprocess.run(
        [sys.executable, "-m", "appliance", "demo", "--headless", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"via {broker}" in r.stdout
    assert "all acked" in r.stdout
    report = (out / "collector-report.txt").read_text()
    rows = [line for line in report.splitlines()[2:] if line.strip()][:2]
    assert rows and all(line.endswith("yes") for line in rows), report
    records = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in records}
    assert kinds == {"sale", "refund", "no_sale", "shift_close"}
    assert any(r["loyalty"] for r in records if r["kind"] == "sale")
    receipts = out / "receipts"
    assert len(list(receipts.glob("*.png"))) == len(records)
    assert "Z REPORT" in (out / "z-report.txt").read_text()
