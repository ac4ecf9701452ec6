# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""`collector fleet rekey`: a replaced unit (same device id, new journal key) is refused
until the rekey, then its journal is a new chain of the device from seq 1, ingested beside
the old chain's records, which stay; the old key's late records and a third key are
refused. Real SQLite and PostgreSQL, signed journals from real appliance Stores, the
collector's own commands as processes, and `appliance run` units through `collector run`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from appliance.config import load_config
from appliance.store import Store
from collector.ingest.batches import Incoming, Ingestor
from collector.models import (
    Device,
    DeviceChain,
    Enrolment,
    Event,
    Sale,
    SaleLine,
    Stock,
)
from protocol.messages import Status, device_topic
from protocol.record import plain
from tests.broker import Broker
from tests.conftest import ROOT, config_text
from tests.records import enrol
from tests.test_collector_batches import acks, dead, resends
from tests.test_collector_ingest import database_url, draft, engine  # noqa: F401
from tests.test_system_reporting import fill_journal, journal_ids, spawn, stop

DEVICE, STORE = "till-41", "s001"


def collector(*args: str) -> str:
    """`collector ARGS` as the operator runs it; its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "collector", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Unit:
    """A unit's journal (a real Store, so its own key) and what it sends, as messages."""

    def __init__(self, path: Path, device: str = DEVICE) -> None:
        self.store = Store.open(path, device)
        self.device = device

    def birth(self, version: str = "1.0") -> Incoming:
        status = Status(state="online", version=version, pubkey=self.store.public_key_pem())
        topic = device_topic(STORE, self.device, "status")
        return Incoming(topic, self.store.seal(topic, status))  # as the unit seals it

    def sell(self, count: int) -> list[Incoming]:
        """`count` more signed sales, as they come off the broker."""
        start = self.store.last_seq()
        return [
            self.message(plain(self.store.append(draft(start + i, self.device, STORE), False)))
            for i in range(1, count + 1)
        ]

    def message(self, record: dict[str, Any]) -> Incoming:
        return Incoming(device_topic(STORE, self.device, "sales"), json.dumps(record).encode())

    def again(self, *seqs: int) -> list[Incoming]:
        """Records of the journal sent again (a resend, a reconnect)."""
        return [self.message(json.loads(text)) for seq, text in self.store.texts() if seq in seqs]


@pytest.fixture
def units(tmp_path: Path) -> Iterator[tuple[Unit, Unit, Unit]]:
    """The unit, its replacement and a third: one device id, three journal keys."""
    found = (Unit(tmp_path / "old"), Unit(tmp_path / "new"), Unit(tmp_path / "third"))
    yield found
    for unit in found:
        unit.store.close()


def chains(engine: Engine, device: str = DEVICE) -> list[tuple[int, int]]:
    """(chain, seq) of every stored sale of `device`, in order."""
    with Session(engine) as s:
        rows = s.execute(
            select(Sale.chain, Sale.seq).where(Sale.device == device).order_by(Sale.chain, Sale.seq)
        )
        return [(int(c), int(q)) for c, q in rows]


def state(engine: Engine) -> dict[str, Any]:
    """What a refused message must not change: the device (but when it was last seen),
    its chains, its permission, the sales with their lines, and the stock."""
    with Session(engine) as s:
        dev = s.get(Device, DEVICE)
        assert dev is not None
        found = s.get(Enrolment, DEVICE)
        assert found is not None
        return {
            "device": {
                c.key: getattr(dev, c.key) for c in Device.__table__.columns if c.key != "last_seen"
            },
            "chains": [
                (c.chain, c.public_key, c.last_seq, c.last_hash, c.ended_at)
                for c in s.scalars(select(DeviceChain).order_by(DeviceChain.chain))
            ],
            "rekey_allowed": found.rekey_allowed,
            "sales": s.execute(select(Sale.chain, Sale.seq, Sale.sale_id, Sale.hash)).all(),
            "lines": s.scalar(select(func.count()).select_from(SaleLine)),
            "stock": s.execute(select(Stock.store, Stock.sku, Stock.level)).all(),
        }


