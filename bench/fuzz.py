"""The fuzz targets of tests/test_fuzz_handlers.py for longer: `python -m bench fuzz
[--minutes N] [--pg] [--only TEXT]`.

The same handlers, strategies and properties (tests/fuzz_targets.py, tests/fuzzing.py)
on the same real parts, the time shared out evenly between the targets. Each target runs
in rounds of `ROUND` examples, each round from a fresh random seed (printed with any
failure, with the example hypothesis shrank it to), until its share of the time is
spent. Prints the examples run and the distinct failures per handler, and writes them
to bench/results/fuzz.json, with a tally of what the handlers did with the examples (taken,
refused and why), which says how deep they got. Not a speed figure: what was tried, and
what broke.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

from tests.broker import Broker
from tests.fuzz_targets import TARGETS, CollectorUnderFuzz, Target, UnitUnderFuzz
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parent.parent
ROUND = 200  # examples per seed


def _failure_key(exc: BaseException) -> str:
    """Failures alike when they are the same exception from the same line of our code."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "/site-packages/" not in f.filename
    ]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    first = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__} at {where}: {first}"


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def fuzz(target: Target, harness: Any, seconds: float) -> dict[str, Any]:
    """Run `target` against `harness` for about `seconds`; what it tried and found."""
    calls = 0
    failures: dict[str, dict[str, Any]] = {}

    def prop(args: tuple[Any, ...]) -> None:
        nonlocal calls
        calls += 1
        target.check(harness, *args)

    seen = Counter(getattr(harness, "outcomes", {}))
    started = time.monotonic()
    rounds = 0
    while time.monotonic() - started < seconds:
        round_seed = random.getrandbits(64)
        test = settings(
            max_examples=ROUND,
            deadline=None,
            database=None,
            print_blob=False,
            suppress_health_check=list(HealthCheck),
        )(seed(round_seed)(given(target.inputs)(prop)))
        rounds += 1
        try:
            test()
        except Exception as exc:  # what hypothesis found, shrunk: record it and go on
            for leaf in _leaves(exc):
                key = _failure_key(leaf)
                if key not in failures:
                    notes = "\n".join(getattr(leaf, "__notes__", []))
                    failures[key] = {"seed": round_seed, "seen": 0, "example": notes[-1500:]}
                    print(f"  FAILURE {key}\n    seed {round_seed}\n    {notes[-600:]}", flush=True)
                failures[key]["seen"] += 1
    outcomes = Counter(getattr(harness, "outcomes", {})) - seen
    return {
        "handler": target.name,
        "examples": calls,
        "outcomes": dict(outcomes.most_common()),
        "rounds": rounds,
        "seconds": round(time.monotonic() - started, 1),
        "failures": [{"failure": k, **v} for k, v in failures.items()],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fuzz", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="in all (default 10)")
    parser.add_argument(
        "--pg", action="store_true", help="the collector on PostgreSQL at 127.0.0.1:5432 too"
    )
    parser.add_argument("--only", default="", help="only the handlers whose name has this")
    args = parser.parse_args(argv)
    # The handlers log every refusal; the fuzz sends hundreds a second.
    root = logging.getLogger()
    root.setLevel(logging.ERROR)
    for handler in list(root.handlers):  # python-escpos calls basicConfig() when imported
        root.removeHandler(handler)
    targets = [t for t in TARGETS.values() if args.only in t.name]
    runs: list[tuple[Target, str]] = [
        (t, "sqlite" if t.side == "collector" else "") for t in targets
    ]
    if args.pg:
        runs += [(t, "postgresql") for t in targets if t.side == "collector" and t.database]
    share = args.minutes * 60 / max(len(runs), 1)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp, contextlib.ExitStack() as stack:
        broker = Broker()
        stack.callback(broker.close)
        harnesses: dict[str, Any] = {}

        def harness(side: str, db: str) -> Any:
            """One harness per side and database, made on first use, closed at the end
            (before the broker stops and the PostgreSQL database is dropped)."""
            if db not in harnesses:
                where = Path(tmp) / (db or side)
                where.mkdir()
                if side == "unit":
                    made: Any = UnitUnderFuzz(where, broker)
                else:
                    url = None
                    if db == "postgresql":
                        url = stack.enter_context(fresh_database("collector_fuzz"))
                    made = CollectorUnderFuzz(where, broker, url)
                stack.callback(made.close)
                harnesses[db] = made
            return harnesses[db]

        for target, db in runs:
            label = f"{target.name}{f' on {db}' if db else ''}"
            print(f"{label}: {share:.0f} s", flush=True)
            result = fuzz(target, harness(target.side, db), share) | {"database": db or None}
            print(
                f"  {result['examples']} examples in {result['seconds']} s, "
                f"{len(result['failures'])} distinct failures",
                flush=True,
            )
            for what, n in list(result["outcomes"].items())[:12]:
                print(f"    {n:6d}  {what}", flush=True)
            results.append(result)
    out = ROOT / "bench" / "results" / "fuzz.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"minutes": args.minutes, "runs": results}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 1 if any(r["failures"] for r in results) else 0
