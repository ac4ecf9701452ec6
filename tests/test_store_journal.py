"""The store's journal: append, reads, outbox, print jobs, migrations, keys, bad files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from appliance.sales.reports import shift_report
from appliance.store import (
    SCHEMA_VERSION,
    DuplicateSaleError,
    PrintJob,
    Store,
    StoreError,
    StoreFileError,
)
from appliance.store import db as db_module
from protocol import chain
from protocol.chain import GENESIS_HASH, VerifyResult, canonical_json, record_hash, verify_chain
from protocol.errors import BadInput
from protocol.record import Draft, Line, Record, ShiftReport, convert, decode_stored, plain
from tests.records import sale_dict


def draft_dict(n: int, kind: str = "sale", **extra: Any) -> dict[str, Any]:
    """Sale `n` as plain JSON, each its own amount (2.49 + n)."""
    line = {**sale_dict()["lines"][0], "unit_price": 249 + n, "total": 249 + n}
    money = {"lines": [line], "total": 249 + n, "tax": [{"rate": "20", "base": 208, "tax": 41}]}
    return sale_dict(n, kind=kind, change=251 - n, **(money | extra))


def draft(n: int, kind: str = "sale", **extra: Any) -> Draft:
    return convert(draft_dict(n, kind, **extra), Draft)


def fill(store: Store, count: int) -> list[Record]:
    return [store.append(draft(n)) for n in range(1, count + 1)]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper(data_dir: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Edit journal.db behind the store's back, as someone with the sqlite3 shell would."""
    conn = sqlite3.connect(data_dir / "journal.db", isolation_level=None)
    for sql in statements:
        conn.execute(sql, params if "?" in sql else ())
    conn.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Any:
    with Store.open(data_dir, "till-01") as s:
        yield s


# -- append ----------------------------------------------------------------------------


def test_append_assigns_seq_receipt_no_and_links_the_chain(store: Store) -> None:
    first, second = fill(store, 2)
    assert (first.seq, second.seq) == (1, 2)
    assert first.receipt_no == "s001-till-01-000001"
    assert second.receipt_no == "s001-till-01-000002"
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.hash == record_hash(plain(first)) != second.hash
    body = {k: v for k, v in plain(first).items() if k not in ("hash", "sig")}
    assert first.hash == hashlib.sha256(canonical_json(body).encode()).hexdigest()
    assert first.lines[0].name == "Café crème"
    assert store.last_seq() == 2


def test_signature_is_over_the_hex_hash_with_the_device_key(store: Store) -> None:
    record = fill(store, 1)[0]
    public = serialization.load_pem_public_key(store.public_key_pem().encode())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(bytes.fromhex(record.sig), record.hash.encode("ascii"))
    with pytest.raises(InvalidSignature):
        public.verify(bytes.fromhex(record.sig), bytes.fromhex(record.hash))


def test_stored_record_is_the_returned_record(store: Store, data_dir: Path) -> None:
    record = store.append(draft(1))
    assert store.by_seq(1) == record
    conn = sqlite3.connect(data_dir / "journal.db")
    (text,) = conn.execute("SELECT record FROM journal WHERE seq = 1").fetchone()
    conn.close()
    assert text == canonical_json(plain(record))


def test_the_draft_is_not_changed_and_later_edits_do_not_leak_in(store: Store) -> None:
    d = draft(1)
    lines = d.lines
    record = store.append(d)
    assert d.lines is lines
    lines.append(lines[0])  # a struct is frozen, its lists are not
    assert store.by_seq(1) == record
    assert len(record.lines) == 1


def test_append_writes_journal_outbox_and_print_job_together(store: Store) -> None:
    store.append(draft(1))
    store.append(draft(2), print_receipt=False)
    assert store.outbox.depth() == 2
    assert [r.seq for r in store.outbox.pending()] == [1, 2]
    assert store.print_jobs.pending() == [PrintJob(job_id=1, seq=1, copy=False, attempts=0)]