def test_a_replaced_unit_is_a_new_chain_once_rekey_allows_it(
    engine: Engine, database_url: str, units: tuple[Unit, Unit, Unit]
) -> None:
    old, new, third = units
    enrol(engine, DEVICE)
    ingestor = Ingestor(engine)
    result = ingestor.ingest([old.birth(), *old.sell(3)])
    assert (result.ingested, result.dead, acks(result)) == (3, 0, [3])

    # The replacement reports before anyone said so: its key and its sales (seqs 1 to 3,
    # which chain 1 has, and one past its end) are refused; nothing is acked (its outbox
    # would drop what it has not delivered) or asked for, nothing changes.
    before = state(engine)
    result = ingestor.ingest([new.birth("2.0"), *new.sell(4)])
    assert (result.ingested, result.dead, acks(result), resends(result)) == (0, 5, [], [])
    assert state(engine) == before
    reasons = dead(engine)
    assert reasons[0] == (
        f"a second public key for {DEVICE} was refused; the key of chain 1 stays "
        f"(`collector fleet rekey {DEVICE}` lets the next one be taken)"
    )
    assert reasons[1:4] == [
        f"seq {n} conflicts with the record ingested and is not signed with {DEVICE}'s key "
        "(chain 1)"
        for n in (1, 2, 3)
    ]
    assert reasons[4].startswith("seq 4: prev_hash does not match")

    said = collector("fleet", "rekey", "--db", database_url, DEVICE)
    assert said == (
        f"{DEVICE}: the next journal key it announces is taken, once: its journal becomes "
        "chain 2 from seq 1, and chain 1's records stay as they are; records still signed "
        "with the old key are refused\n"
    )
    # Until the new key is announced the old one is the device's: its next sale goes in.
    result = ingestor.ingest(old.sell(1))
    assert (result.ingested, acks(result)) == (1, [4])

    # The replacement announces its key again (it does at every connect): taken, chain 2.
    result = ingestor.ingest([new.birth("2.0")])
    assert (result.ingested, result.dead, result.publish) == (0, 0, [])
    with Session(engine) as s:
        dev = s.get(Device, DEVICE)
        assert dev is not None
        assert (dev.chain, dev.last_seq, dev.last_hash) == (2, 0, "0" * 64)
        assert dev.public_key == new.store.public_key_pem() and dev.version == "2.0"
        [ended] = s.scalars(select(DeviceChain)).all()
        assert (ended.chain, ended.public_key, ended.last_seq) == (
            1,
            old.store.public_key_pem(),
            4,
        )
        assert ended.last_hash == json.loads(old.again(4)[0].payload)["hash"]
        enrolment = s.get(Enrolment, DEVICE)
        assert enrolment is not None and not enrolment.rekey_allowed  # one rekey, one key
        rekeyed = s.scalars(select(Event).where(Event.kind == "rekeyed")).one()
        assert rekeyed.detail["chain"] == 2 and rekeyed.detail["ended"] == {
            "chain": 1,
            "last_seq": 4,
        }

    # Its journal from seq 1, checked against its key, acked in its own numbering; sent
    # again (as a unit whose acks were lost does), taken once.
    result = ingestor.ingest(new.again(1, 2, 3))
    assert (result.ingested, result.dead, acks(result)) == (3, 0, [3])
    result = ingestor.ingest(new.again(1, 2, 3, 4))
    assert (result.ingested, result.duplicates, result.dead, acks(result)) == (1, 3, 0, [4])
    # A gap in the new chain is asked for from the new chain's seq.
    gap = new.sell(3)
    result = ingestor.ingest(gap[1:])
    assert (result.ingested, resends(result), acks(result)) == (0, [5], [])
    result = ingestor.ingest(gap)
    assert (result.ingested, acks(result)) == (3, [7])
    assert chains(engine) == [(1, n) for n in range(1, 5)] + [(2, n) for n in range(1, 8)]

    # The old unit, still out there: its birth, a sale it made after the switch, and its
    # journal sent again are all refused as the replaced key's; nothing acked or asked.
    before = state(engine)
    late = old.sell(1)
    result = ingestor.ingest([old.birth("1.0"), *late, *old.again(1, 2, 3, 4)])
    assert (result.ingested, result.dead, acks(result), resends(result)) == (0, 6, [], [])
    assert state(engine) == before
    reasons = dead(engine)[-6:]
    assert reasons[0].startswith(
        f"the public key of {DEVICE}'s chain 1 was replaced by `collector fleet rekey` at "
    )
    assert reasons[0].endswith("(chain 2 is current): refused")
    replaced = f"is signed with the key of {DEVICE}'s chain 1, which `collector fleet rekey`"
    assert all(replaced in r and "(chain 2 is current)" in r for r in reasons[1:]), reasons
    assert sorted(r.split()[1] for r in reasons[1:]) == ["1", "2", "3", "4", "5"]

    # A third key, with no rekey for it: refused as the second was before the rekey.
    result = ingestor.ingest([third.birth("3.0"), *third.sell(1)])
    assert (result.ingested, result.dead, acks(result)) == (0, 2, [])
    assert state(engine) == before
    assert dead(engine)[-2] == (
        f"a second public key for {DEVICE} was refused; the key of chain 2 stays "
        f"(`collector fleet rekey {DEVICE}` lets the next one be taken)"
    )

    # Both chains' sales are in the reports; the fleet shows the chain it is on.
    report = collector("report", "sales", "--db", database_url, "--by", "store", "--format", "json")
    assert json.loads(report) == [{"group": STORE, "sales": 11, "total": 11 * 250}]
    [row] = json.loads(collector("fleet", "status", "--db", database_url, "--json"))
    assert (row["device"], row["chain"], row["last_seq"], row["version"]) == (DEVICE, 2, 7, "2.0")
    assert "chain" in collector("fleet", "status", "--db", database_url)
    with Session(engine) as s:
        assert s.scalars(select(Stock.level).where(Stock.sku == "A1")).one() == -11


