"""kill -9 during a busy day: the journal stays intact and holds every reported sale once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, run_cli

KILLS = 24


def busy_day(rng: random.Random, sales: int) -> list[dict]:  # type: ignore[type-arg]
    from appliance.sales.catalog import parse_catalog_csv
    from demo.day import demo_catalog_text

    items = parse_catalog_csv(demo_catalog_text(), 2, "catalog.csv")
    events: list[dict] = [{"op": "login", "staff": "ana"}]  # type: ignore[type-arg]
    for n in range(sales):
        for _ in range(rng.randint(1, 4)):
            item = rng.choice(items)
            if rng.random() < 0.5:
                events.append({"op": "scan", "code": item.barcode})
            else:
                events.append({"op": "key", "sku": item.sku, "qty": rng.randint(1, 3)})
        if rng.random() < 0.2:
            events.append({"op": "discount", "percent": 5, "scope": "basket"})
        if rng.random() < 0.5:
            events.append({"op": "tender", "type": "cash", "amount": "100.00"})
        else:
            events.append({"op": "tender", "type": "card", "ref": f"T{n}"})
        if n % 25 == 24:
            events.append({"op": "no_sale", "reason": "float check"})
    return events


def test_sigkill_never_loses_or_repeats_a_reported_sale(till_config: Path, tmp_path: Path) -> None:
    rng = random.Random(20261123)
    scenario = tmp_path / "busy.jsonl"
    scenario.write_text("\n".join(json.dumps(e) for e in busy_day(rng, 400)) + "\n")
    reported: list[str] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance",
                "replay",
                "--config",
                str(till_config),
                str(scenario),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        buf = b""
        # Kill somewhere between start-up and well into the selling.
        deadline = time.monotonic() + rng.uniform(0.3, 3.0)
        while time.monotonic() < deadline and proc.poll() is None:
            chunk = proc.stdout.read() or b""
            buf += chunk
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        buf += proc.stdout.read() or b""
        proc.stdout.close()
        # Only whole lines count as reported: a torn last line was never fully said.
        for line in buf.split(b"\n")[:-1]:
            out = json.loads(line)
            if "sale_id" in out:
                reported.append(out["sale_id"])

        verify = run_cli("journal", "verify", "--config", str(till_config))
        assert verify.returncode == 0, verify.stdout + verify.stderr
        export = run_cli("journal", "export", "--config", str(till_config))
        records = [json.loads(x) for x in export.stdout.splitlines()]
        ids = [r["sale_id"] for r in records]
        assert len(ids) == len(set(ids)), "a sale is in the journal twice"
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        missing = set(reported) - set(ids)
        assert not missing, f"reported sales missing from the journal: {missing}"
    assert len(reported) > 50, "the kills came too early to test anything"