def test_duplicate_sale_id_writes_nothing(store: Store) -> None:
    fill(store, 2)
    with pytest.raises(DuplicateSaleError, match="already in the journal"):
        store.append(draft(2))
    assert store.last_seq() == 2
    assert store.outbox.depth() == 2
    assert len(store.print_jobs.pending()) == 2
    assert len(list(store.records())) == 2
    # The chain carries on from the last committed record, not the refused one.
    third = store.append(draft(3))
    assert third.seq == 3
    assert store.verify().ok


def test_failure_after_the_journal_insert_rolls_back_everything(
    store: Store, data_dir: Path
) -> None:
    fill(store, 1)
    conn = sqlite3.connect(data_dir / "journal.db", isolation_level=None)
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON print_jobs "
        "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
    )
    with pytest.raises(StoreError, match="simulated failure"):
        store.append(draft(2))
    assert conn.execute("SELECT count(*) FROM journal").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (1,)
    assert conn.execute("SELECT seq FROM chain_head").fetchone() == (1,)
    conn.execute("DROP TRIGGER boom")
    conn.close()
    assert store.append(draft(2)).seq == 2
    assert store.verify().ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total": 2.49}, r"Expected `int`, got `float` - at `\$.total`"),
        ({"lines": [Line(**{**plain(draft(1).lines[0]), "total": 1.5})]}, r"\$.lines\[0\].total"),
        ({"device": "till-02"}, "not this store's"),
        ({"kind": "gift"}, r"\$.kind"),
        ({"sale_id": ""}, r"\$.sale_id"),
        ({"staff": object()}, "Encoding objects of type object is unsupported"),
    ],
)
def test_bad_drafts_are_refused_and_nothing_is_written(
    store: Store, change: dict[str, Any], message: str
) -> None:
    # A struct's constructor checks nothing: the store must.
    bad = msgspec.structs.replace(draft(1), **change)
    with pytest.raises(StoreError, match=message):
        store.append(bad)
    assert store.last_seq() == 0
    assert store.outbox.depth() == 0
    assert store.append(draft(1)).seq == 1


def test_a_record_is_refused_where_a_draft_goes(store: Store) -> None:
    record = store.append(draft(1))
    with pytest.raises(StoreError, match="only a Draft"):
        store.append(record)
    assert store.last_seq() == 1


def test_reopen_continues_the_chain(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 3)
        pem = s.public_key_pem()
    with Store.open(data_dir, "till-01") as s:
        assert s.last_seq() == 3
        assert s.public_key_pem() == pem
        assert s.append(draft(4)).prev_hash == s.by_seq(3).hash  # type: ignore[union-attr]
        assert s.verify().ok