def test_a_rekey_before_the_first_key_is_spent_by_it(
    engine: Engine, database_url: str, units: tuple[Unit, Unit, Unit]
) -> None:
    """A unit replaced before it ever reported: its first key is the next key announced,
    so the permission goes with it and a later key is refused."""
    first, other, _ = units
    enrol(engine, DEVICE)
    said = collector("fleet", "rekey", "--db", database_url, DEVICE)
    assert "it has announced none yet, so that is its first (chain 1 from seq 1)" in said
    ingestor = Ingestor(engine)
    result = ingestor.ingest([first.birth(), *first.sell(2)])
    assert (result.ingested, result.dead, acks(result)) == (2, 0, [2])
    result = ingestor.ingest([other.birth()])
    assert result.dead == 1
    with Session(engine) as s:
        dev, found = s.get(Device, DEVICE), s.get(Enrolment, DEVICE)
        assert dev is not None and found is not None
        assert (dev.chain, dev.public_key, found.rekey_allowed) == (
            1,
            first.store.public_key_pem(),
            False,
        )
    assert chains(engine) == [(1, 1), (1, 2)]


def test_the_switch_and_both_units_records_in_one_batch(
    engine: Engine, database_url: str, units: tuple[Unit, Unit, Unit]
) -> None:
    """One batch, in the order a broker may deliver it: the replacement's birth, its first
    records and the old unit's last ones (one of them seq 1 again, linking to the genesis
    hash as the new chain's seq 1 does). Only the new chain's are taken, once."""
    old, new, _ = units
    enrol(engine, DEVICE)
    ingestor = Ingestor(engine)
    ingestor.ingest([old.birth(), *old.sell(2)])
    collector("fleet", "rekey", "--db", database_url, DEVICE)
    late = old.sell(2)
    batch = [*late, *old.again(1), *new.sell(3), new.birth(), *new.again(1)]
    result = ingestor.ingest(batch)
    assert (result.ingested, result.duplicates, result.dead) == (3, 1, 3)
    assert (acks(result), resends(result)) == ([3], [])
    assert chains(engine) == [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
    assert all("signed with the key of till-41's chain 1" in r for r in dead(engine)), dead(engine)


# -- a replaced appliance through `collector run` ---------------------------------------------


def unit_config(root: Path, broker: Broker) -> Path:
    """An appliance config for till-01 with its own data directory (so its own key)."""
    root.mkdir(parents=True)
    cfg = root / "appliance.toml"
    cfg.write_text(config_text(root / "data", extra=f'[mqtt]\nurl = "{broker.url}"\n'))
    return cfg


def sale_ids(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(Sale.sale_id)))


