"""Loyalty bench: the balance query with 1,000 and with 1,000,000 ledger rows.

`python -m bench.loyalty [--rows 1000,1000000] [--pg URL]`. The rows are bulk-inserted
(entries, a lot per ten entries, spread over 1,000 accounts, the measured one among
them), then `Ledger.balance` is timed; the target is the same time at both sizes, as it
reads one primary-key row plus the account's open holds. Results go to
bench/results/loyalty.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from collector.db import open_database
from collector.loyalty.ledger import Ledger
from collector.models import LoyaltyAccount, LoyaltyEntry, LoyaltyLot
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 1_000
TARGET = "00000042"
CHUNK = 20_000


def fill(engine: Engine, rows: int) -> None:
    at = "2026-01-01T00:00:00.000Z"
    with engine.begin() as conn:
        conn.execute(
            insert(LoyaltyAccount),
            [
                {"account": f"{i:08d}", "balance": 0, "overdrawn": 0, "issue": 0, "updated_at": at}
                for i in range(ACCOUNTS)
            ],
        )
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        entries = [
            {
                "id": start + i + 1,
                "key": f"bench:{start + i}",
                "account": f"{(start + i) % ACCOUNTS:08d}",
                "kind": "earn",
                "points": 1,
                "balance": 0,
                "spend": 100,
                "at": at,
                "source": "bench",
                "detail": {},
            }
            for i in range(n)
        ]
        lots = [
            {
                "entry": e["id"],
                "account": e["account"],
                "points": 1,
                "remaining": 1,
                "earned_at": at,
                "expires_at": "2099-01-01T00:00:00.000Z",
                "source": "bench",
            }
            for e in entries[::10]
        ]
        with engine.begin() as conn:
            conn.execute(insert(LoyaltyEntry), entries)
            conn.execute(insert(LoyaltyLot), lots)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def measure(engine: Engine, queries: int) -> dict[str, float]:
    ledger = Ledger(engine)
    for _ in range(50):  # warm the pool and the caches
        ledger.balance(TARGET)
    samples = []
    for _ in range(queries):
        t = time.perf_counter()
        ledger.balance(TARGET)
        samples.append(time.perf_counter() - t)
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000,
    }


def run(url: str, rows: int, queries: int) -> dict[str, Any]:
    engine = open_database(url)
    t = time.perf_counter()
    fill(engine, rows)
    filled = time.perf_counter() - t
    result = {"rows": rows, "fill_s": round(filled, 1), **measure(engine, queries)}
    engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loyalty", description=__doc__)
    p.add_argument("--rows", default="1000,1000000")
    p.add_argument("--queries", type=int, default=2000)
    args = p.parse_args(argv)
    sizes = [int(n) for n in args.rows.split(",")]
    report: dict[str, Any] = {}
    for db in ("sqlite", "postgresql"):
        runs = []
        for rows in sizes:
            if db == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(run(f"sqlite:///{tmp}/bench.db", rows, args.queries))
            else:
                with fresh_database("loyalty_bench") as url:
                    runs.append(run(url, rows, args.queries))
            print(db, runs[-1], flush=True)
        ratio = runs[-1]["p50_ms"] / runs[0]["p50_ms"]
        report[db] = {"runs": runs, "p50_ratio_largest_to_smallest": round(ratio, 2)}
        print(f"{db}: balance p50 ratio {sizes[-1]:,} / {sizes[0]:,} rows = {ratio:.2f}")
    out = ROOT / "bench" / "results" / "loyalty.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
