"""The contract's commands, run as an operator would: good input works, bad input exits 2
with one line and changes nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import run_cli

SCENARIO = [
    {"op": "login", "staff": "ana"},
    {"op": "scan", "code": "4006381333931"},
    {"op": "key", "sku": "B1", "qty": 2},
    {"op": "qty", "qty": 3},
    {"op": "discount", "percent": 10},
    {"op": "scan", "code": "4006381333932"},  # bad check digit
    {"op": "key", "sku": "NOPE"},
    {"op": "tender", "type": "cash", "amount": "20.00"},
    {"op": "key", "sku": "W1"},
    {"op": "tender", "type": "card", "ref": "T-0001"},
    {"op": "no_sale", "reason": "change for the float"},
    {"op": "refund", "receipt_no": "s001-till-01-000001", "lines": [2]},
    {"op": "refund", "receipt_no": "s001-till-01-000001", "lines": [2]},  # twice: refused
    {"op": "shift_close"},
]


def write_scenario(path: Path, events: list[dict]) -> Path:  # type: ignore[type-arg]
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_replay_prints_sales_and_rejections(till_config: Path, tmp_path: Path) -> None:
    scen = write_scenario(tmp_path / "day.jsonl", SCENARIO)
    r = run_cli("replay", "--config", str(till_config), str(scen))
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    rejected = [o for o in out if "rejected" in o]
    done = [o for o in out if "sale_id" in o]
    assert [o["rejected"] for o in rejected] == ["scan", "key", "refund"]
    assert "check digit" in rejected[0]["reason"]
    # 1.45 + 3 × 1.20 = 5.05, less 10 % on the baguettes (0.36) = 4.69; 20.00 - 4.69
    assert done[0] == {**done[0], "receipt_no": "s001-till-01-000001", "total": 469, "change": 1531}
    assert done[1]["total"] == 750 and done[1]["change"] == 0
    assert done[2]["receipt_no"] == "s001-till-01-000004"  # after the no-sale
    assert done[2]["total"] == -324 and done[2]["change"] == 0

    export = run_cli("journal", "export", "--config", str(till_config))
    assert export.returncode == 0, export.stderr
    records = lines(export.stdout)
    assert [r["kind"] for r in records] == ["sale", "sale", "no_sale", "refund", "shift_close"]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    first = records[0]
    for key in (
        "schema",
        "sale_id",
        "receipt_no",
        "device",
        "store",
        "region",
        "staff",
        "ts",
        "currency",
        "lines",
        "total",
        "tax",
        "tenders",
        "change",
        "loyalty",
        "refund_of",
        "prev_hash",
        "hash",
        "sig",
    ):
        assert key in first, key
    assert first["prev_hash"] == "0" * 64
    assert records[1]["prev_hash"] == first["hash"]
    assert records[3]["refund_of"] == first["sale_id"]
    assert run_cli("journal", "verify", "--config", str(till_config)).returncode == 0
    # Every receipt printed once, and saved as text and PNG.
    receipts = till_config.parent / "data" / "receipts"
    assert len(list(receipts.glob("*.txt"))) == 5
    assert len(list(receipts.glob("*.png"))) == 5


def test_verify_finds_an_edited_record(till_config: Path, tmp_path: Path) -> None:
    scen = write_scenario(tmp_path / "day.jsonl", SCENARIO[:8])
    assert run_cli("replay", "--config", str(till_config), str(scen)).returncode == 0
    db = sqlite3.connect(till_config.parent / "data" / "journal.db")
    (record,) = db.execute("SELECT record FROM journal WHERE seq = 1").fetchone()
    db.execute(
        "UPDATE journal SET record = ? WHERE seq = 1",
        (record.replace('"total":469', '"total":69'),),
    )
    db.commit()
    db.close()
    r = run_cli("journal", "verify", "--config", str(till_config))
    assert r.returncode == 1
    assert "1" in r.stdout


def test_bad_catalog_row_changes_nothing(till_config: Path, tmp_path: Path) -> None:
    before = run_cli(
        "replay",
        "--config",
        str(till_config),
        str(write_scenario(tmp_path / "a.jsonl", [*SCENARIO[:3], SCENARIO[7]])),
    )
    assert before.returncode == 0
    bad = tmp_path / "catalog.csv"
    bad.write_text(
        "sku,barcode,name,price,tax_rate\n"
        "X1,4006381333931,Pen,1.00,20\n"
        'X2,3760123450010,Bread,"1,2x",5.5\n'
    )
    r = run_cli("catalog", "import", "--config", str(till_config), str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert 'catalog.csv:3: price "1,2x" is not a number' in r.stderr
    assert "Traceback" not in r.stderr
    # The old catalog is still there: B1 still sells.
    again = run_cli(
        "replay",
        "--config",
        str(till_config),
        str(write_scenario(tmp_path / "b.jsonl", [*SCENARIO[:3], SCENARIO[7]])),
    )
    assert lines(again.stdout)[-1]["total"] == lines(before.stdout)[-1]["total"]


def test_bad_input_exits_2_with_one_line(till_config: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(till_config.read_text().replace("drawer_pin = 17", "drawer_pin = 'x'"))
    bad_scen = tmp_path / "bad.jsonl"
    bad_scen.write_text('{"op":"login","staff":"ana"}\n{"op":"dance"}\n')
    cases = [
        ("replay", "--config", str(broken), str(bad_scen)),
        ("replay", "--config", str(tmp_path / "missing.toml"), str(bad_scen)),
        ("replay", "--config", str(till_config), str(bad_scen)),
        ("replay", "--config", str(till_config), str(tmp_path / "missing.jsonl")),
        ("catalog", "import", "--config", str(till_config), str(tmp_path / "none.csv")),
        ("journal", "export"),
        ("run", "--config", str(broken)),
        ("frobnicate",),
    ]
    journal = till_config.parent / "data" / "journal.db"
    size = journal.stat().st_size
    for args in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert "bad.jsonl:2: unknown op 'dance'" in run_cli(*cases[2]).stderr
    assert journal.stat().st_size == size


def test_journal_commands_on_a_fresh_config(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    from tests.conftest import config_text

    cfg.write_text(config_text(tmp_path / "never"))
    r = run_cli("journal", "verify", "--config", str(cfg))
    assert r.returncode == 2 and "no journal" in r.stderr
    assert not (tmp_path / "never").exists()


def test_the_builtin_commands_are_known_without_looking_for_plugins() -> None:
    """`appliance run` skips the entry-point scan; the list it trusts must be complete."""
    import argparse

    from appliance.cli import BUILTIN_COMMANDS, build_parser

    def commands(parser: argparse.ArgumentParser) -> set[str]:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert commands(build_parser(plugins=False)) == BUILTIN_COMMANDS
    assert commands(build_parser()) == BUILTIN_COMMANDS | {"demo"}


def test_replay_refuses_amounts_that_are_not_amounts_and_carries_on(
    till_config: Path, tmp_path: Path
) -> None:
    """They crashed replay with a traceback, and a tender of 10^23 gave change to match."""
    bad = ["abc", "1,20", "1e5", "NaN", "-0", "99999999999999999999999", "100000000.01"]
    events = [{"op": "login", "staff": "ana"}, {"op": "key", "sku": "A1"}]
    events += [{"op": "tender", "type": "cash", "amount": a} for a in bad]
    events += [{"op": "tender", "type": "cash", "amount": "5.00"}]
    scen = write_scenario(tmp_path / "bad.jsonl", events)
    r = run_cli("replay", "--config", str(till_config), str(scen))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = lines(r.stdout)
    reasons = [o["reason"] for o in out if o.get("rejected") == "tender"]
    assert reasons[:4] == [f'"{a}" is not a number' for a in bad[:4]]
    assert reasons[4] == "tender amount must be more than zero"
    assert reasons[5:] == [
        '"99999999999999999999999" is over the largest amount, 100000000.00',
        '"100000000.01" is over the largest amount, 100000000.00',
    ]
    done = [o for o in out if "sale_id" in o]
    assert len(done) == 1 and done[0]["total"] == 145 and done[0]["change"] == 355


def test_control_characters_in_a_card_ref_or_a_reason_still_print(
    till_config: Path, tmp_path: Path
) -> None:
    """ "AUTH\\r123" and a reason with GS made Pillow fail: that receipt and every later one
    stayed queued, across restarts. Both print, and so does the sale after them."""
    events = [
        {"op": "login", "staff": "ana"},
        {"op": "key", "sku": "A1"},
        {"op": "tender", "type": "card", "ref": "AUTH\r123"},
        {"op": "no_sale", "reason": "float \u001d check"},
        {"op": "key", "sku": "B1"},
        {"op": "tender", "type": "cash", "amount": "5.00"},
    ]
    scen = write_scenario(tmp_path / "ctl.jsonl", events)
    r = run_cli("replay", "--config", str(till_config), str(scen))
    assert r.returncode == 0 and "crashed" not in r.stderr, r.stderr
    receipts = till_config.parent / "data" / "receipts"
    for n in (1, 2, 3):
        for ext in ("txt", "png", "bin"):
            assert (receipts / f"s001-till-01-00000{n}.{ext}").is_file(), (n, ext, r.stderr)
    assert "Card AUTH 123" in (receipts / "s001-till-01-000001.txt").read_text()
    assert "float   check" in (receipts / "s001-till-01-000002.txt").read_text()
    export = lines(run_cli("journal", "export", "--config", str(till_config)).stdout)
    assert export[0]["tenders"][0]["ref"] == "AUTH 123"  # kept clean in the journal too
    assert export[1]["reason"] == "float   check"


def test_a_unit_with_sales_and_no_device_key_refuses_to_start(
    till_config: Path, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path / "one.jsonl", SCENARIO[:3] + SCENARIO[7:8])
    assert run_cli("replay", "--config", str(till_config), str(scenario)).returncode == 0
    data = till_config.parent / "data"
    (data / "device.key").rename(tmp_path / "device.key.lost")
    journal = (data / "journal.db").read_bytes()
    for args in (
        ("replay", "--config", str(till_config), str(scenario)),
        ("run", "--config", str(till_config), "--simulate"),
        ("journal", "export", "--config", str(till_config)),
    ):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "device key is missing, and the journal holds 1 record signed" in r.stderr
        assert not (data / "device.key").exists()  # no new identity was made
    assert (data / "journal.db").read_bytes() == journal
    # The key back from the backup: the unit is itself again.
    (tmp_path / "device.key.lost").rename(data / "device.key")
    assert run_cli("journal", "verify", "--config", str(till_config)).returncode == 0