def test_two_stores_on_one_journal_do_not_fork_the_chain(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as a, Store.open(data_dir, "till-01") as b:
        a.append(draft(1))
        assert b.append(draft(2)).seq == 2  # b's cached head was stale
        assert a.append(draft(3)).seq == 3
        assert a.verify().ok and b.verify().ok


def test_threads_appending_at_once_keep_the_chain(store: Store) -> None:
    def work(base: int) -> None:
        for n in range(base, base + 20):
            store.append(draft(n))

    threads = [threading.Thread(target=work, args=(b,)) for b in (1, 101, 201, 301)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = store.verify()
    assert result.ok and result.checked == 80


# -- reads -----------------------------------------------------------------------------


def test_lookups(store: Store) -> None:
    records = fill(store, 3)
    assert store.by_seq(2) == records[1]
    assert store.by_receipt_no("s001-till-01-000003") == records[2]
    assert store.by_seq(9) is None
    assert store.by_receipt_no("nope") is None
    assert list(store.records()) == records
    assert [r.seq for r in store.records(after=1)] == [2, 3]
    assert list(store.records(after=3)) == []


def test_records_reads_past_a_batch(store: Store) -> None:
    fill(store, 1205)
    assert [r.seq for r in store.records()] == list(range(1, 1206))
    assert [r.seq for r in store.records(after=999)][:2] == [1000, 1001]


def test_refunded_lines_is_the_union_of_refunds_of_that_sale(store: Store) -> None:
    sale = store.append(draft(1))
    other = store.append(draft(2))
    store.append(draft(3, kind="refund", refund_of=sale.sale_id, refund_lines=[1, 3]))
    store.append(draft(4, kind="refund", refund_of=sale.sale_id, refund_lines=[2, 3]))
    store.append(draft(5, kind="refund", refund_of=other.sale_id, refund_lines=[4]))
    assert store.refunded_lines(sale.sale_id) == {1, 2, 3}
    assert store.refunded_lines(other.sale_id) == {4}
    assert store.refunded_lines("unknown") == set()


def test_since_last_shift_close(store: Store) -> None:
    fill(store, 2)
    assert [r.seq for r in store.since_last_shift_close()] == [1, 2]
    store.append(draft(3, kind="shift_close"))
    assert list(store.since_last_shift_close()) == []
    store.append(draft(4))
    store.append(draft(5, kind="no_sale"))
    assert [r.seq for r in store.since_last_shift_close()] == [4, 5]


def _peak_bytes(work: Callable[[], object]) -> int:
    """The most Python memory (tracemalloc) held at once while `work` ran, beyond before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_shift_is_added_up_as_the_journal_streams_it(store: Store) -> None:
    """The X and Z reports of a busy shift (thousands of sales): the journal hands the
    records over one at a time and the report adds them up in one pass, so what it holds
    does not grow with the shift. As a list, 1,000 decoded sales held 6 MB, and
    `appliance run` kept that RSS after each shift close (bench rss)."""

    def report() -> ShiftReport:
        return shift_report(store.since_last_shift_close(), 2)

    fill(store, 40)
    small = _peak_bytes(report)
    records = [store.append(draft(n)) for n in range(41, 841)]
    big = _peak_bytes(report)
    assert report().records == 840 and report().last_receipt_no == records[-1].receipt_no
    assert big < 2 * small, (small, big)


# -- outbox and print jobs -------------------------------------------------------------


def test_outbox_pending_limit_after_and_ack(store: Store) -> None:
    fill(store, 5)
    assert [r.seq for r in store.outbox.pending(limit=2)] == [1, 2]
    assert [r.seq for r in store.outbox.pending(limit=2, after=2)] == [3, 4]
    assert decode_stored(store.outbox.pending(limit=2)[0].payload) == store.by_seq(1)
    assert store.outbox.ack(3) == 3
    assert store.outbox.ack(3) == 0
    assert store.outbox.depth() == 2
    assert [r.seq for r in store.outbox.pending()] == [4, 5]
    assert store.outbox.ack(99) == 2
    assert store.outbox.pending() == []


def test_print_jobs_copies_attempts_and_printed(store: Store) -> None:
    fill(store, 2)
    copy = store.print_jobs.add_copy(1)
    assert copy == 3
    store.print_jobs.mark_attempt(1, "paper out")
    store.print_jobs.mark_attempt(1, "paper out")
    assert store.print_jobs.pending() == [
        PrintJob(1, 1, False, 2),
        PrintJob(2, 2, False, 0),
        PrintJob(3, 1, True, 0),
    ]
    store.print_jobs.mark_printed(1)
    store.print_jobs.mark_printed(3)
    assert store.print_jobs.pending() == [PrintJob(2, 2, False, 0)]
    with pytest.raises(StoreError, match="no such journal record"):
        store.print_jobs.add_copy(42)
    with pytest.raises(StoreError, match="no print job 42"):
        store.print_jobs.mark_printed(42)
    with pytest.raises(StoreError, match="no print job 42"):
        store.print_jobs.mark_attempt(42, "x")


def test_print_jobs_survive_reopen(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 2)
        s.print_jobs.mark_printed(1)
    with Store.open(data_dir, "till-01") as s:
        assert s.print_jobs.pending() == [PrintJob(2, 2, False, 0)]


# -- chain verification ----------------------------------------------------------------


def test_verify_passes_on_an_intact_journal_and_its_export(store: Store) -> None:
    fill(store, 5)
    result = store.verify()
    assert (result.ok, result.checked, result.seq) == (True, 5, None)
    exported = [json.loads(text) for _, text in store.texts()]
    assert verify_chain(exported, store.public_key_pem()).ok
    assert verify_chain([], store.public_key_pem()) == VerifyResult(
        True, 0, None, "0 records, chain intact"
    )


def test_verify_catches_an_edited_amount(store: Store, data_dir: Path) -> None:
    fill(store, 4)
    record = store.by_seq(3)
    assert record is not None
    edited = plain(record) | {"total": 1}
    tamper(
        data_dir, "UPDATE journal SET record = ? WHERE seq = 3", params=(canonical_json(edited),)
    )
    result = store.verify()
    assert (result.ok, result.seq, result.checked) == (False, 3, 2)
    assert "altered" in result.reason


def test_verify_catches_an_edit_with_a_recomputed_hash(store: Store, data_dir: Path) -> None:
    fill(store, 2)
    record = store.by_seq(2)
    assert record is not None
    edited = plain(record) | {"total": 1}
    edited["hash"] = record_hash(edited)
    tamper(
        data_dir, "UPDATE journal SET record = ? WHERE seq = 2", params=(canonical_json(edited),)
    )
    result = store.verify()
    assert (result.ok, result.seq) == (False, 2)
    assert "signature" in result.reason


def test_verify_catches_a_deleted_record(store: Store, data_dir: Path) -> None:
    fill(store, 5)
    tamper(data_dir, "DELETE FROM journal WHERE seq = 3")
    result = store.verify()
    assert (result.ok, result.seq, result.checked) == (False, 4, 2)
    assert "missing" in result.reason
    exported = [plain(r) for r in store.records()]
    assert verify_chain(exported, store.public_key_pem()).seq == 4


def test_verify_catches_records_deleted_from_the_end(store: Store, data_dir: Path) -> None:
    fill(store, 5)
    tamper(data_dir, "DELETE FROM journal WHERE seq >= 4")
    result = store.verify()
    assert (result.ok, result.seq, result.checked) == (False, 4, 3)
    assert "deleted from the end" in result.reason


def test_verify_catches_reordered_records(store: Store, data_dir: Path) -> None:
    records = [plain(r) for r in fill(store, 4)]
    tamper(
        data_dir,
        "UPDATE journal SET record = ? WHERE seq = 2",
        params=(canonical_json(records[2]),),
    )
    result = store.verify()
    assert (result.ok, result.seq) == (False, 2)
    # The same, seen from an export whose lines were swapped.
    swapped = [records[0], records[2], records[1], records[3]]
    outside = verify_chain(swapped, store.public_key_pem())
    assert (outside.ok, outside.seq, outside.checked) == (False, 3, 1)


def test_verify_catches_a_record_signed_with_another_key(store: Store) -> None:
    records = [plain(r) for r in fill(store, 2)]
    forged = draft_dict(3)
    forged.update(seq=3, receipt_no="s001-till-01-000003", prev_hash=records[1]["hash"])
    forged["hash"] = record_hash(forged)
    forged["sig"] = Ed25519PrivateKey.generate().sign(forged["hash"].encode()).hex()
    result = verify_chain([*records, forged], store.public_key_pem())
    assert (result.ok, result.seq, result.checked) == (False, 3, 2)
    assert "signature" in result.reason
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert verify_chain(records, other.decode()).seq == 1


def test_verify_catches_an_edited_column(store: Store, data_dir: Path) -> None:
    fill(store, 3)
    tamper(data_dir, "UPDATE journal SET kind = 'shift_close' WHERE seq = 2")
    result = store.verify()
    assert (result.ok, result.seq) == (False, 2)
    assert "columns" in result.reason


def test_verify_reports_a_record_that_is_not_json(store: Store, data_dir: Path) -> None:
    fill(store, 2)
    tamper(data_dir, "UPDATE journal SET record = '{broken' WHERE seq = 2")
    result = store.verify()
    assert (result.ok, result.seq) == (False, 2)
    with pytest.raises(StoreFileError, match="journal record 2 is not a record"):
        store.by_seq(2)


def test_verify_chain_refuses_a_bad_public_key(store: Store) -> None:
    fill(store, 1)
    with pytest.raises(chain.PublicKeyError, match="public key"):
        verify_chain([plain(r) for r in store.records()], "not a key")


# -- files: migrations, settings, key, bad input ---------------------------------------


def test_a_fresh_data_dir_gets_the_schema_and_settings(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01"):
        conn = sqlite3.connect(data_dir / "journal.db")
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        conn.close()
    assert {"journal", "outbox", "print_jobs", "catalog", "chain_head"} <= tables
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "device.key").stat().st_mode) == 0o600


def test_migrates_an_empty_database_file(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "journal.db").write_bytes(b"")
    with Store.open(data_dir, "till-01") as s:
        assert s.append(draft(1)).seq == 1


def test_the_connection_is_durable(store: Store) -> None:
    conn = store._db._conn
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_a_newer_database_is_refused_untouched(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 1)
    conn = sqlite3.connect(data_dir / "journal.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = sha(data_dir / "journal.db")
    with pytest.raises(StoreFileError, match="newer than this software") as info:
        Store.open(data_dir, "till-01")
    assert isinstance(info.value, BadInput)
    assert sha(data_dir / "journal.db") == before


def test_a_file_that_is_not_a_database_is_refused_untouched(data_dir: Path) -> None:
    data_dir.mkdir()
    db = data_dir / "journal.db"
    db.write_bytes(b"these are my sales notes, not a database\n" * 100)
    before = sha(db)
    with pytest.raises(StoreFileError, match="not a readable journal database"):
        Store.open(data_dir, "till-01")
    assert sha(db) == before
    assert not (data_dir / "device.key").exists()


def test_another_programs_database_is_refused_untouched(data_dir: Path) -> None:
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / "journal.db")
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = sha(data_dir / "journal.db")
    with pytest.raises(StoreFileError, match="another program"):
        Store.open(data_dir, "till-01")
    assert sha(data_dir / "journal.db") == before


def test_a_damaged_database_gives_store_error(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 300)
    db = data_dir / "journal.db"
    raw = bytearray(db.read_bytes())
    page = 4096
    for offset in range(page, len(raw), page):  # every page but the header page
        raw[offset : offset + 64] = b"\xa5" * 64
    db.write_bytes(bytes(raw))
    # SQLite notices the damage on open or on the first read of a damaged page.
    with (
        pytest.raises(StoreFileError, match="not a readable journal database"),
        Store.open(data_dir, "till-01") as s,
    ):
        list(s.records())


def test_the_device_key_is_kept_and_tightened(data_dir: Path) -> None:
    with Store.open(data_dir, "till-01") as s:
        pem = s.public_key_pem()
    key = data_dir / "device.key"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    key.chmod(0o644)
    with Store.open(data_dir, "till-01") as s:
        assert s.public_key_pem() == pem
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    ],
    ids=["empty", "garbage", "not-ed25519"],
)
def test_a_broken_device_key_is_refused_never_replaced(data_dir: Path, content: bytes) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 1)
    key = data_dir / "device.key"
    key.write_bytes(content)
    with pytest.raises(StoreFileError, match=r"device\.key") as info:
        Store.open(data_dir, "till-01")
    assert "restore" in str(info.value)
    assert key.read_bytes() == content


def test_an_unusable_data_dir_gives_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        Store.open(blocker / "data", "till-01")


def test_a_later_migration_applies_once_and_keeps_the_data(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 2)
    added = ("CREATE TABLE loyalty_queue (seq INTEGER PRIMARY KEY)",)
    monkeypatch.setattr(db_module, "MIGRATIONS", (*db_module.MIGRATIONS, added))
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    for _ in range(2):  # the second open must not run it again
        with Store.open(data_dir, "till-01") as s:
            assert s.last_seq() == 2
            assert s.verify().ok
    conn = sqlite3.connect(data_dir / "journal.db")
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
    assert conn.execute("SELECT count(*) FROM loyalty_queue").fetchone() == (0,)
    conn.close()


def test_a_failing_migration_leaves_the_previous_version(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(data_dir, "till-01") as s:
        fill(s, 1)
    broken = ("CREATE TABLE half_done (x INTEGER)", "CREATE TABLE journal (x INTEGER)")
    monkeypatch.setattr(db_module, "MIGRATIONS", (*db_module.MIGRATIONS, broken))
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"migrate the schema to version {SCHEMA_VERSION + 1}"):
        Store.open(data_dir, "till-01")
    conn = sqlite3.connect(data_dir / "journal.db")
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "half_done" not in names
    monkeypatch.undo()
    with Store.open(data_dir, "till-01") as s:
        assert s.verify().ok


# -- the collector's fast hash check ------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _json_values, max_size=8))
def test_the_fast_hash_is_the_canonical_hash_for_strings_and_integers(
    record: dict[str, Any],
) -> None:
    assert chain._fast_record_hash(record) == chain.record_hash(record)


@given(
    st.dictionaries(
        st.text(),
        _json_values | st.floats(allow_nan=False, allow_infinity=False),
        max_size=8,
    )
)
def test_hash_matches_whatever_the_fast_path_spells_differently(record: dict[str, Any]) -> None:
    digest = chain.record_hash(record)
    assert chain.hash_matches(record, digest)
    assert not chain.hash_matches(record, "0" * 64)


def test_a_real_record_takes_the_fast_path(store: Store) -> None:
    record = store.append(draft(1), False)
    assert chain._fast_record_hash(plain(record)) == record.hash


def test_a_lost_device_key_is_not_replaced_while_the_journal_has_records(
    data_dir: Path,
) -> None:
    with Store.open(data_dir, "till-01") as s:
        pem = s.public_key_pem()
    (data_dir / "device.key").unlink()
    with Store.open(data_dir, "till-01") as s:  # an empty journal: a new identity is fine
        assert s.public_key_pem() != pem
        fill(s, 3)
    (data_dir / "device.key").unlink()
    with pytest.raises(StoreFileError, match=r"missing, and the journal holds 3 records"):
        Store.open(data_dir, "till-01")
    assert not (data_dir / "device.key").exists()


def test_held_receipts_are_listed_until_reprinted_or_cleared(store: Store) -> None:
    fill(store, 4)
    assert store.print_jobs.hold([1, 2, 3], "too old") == 3
    assert store.print_jobs.hold([1], "again") == 0  # only a queued job is held
    assert [j.job_id for j in store.print_jobs.pending()] == [4]
    held = store.print_jobs.held()
    assert [(h.job_id, h.receipt_no, h.copy, h.reason) for h in held] == [
        (3, "s001-till-01-000003", False, "too old"),
        (2, "s001-till-01-000002", False, "too old"),
        (1, "s001-till-01-000001", False, "too old"),
    ]
    assert [h.total for h in held] == [252, 251, 250] and held[0].sold.endswith("Z")
    assert store.print_jobs.held_count() == 3
    # A copy of record 2 queued: its held job is done with, in the same transaction.
    copy = store.print_jobs.add_copy(2)
    assert store.print_jobs.state(2) == "reprinted" and store.print_jobs.state(copy) == "queued"
    assert [j.job_id for j in store.print_jobs.pending()] == [4, copy]
    assert store.print_jobs.dismiss([1, 2, 4]) == 1  # 2 is reprinted, 4 was never held
    assert [h.job_id for h in store.print_jobs.held()] == [3]
    assert [store.print_jobs.state(j) for j in (1, 2, 3, 4, copy, 99)] == [
        "dismissed",
        "reprinted",
        "held",
        "queued",
        "queued",
        None,
    ]


def test_the_print_jobs_of_a_version_1_journal_carry_over(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setattr(db_module, "MIGRATIONS", db_module.MIGRATIONS[:1])
        m.setattr(db_module, "SCHEMA_VERSION", 1)
        with Store.open(data_dir, "till-01") as s:
            fill(s, 3)
            s.print_jobs.mark_printed(1)
            s.print_jobs.mark_attempt(2, "paper out")
    conn = sqlite3.connect(data_dir / "journal.db")
    assert conn.execute("PRAGMA user_version").fetchone() == (1,)
    conn.close()
    with Store.open(data_dir, "till-01") as s:
        assert s.print_jobs.pending() == [PrintJob(2, 2, False, 1), PrintJob(3, 3, False, 0)]
        assert s.print_jobs.state(1) == "printed"
        assert s.print_jobs.add_copy(1) == 4  # the job numbers go on after the old ones
        assert s.verify().ok
    conn = sqlite3.connect(data_dir / "journal.db")
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
