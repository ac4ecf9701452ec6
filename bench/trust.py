"""Trust on the wire, its figures in one run (issue: trust on the wire).

`python -m bench trust [--seconds 20] [--n 10000] [--tills 100] [--broker plain,tls]
[--unsigned-p99 MS]`. On each broker (bench/brokers.py: plain, then the TLS one that
`collector fleet broker-config` writes, every client with its certificate), one after
the other:

- loyalty: the loyalty-rt bench's steady load (bench/loyalty_roundtrip.py): 99 simulated
  tills and one whole unit each scanning a card every ~1 s for `--seconds`, answered and
  signed by a `collector run` process on SQLite; then its bare QoS 1 echo baseline;
- ingest: the reporting bench's ingest (bench/reporting.py) of `--n` signed records into
  the collector on SQLite, and on PostgreSQL when it is reachable, against the bare
  subscriber on the same broker (acks signed).

One table with the targets: loyalty p99 under 15 ms and at most 1.5× the unsigned figure;
ingest at least 55% of the bare subscriber. The unsigned figure is the steady p99 of the
code before the collector signed its answers (811af26^): 9.0 ms as published on
2026-11-23 unless `--unsigned-p99` gives one measured on the same machine (`python -m
bench loyalty-rt` in a worktree at 811af26^, its steady `all_tills` p99). TLS against
plain for each. Raw results: bench/results/trust.json. About three minutes as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import loyalty_roundtrip
from bench.brokers import KINDS, LABELS
from bench.reporting import bench_ingest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "trust.json"
TARGET_P99_MS = 15.0
UNSIGNED_FACTOR = 1.5
UNSIGNED_P99_MS = 9.0  # docs/benchmarks.md, "Loyalty: authorisation round trip", 2026-11-23
TARGET_INGEST = 0.55  # of the bare subscriber on the same broker
DATABASES = (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))


@dataclass
class Row:
    """One line of the table: a figure per broker kind, TLS over plain, the target and
    whether each kind met it (empty when the line has no target)."""

    what: str
    cells: dict[str, str]
    ratio: float | None = None
    target: str = ""
    met: dict[str, bool] = field(default_factory=dict)


def ratio(values: dict[str, float]) -> float | None:
    if "plain" in values and "tls" in values and values["plain"]:
        return values["tls"] / values["plain"]
    return None


def loyalty_rows(found: dict[str, Any], kinds: list[str], unsigned: float) -> list[Row]:
    def p99(part: str) -> dict[str, float]:
        return {k: float(found[k]["steady"][part]["p99_ms"]) for k in kinds}

    signed = p99("all_tills")
    unit = p99("real_unit_scan_to_balance")
    bare = p99("baseline_bare_qos1")
    tills = found["tills"]
    return [
        Row(
            f"loyalty scan→balance p99, {tills} tills steady, signed",
            {k: f"{v:.1f} ms ({v / bare[k]:.1f}× bare)" for k, v in signed.items()},
            ratio(signed),
            f"< {TARGET_P99_MS:g} ms and ≤ {UNSIGNED_FACTOR * unsigned:.1f} ms "
            f"({UNSIGNED_FACTOR:g}× unsigned {unsigned:.1f})",
            {k: v < TARGET_P99_MS and v <= UNSIGNED_FACTOR * unsigned for k, v in signed.items()},
        ),
        Row(
            "  of which the whole unit (scanner to outcome)",
            {k: f"{v:.1f} ms" for k, v in unit.items()},
            ratio(unit),
        ),
        Row(
            "  bare QoS 1 request→echo p99 (baseline)",
            {k: f"{v:.1f} ms" for k, v in bare.items()},
            ratio(bare),
        ),
    ]


def ingest_rows(found: dict[str, Any], kinds: list[str], n: int) -> list[Row]:
    bare = {k: statistics.mean(found[k]["bare"]) for k in kinds}
    rows = [
        Row(
            f"bare subscriber, {n:,} QoS 1 messages (baseline)",
            {k: f"{v:,.0f} msg/s" for k, v in bare.items()},
            ratio(bare),
        )
    ]
    for db, name in DATABASES:
        rates = {k: found[k][db] for k in kinds if found[k][db] is not None}
        if not rates:
            continue
        share = {k: v / bare[k] for k, v in rates.items()}
        rows.append(
            Row(
                f"collector ingest into {name}, signed acks",
                {k: f"{v:,.0f}/s ({share[k]:.0%})" for k, v in rates.items()},
                ratio(rates),
                f"≥ {TARGET_INGEST:.0%} of bare",
                {k: s >= TARGET_INGEST for k, s in share.items()},
            )
        )
    return rows


def table(rows: list[Row], kinds: list[str]) -> str:
    names = [LABELS[k] for k in kinds]
    head = ["what", *names, "TLS/plain", "target", *(f"{k} met" for k in names)]
    lines = [head]
    for r in rows:
        met = [("✔" if r.met[k] else "✘") if k in r.met else "" for k in kinds]
        times = f"{r.ratio:.2f}×" if r.ratio is not None else ""
        lines.append([r.what, *(r.cells.get(k, "—") for k in kinds), times, r.target, *met])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench trust",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    loyalty_roundtrip.arguments(p, ",".join(KINDS))
    p.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help="seconds of steady loyalty load per broker (its baseline runs as long again)",
    )
    p.add_argument("--n", type=int, default=10_000, help="records per ingest run")
    p.add_argument(
        "--unsigned-p99",
        type=float,
        default=UNSIGNED_P99_MS,
        help=f"the unsigned steady p99 in ms to hold the signed one to (default {UNSIGNED_P99_MS})",
    )
    args = p.parse_args(argv)
    if args.tills < 2 or args.n < 1 or args.seconds <= 0 or args.unsigned_p99 <= 0:
        p.error("--tills at least 2, --n at least 1, --seconds and --unsigned-p99 above 0")
    args.modes = ["steady"]
    args.rounds = max(1, round(args.seconds / args.think))

    loyalty = asyncio.run(loyalty_roundtrip.run(args))
    printed: list[tuple[str, str, str]] = []

    def report(what: str, value: str, note: str) -> None:
        printed.append((what, value, note))
        print(f"{what:<62} {value:>14}  {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="trust-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # Mosquitto, dropped to its own user, reads the broker's files
        ingest = bench_ingest(work, report, args.n, args.broker)

    rows = loyalty_rows(loyalty, args.broker, args.unsigned_p99)
    rows += ingest_rows(ingest, args.broker, args.n)
    print()
    print(table(rows, args.broker))
    out = {
        "when": datetime.now(UTC).isoformat(),
        "commit": commit(),
        "args": dict(vars(args)),
        "loyalty": loyalty,
        "ingest": ingest,
        "reported": printed,
        "rows": [asdict(r) for r in rows],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten {RESULTS}")
    return 0
