"""kill -9 at random moments: every commit the writer reported survives, the chain holds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.store import Store

ROOT = Path(__file__).resolve().parent.parent

# Appends records forever, printing each seq only after append() (the commit) returned.
WRITER = """
import sys
from pathlib import Path
from appliance.store import Store
from protocol.record import Draft, convert

store = Store.open(Path(sys.argv[1]), "till-01")
run = sys.argv[2]
n = 0
print("ready", flush=True)
while True:
    n += 1
    record = store.append(convert({
        "schema": 1, "sale_id": f"{run}-{n}", "kind": "sale", "device": "till-01",
        "store": "s001", "region": "north", "staff": "ana", "ts": "2026-11-23T10:00:00.000Z",
        "currency": "EUR", "lines": [], "total": n, "tax": [], "tenders": [], "change": 0,
        "loyalty": None, "refund_of": None,
    }, Draft), print_receipt=n % 2 == 0)
    if n % 3 == 0:
        store.outbox.ack(record.seq - 1)
    print(record.seq, flush=True)
"""


def run_and_kill(data_dir: Path, run: int, rng: random.Random) -> list[int]:
    """Start a writer, SIGKILL it after a random number of commits; the seqs it reported."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), f"run{run}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    reported: list[int] = []
    wanted = rng.randint(1, 80)
    while len(reported) < wanted:
        reported.append(int(proc.stdout.readline()))
    # Land somewhere inside a later append: between statements, mid-commit, mid-fsync.
    time.sleep(rng.random() * 0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Lines written before the kill but not yet read still name committed records.
    reported += [int(line) for line in proc.stdout.read().split()]
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return reported


def test_commits_survive_sigkill_and_the_chain_verifies(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    rng = random.Random()
    all_reported: list[int] = []
    for run in range(6):
        reported = run_and_kill(data_dir, run, rng)
        all_reported += reported
        with Store.open(data_dir, "till-01") as store:
            seqs = {r.seq for r in store.records()}
            missing = set(all_reported) - seqs
            assert not missing, f"run {run}: reported commits lost: {sorted(missing)}"
            result = store.verify()
            assert result.ok, result
            last = store.last_seq()
            assert seqs == set(range(1, last + 1))
            # The outbox row and print job of each record committed with it, or not at all.
            unacked = [r.seq for r in store.outbox.pending(limit=10_000)]
            assert unacked and unacked == list(range(unacked[0], last + 1))
            printed = [j.seq for j in store.print_jobs.pending()]
            assert printed == [s for s in range(1, last + 1) if _even_in_run(store, s)]
    assert len(all_reported) == len(set(all_reported))


def _even_in_run(store: Store, seq: int) -> bool:
    """Whether the writer asked for a receipt for record `seq` (every second of its run)."""
    record = store.by_seq(seq)
    assert record is not None
    return int(record.sale_id.rsplit("-", 1)[1]) % 2 == 0
