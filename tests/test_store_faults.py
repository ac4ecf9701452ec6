"""The journal's own faults, with real processes: a journal that fails SQLite's integrity
check puts the till out of service instead of selling into it, and a full disk stops the
till taking sales (replay exits 1) instead of "keeping" sales that vanish at exit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from appliance.store import Store
from tests.conftest import config_text, run_cli


def sales(n: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [{"op": "login", "staff": "ana"}]
    for i in range(n):
        events += [
            {"op": "key", "sku": "A1"},
            {"op": "tender", "type": "card", "ref": f"T{i}"},
        ]
    return events


def scenario(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def outcomes(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_a_corrupt_journal_puts_the_till_out_of_service(till_config: Path, tmp_path: Path) -> None:
    r = run_cli("replay", "--config", str(till_config), str(scenario(tmp_path / "a", sales(300))))
    assert r.returncode == 0, r.stderr
    journal = till_config.parent / "data" / "journal.db"
    size = journal.stat().st_size
    with journal.open("r+b") as f:  # 8 KB of garbage in the middle, as the issue did
        f.seek(size // 2)
        f.write(random.Random(8).randbytes(8192))
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    r = run_cli("replay", "--config", str(till_config), str(scenario(tmp_path / "b", sales(2))))
    assert r.returncode == 1, (r.stdout, r.stderr)
    [refused] = outcomes(r.stdout)
    assert refused["rejected"] == "replay"
    reason = str(refused["reason"])
    assert reason.startswith("the till is out of service: journal.db fails SQLite's integrity")
    assert "Traceback" not in r.stderr and "till out of service" in r.stderr
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before, "nothing sold into it"
    assert run_cli("journal", "verify", "--config", str(till_config)).returncode != 0


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_stops_sales_and_loses_none_reported_done(
    tmp_path: Path, till_config: Path
) -> None:
    # A real full disk: a 3 MB tmpfs the test mounts (the suite runs as root, as CI does).
    with small_filesystem(tmp_path / "small", "3m") as small:
        data = small / "data"
        shutil.copytree(till_config.parent / "data", data)  # the catalog, as imported
        cfg = tmp_path / "small.toml"
        cfg.write_text(config_text(data))
        r = run_cli("replay", "--config", str(cfg), str(scenario(tmp_path / "s", sales(3000))))
        assert r.returncode == 1, (r.stdout[-2000:], r.stderr[-2000:])
        out = outcomes(r.stdout)
        done = [o["sale_id"] for o in out if "sale_id" in o]
        refused = [str(o["reason"]) for o in out if "rejected" in o]
        assert 0 < len(done) < 3000
        assert any("NOT yet saved" in reason for reason in refused)
        assert any("no new sale until they are" in reason for reason in refused)
        assert refused[-1].endswith("completed sales were NOT saved")
        assert "Traceback" not in r.stderr
        # Every sale the till reported done is in the journal; the journal is sound.
        with Store.open(data, "till-01") as store:
            assert [rec.sale_id for rec in store.records()] == done
            assert store.verify().ok
