"""`appliance receipt reprint --config FILE RECEIPT_NO` as an operator runs it: the copy
comes out marked COPY, printed here when no service runs and by the service when one
does; an unknown receipt, a printer that is not there and a roster's PIN check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, run_cli
from tests.test_sales_till import ROSTER

CUT = b"\x1dV\x00"


def sell(config: Path, tmp_path: Path) -> str:
    """One card sale through `appliance replay`; its receipt number."""
    scenario = tmp_path / "sale.jsonl"
    events = [
        {"op": "login", "staff": "marie", "pin": "9999"},
        {"op": "key", "sku": "B1", "qty": 2},
        {"op": "tender", "type": "card", "ref": "T1"},
    ]
    scenario.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    r = run_cli("replay", "--config", str(config), str(scenario))
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout.splitlines()[-1])["receipt_no"])


def receipts(paper: bytes) -> list[bytes]:
    return [r for r in paper.split(CUT) if r.strip(b"\n")]


def test_a_copy_is_printed_marked_copy_when_no_service_runs(
    till_config: Path, tmp_path: Path
) -> None:
    no = sell(till_config, tmp_path)
    paper = till_config.parent / "data" / "printer.bin"
    before = receipts(paper.read_bytes())
    assert len(before) == 1 and b"COPY" not in before[0]
    r = run_cli("receipt", "reprint", "--config", str(till_config), no)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{no}: copy printed")
    after = receipts(paper.read_bytes())
    assert len(after) == 2 and after[0] == before[0]
    assert after[1].count(b"COPY") == 2 and no.encode() in after[1]  # top and bottom
    # The copy's text is kept beside the original's.
    saved = sorted(p.name for p in (till_config.parent / "data" / "receipts").glob("*.txt"))
    assert saved == [f"{no}-copy-1.txt", f"{no}.txt"], saved


def test_an_unknown_receipt_is_bad_input(till_config: Path, tmp_path: Path) -> None:
    sell(till_config, tmp_path)
    r = run_cli("receipt", "reprint", "--config", str(till_config), "s001-till-01-999999")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not in this till's journal" in r.stderr


def test_a_printer_that_is_not_there_leaves_the_copy_queued(
    till_config: Path, tmp_path: Path
) -> None:
    no = sell(till_config, tmp_path)
    gone = till_config.parent / "gone"
    text = till_config.read_text().replace(
        f"file:{till_config.parent / 'data'}/printer.bin", f"file:{gone}/printer.bin"
    )
    config = tmp_path / "unplugged.toml"
    config.write_text(text)
    r = run_cli("receipt", "reprint", "--config", str(config), no, "--wait", "2")
    assert r.returncode == 1
    assert "copy queued" in r.stderr and "not printed within 2 s" in r.stderr
    # The job is kept: with the printer back, the next look prints it (once).
    r = run_cli("receipt", "reprint", "--config", str(till_config), no)
    assert r.returncode == 0, r.stderr
    paper = receipts((till_config.parent / "data" / "printer.bin").read_bytes())
    assert [p.count(b"COPY") for p in paper] == [0, 2, 2]


def test_the_running_service_prints_the_copy(till_config: Path, tmp_path: Path) -> None:
    no = sell(till_config, tmp_path)
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.settimeout(20)
    service = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--simulate", "--config", str(till_config)],
        cwd=ROOT,
        env=dict(os.environ, NOTIFY_SOCKET=str(notify)),
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while b"READY=1" not in sock.recv(4096):
            assert time.monotonic() < deadline
        # The service holds the till: a second one is refused, the reprint goes through it.
        second = run_cli("replay", "--config", str(till_config), str(tmp_path / "sale.jsonl"))
        assert second.returncode == 2 and "another appliance process" in second.stderr
        r = run_cli("receipt", "reprint", "--config", str(till_config), no)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"{no}: copy printed")
        assert service.poll() is None
    finally:
        service.terminate()
        service.wait(15)
        sock.close()
    paper = receipts((till_config.parent / "data" / "printer.bin").read_bytes())
    assert [p.count(b"COPY") for p in paper] == [0, 2]


def test_a_named_reprint_needs_a_supervisors_pin(tmp_path: Path) -> None:
    from tests.conftest import config_text

    staff = "".join(
        f'[[staff]]\nid = "{m.id}"\nname = "{m.name}"\nrole = "{m.role}"\n'
        f'pin_hash = "{m.pin_hash}"\n'
        for m in ROSTER
    )
    config = tmp_path / "appliance.toml"
    config.write_text(config_text(tmp_path / "data", staff))
    from demo.day import demo_catalog_text

    (tmp_path / "catalog.csv").write_text(demo_catalog_text())
    assert run_cli("catalog", "import", "--config", str(config), str(tmp_path / "catalog.csv"))
    no = sell(config, tmp_path)
    args = ("receipt", "reprint", "--config", str(config), no, "--staff")
    wrong = run_cli(*args, "marie", input="1111\n")
    assert wrong.returncode == 2 and "PIN" in wrong.stderr
    cashier = run_cli(*args, "ana", input="1234\n")
    assert cashier.returncode == 2 and "needs a supervisor" in cashier.stderr
    ok = run_cli(*args, "marie", input="9999\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"{no}: copy printed for marie")
