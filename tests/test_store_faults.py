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

from appliance.config import parse_config
from appliance.service import open_unit
from appliance.store import Store
from tests.conftest import config_text, run_cli
from tests.waiting import until


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


async def test_the_running_till_checks_its_journal_every_check_interval(
    till_config: Path, tmp_path: Path
) -> None:
    """Not only at start: every `[journal] check_interval` seconds (6 h in a shop; the
    RSS bench makes it seconds), so a journal damaged under a running till stops it."""
    r = run_cli("replay", "--config", str(till_config), str(scenario(tmp_path / "a", sales(100))))
    assert r.returncode == 0, r.stderr
    text = till_config.read_text() + "\n[journal]\ncheck_interval = 0.2\n"
    cfg = parse_config(text)
    assert cfg.journal.check_interval == 0.2
    async with open_unit(cfg, simulate=True) as unit:
        await unit.journal_checked.wait()
        assert unit.controller.out_of_service is None
        journal = cfg.data_dir / "journal.db"
        with journal.open("r+b") as f:  # damaged while the till sells
            f.seek(journal.stat().st_size // 2)
            f.write(random.Random(8).randbytes(8192))
        await until(lambda: unit.controller.out_of_service is not None, "the next check", 30)
        reason = unit.controller.out_of_service or ""
        assert reason.startswith("journal.db fails SQLite's integrity check")


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