def outbox_depth(cfg: Path) -> int:
    config = load_config(cfg)
    with Store.open(config.data_dir, config.device.id) as store:
        return store.outbox.depth()


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened within {timeout:g} s: {what}"
        time.sleep(0.1)


def test_a_replaced_appliance_reports_through_collector_run_after_rekey(
    engine: Engine, database_url: str, broker: Broker, tmp_path: Path
) -> None:
    """`appliance run` reports 3 sales; it is replaced by another `appliance run` with the
    same device id and a new DATA_DIR (so a new key) holding 2 sales. Before the rekey
    its key is refused; after `collector fleet rekey` and its next connect, its journal
    goes in as chain 2, acked so that its outbox empties. The old unit, started again
    with a sale it made since, is refused and changes nothing."""
    enrol(engine, "till-01")
    old, new = unit_config(tmp_path / "old", broker), unit_config(tmp_path / "new", broker)
    fill_journal(old, 3)
    fill_journal(new, 2)
    log = tmp_path / "run.log"
    args = ("--db", database_url, "--broker", broker.url, "--id", "collector-rekey")
    proc = spawn("collector", "run", *args, log=log)
    try:
        unit = spawn("appliance", "run", "--simulate", "--config", str(old), log=log)
        try:
            wait_for(lambda: outbox_depth(old) == 0, "the old unit's sales acked")
        finally:
            stop(unit)
        assert sorted(sale_ids(engine)) == sorted(journal_ids(old))

        unit = spawn("appliance", "run", "--simulate", "--config", str(new), log=log)
        try:
            refused = "a second public key for till-01 was refused"
            wait_for(lambda: any(refused in r for r in dead(engine)), "the new key refused")
        finally:
            stop(unit)
        assert sorted(sale_ids(engine)) == sorted(journal_ids(old))

        collector("fleet", "rekey", "--db", database_url, "till-01")
        unit = spawn("appliance", "run", "--simulate", "--config", str(new), log=log)
        try:
            wait_for(lambda: outbox_depth(new) == 0, "the new unit's sales acked")
            assert chains(engine, "till-01") == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
            assert sorted(sale_ids(engine)) == sorted(journal_ids(old) + journal_ids(new))

            # The old unit comes back with a sale made since: refused, nothing changes.
            fill_journal(old, 1)
            before = len(dead(engine))
            back = spawn("appliance", "run", "--simulate", "--config", str(old), log=log)
            try:
                late = "seq 4 is signed with the key of till-01's chain 1"
                wait_for(lambda: any(late in r for r in dead(engine)[before:]), "late refused")
            finally:
                stop(back)
            assert outbox_depth(old) == 1
            assert chains(engine, "till-01") == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
        finally:
            stop(unit)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()[-3000:]
    with Session(engine) as s:
        dev = s.get(Device, "till-01")
        assert dev is not None and (dev.chain, dev.last_seq) == (2, 2)
