"""Verified, idempotent ingest: a batch of MQTT messages becomes one database transaction.

Per device, in seq order: `seq <= last` is a duplicate (re-acked); `seq == last + 1` must
link to the last hash and hash to its content (protocol.chain), and the device's
signature must vouch for it before it is inserted: its own, or that of the newest record
of its device in the batch, whose hash covers it through the chain (`_Walk`);
`seq > last + 1` is a gap (nothing inserted, a `cmd/resend` from `last + 1`). `last` is
the device's current chain's (`Device.chain`): a new journal key, taken once `collector
fleet rekey` allowed it (`Ingestor._key`), starts a new chain from seq 1, and records still
signed with a key a rekey replaced are refused as such, never acked or taken for a gap.
The device row is locked for the transaction (SELECT … FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE serialises writers), so several collectors on one database stay correct.
Anything we refuse goes to dead_letters with the reason. Acks and commands are only
returned to the caller, to publish after the commit. The sales themselves go in through
`collector.ingest.bulk`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, select
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    OperationalError,
    StatementError,
)
from sqlalchemy.orm import Session

from collector.config import LoyaltySection
from collector.enrolment import device_verifier, enrolments, no_key_yet, refusal, unproved
from collector.ingest.bulk import SALES, insert_sales, stored_ids
from collector.keys import KeyStore
from collector.loyalty.settlement import settle_record
from collector.models import DeadLetter, Device, DeviceChain, Enrolment, Event
from collector.outgoing import Outgoing
from collector.pki import ca_certificate
from collector.stock import stock_moves
from collector.upsert import upsert_insert
from protocol.chain import GENESIS_HASH, ChainChecker, PublicKeyError, load_public_key
from protocol.envelope import EnvelopeError, peek
from protocol.limits import MAX_REGION, MAX_VERSION
from protocol.messages import (
    MAX_PAYLOAD,
    Ack,
    Command,
    DeviceEvent,
    Status,
    Telemetry,
    WireError,
    decode_record,
    device_topic,
    encode,
    from_body,
    parse_device_topic,
)
from protocol.record import Record
from protocol.timestamps import utc_stamp

log = logging.getLogger("collector.ingest")
DEAD_LETTER_KEEP = 4096  # bytes of a refused payload kept for a human to look at
T = TypeVar("T")


@dataclass(frozen=True)
class Incoming:
    """One message as it came off the broker."""

    topic: str
    payload: bytes


@dataclass
class BatchResult:
    """What a committed batch did, and what to publish now that it is committed."""

    publish: list[Outgoing] = field(default_factory=list)
    ingested: int = 0
    duplicates: int = 0
    dead: int = 0
    gaps: int = 0
    stock_changed: bool = False


def _devices(batch: list[Incoming]) -> list[str]:
    out = []
    for msg in batch:
        with contextlib.suppress(WireError):
            out.append(parse_device_topic(msg.topic)[1])
    return out


class _Refused(Exception):
    """A message that goes to dead_letters with this reason."""


@dataclass
class _Sale:
    msg: Incoming
    store: str
    device: str
    record: Record
    raw: dict[str, Any]


@dataclass(frozen=True)
class _Retired:
    """A chain of the device that a rekey ended, with its key to recognise its records."""

    chain: int
    ended_at: str
    checker: ChainChecker


class _Walk:
    """One device's sales of a batch, in seq order, against its stored chain: what is
    taken, refused, a duplicate, and where a gap starts. Nothing is written, so a walk
    whose run fails its newest signature is thrown away and walked again.

    A record the walk would refuse or take for a gap is first tried against the keys of
    the device's ended chains (`retired`): one signed by such a key is the replaced
    unit's, refused as that (one verify, only for a rekeyed device's misfits)."""

    def __init__(
        self, dev: Device, stored: dict[int, str], known: set[str], retired: list[_Retired]
    ) -> None:
        assert dev.public_key is not None
        self.device, self.chain, self.retired = dev.id, dev.chain, retired
        self.checker = ChainChecker(dev.public_key)
        self.checker.prev_hash, self.checker.checked = dev.last_hash, dev.last_seq
        self.stored = dict(stored)  # seq -> hash of what is ingested, or taken here
        self.known = known  # sale_ids ingested before this device's walk (not changed)
        self.taken: list[_Sale] = []
        self.refused: list[tuple[Incoming, str]] = []
        self.duplicates = 0
        self.resend_from: int | None = None
        self.acked = False

    def run(self, items: list[_Sale], *, signatures: bool) -> None:
        checker, ids = self.checker, {s.record.sale_id for s in self.taken}
        for n, sale in enumerate(items):
            seq = sale.record.seq
            if seq <= checker.checked:
                if seq not in self.stored or self.stored[seq] == sale.record.hash:
                    self.duplicates += 1
                    self.acked = True
                elif (why := self._replaced(sale)) is not None:
                    self.refused.append((sale.msg, why))
                elif checker.signed(sale.raw):
                    self.refused.append((sale.msg, f"seq {seq} conflicts with the record ingested"))
                    self.acked = True
                else:
                    # Not this chain's at all (a unit whose key was refused, say): no ack,
                    # which would make that unit drop what it has not delivered.
                    self.refused.append(
                        (
                            sale.msg,
                            f"seq {seq} conflicts with the record ingested and is not signed "
                            f"with {self.device}'s key (chain {self.chain})",
                        )
                    )
                continue
            if seq > checker.checked + 1:
                if (why := self._replaced(sale)) is not None:
                    self.refused.append((sale.msg, why))
                    continue
                self.resend_from = checker.checked + 1
                # What follows waits for the resend, but a replaced unit's records are
                # refused now, not taken for part of the gap.
                for rest in items[n + 1 :]:
                    if (why := self._replaced(rest)) is not None:
                        self.refused.append((rest.msg, why))
                return
            sale_id = sale.record.sale_id
            if sale_id in self.known or sale_id in ids:
                # Before the chain check, which takes a good link as the new head: a
                # record refused here moved the device's last_seq past itself, and the
                # unit's next resend of that seq was acked as a duplicate, never stored.
                problem = f"sale_id {sale_id[:80]!r} was already ingested"
            else:
                problem = checker.check(sale.raw, signature=signatures)
            if problem:
                why = self._replaced(sale) or f"seq {seq}: {problem}"
                self.refused.append((sale.msg, why))
                continue
            self.taken.append(sale)
            ids.add(sale_id)
            self.stored[seq] = sale.record.hash  # a second copy later in this batch
            self.acked = True

    def _replaced(self, sale: _Sale) -> str | None:
        """Why `sale` is refused when a key a rekey replaced signed it, else None."""
        for old in self.retired:
            if old.checker.signed(sale.raw):
                return (
                    f"seq {sale.record.seq} is signed with the key of {self.device}'s chain "
                    f"{old.chain}, which `collector fleet rekey` replaced at {old.ended_at} "
                    f"(chain {self.chain} is current): the replaced unit's record is not taken"
                )
        return None


def _raw_key(pem: str) -> bytes:
    """The 32 bytes of an Ed25519 public key in PEM (PublicKeyError when it is not one):
    what makes two spellings of one key the same key."""
    return load_public_key(pem).public_bytes(Encoding.Raw, PublicFormat.Raw)


def _chains(session: Session, dev: Device) -> list[DeviceChain]:
    """The chains of `dev` that a rekey ended, oldest first (none for most devices)."""
    if dev.chain == 1:
        return []
    query = select(DeviceChain).where(DeviceChain.device == dev.id).order_by(DeviceChain.chain)
    return list(session.scalars(query))


def _allowed(session: Session, dev: Device) -> Enrolment | None:
    """The device's enrolment when it may take a new journal key (`collector fleet
    rekey`), locked and read again under the device's lock: another collector may have
    spent the permission meanwhile (one rekey, one key)."""
    found = session.get(Enrolment, dev.id, with_for_update=True, populate_existing=True)
    return found if found is not None and found.rekey_allowed else None


def _retired(session: Session, dev: Device) -> list[_Retired]:
    chains = _chains(session, dev)
    return [_Retired(c.chain, c.ended_at, ChainChecker(c.public_key)) for c in chains]


class Ingestor:
    """Applies batches of device messages to the collector database."""

    def __init__(
        self,
        engine: Engine,
        *,
        resend_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        loyalty: LoyaltySection | None = None,
        keys: Path | None = None,
    ) -> None:
        self.engine = engine
        self.loyalty = loyalty or LoyaltySection()
        self.resend_interval = resend_interval
        self._clock = clock
        self._resent: dict[str, tuple[int, float]] = {}
        # The collector's keys directory: its fleet CA checks the proof of a journal key.
        self._keys = KeyStore(keys) if keys is not None else None
        self._ca: x509.Certificate | None = None

    def _fleet_ca(self) -> x509.Certificate | None:
        """The fleet CA's certificate, read on first need (`fleet enroll` may make the CA
        after the collector started)."""
        if self._ca is None and self._keys is not None:
            self._ca = ca_certificate(self._keys)
        return self._ca

    def ingest(self, batch: list[Incoming]) -> BatchResult:
        """One transaction for the batch. A message the database itself refuses (a value
        too long for a column, say) sends the batch round again one message at a time, so
        only that message is dead-lettered. OperationalError (database down) propagates:
        nothing is acked and the broker or the device sends again."""
        try:
            return self._transaction(batch)
        except OperationalError:
            raise  # a StatementError too, but it is the database, not the message
        except Exception as exc:
            # The process never dies on input: find the message and dead-letter it alone.
            log.warning("batch of %d failed (%r); retrying one by one", len(batch), exc)
        total = BatchResult()
        for msg in batch:
            try:
                one = self._transaction([msg])
            except OperationalError:
                raise
            except (DataError, IntegrityError, StatementError, OverflowError) as exc:
                # OverflowError: SQLite's driver refusing an integer past 64 bits (raised
                # as itself, not as a DBAPI error); PostgreSQL's is a DataError.
                reason = f"the database refused it: {str(getattr(exc, 'orig', exc)).strip()}"
                one = self._transaction([], dead=[(msg, reason)])
            except Exception as exc:
                log.exception("message on %s broke the ingest", msg.topic[:120])
                reason = f"internal error on this message: {exc!r}"
                one = self._transaction([], dead=[(msg, reason)])
            total.publish += one.publish
            total.ingested += one.ingested
            total.duplicates += one.duplicates
            total.dead += one.dead
            total.gaps += one.gaps
            total.stock_changed |= one.stock_changed
        return total

    # -- one transaction -------------------------------------------------------------

    def _transaction(
        self, batch: list[Incoming], dead: list[tuple[Incoming, str]] | None = None
    ) -> BatchResult:
        result = BatchResult()
        refused = list(dead or [])
        at = utc_stamp()
        with Session(self.engine) as session, session.begin():
            sales: list[_Sale] = []
            # Only enrolled devices are believed (collector.enrolment): one query a batch.
            known = enrolments(session, _devices(batch))
            for msg in batch:
                try:
                    store, device, leaf = parse_device_topic(msg.topic)
                    if (why := refusal(known.get(device), store, device)) is not None:
                        raise _Refused(why)
                    if leaf == "sales":
                        sales.append(self._parse_sale(msg, store, device))
                    elif leaf == "status":
                        self._status(session, store, device, msg, at, refused)
                    elif leaf == "telemetry":
                        self._telemetry(session, store, device, msg, at)
                    elif leaf == "events":
                        self._event(session, store, device, msg, at)
                    else:
                        raise _Refused(f"topic leaf {leaf!r} is not one the collector reads")
                except (_Refused, WireError) as exc:
                    refused.append((msg, str(exc)))
            self._sales(session, sales, at, result, refused)
            for msg, reason in refused:
                log.warning("dead letter from %s: %s", msg.topic[:120], reason)
                session.add(
                    DeadLetter(
                        topic=msg.topic[:256],
                        payload=msg.payload[:DEAD_LETTER_KEEP],
                        size=len(msg.payload),
                        reason=reason[:2000],
                        received_at=at,
                    )
                )
            result.dead = len(refused)
        return result

    # -- sales -----------------------------------------------------------------------

    def _parse_sale(self, msg: Incoming, store: str, device: str) -> _Sale:
        record, raw = decode_record(msg.payload, limit=MAX_PAYLOAD)
        if record.device != device:
            raise _Refused(f"payload device {record.device!r} is not the topic's {device!r}")
        if record.store != store:
            raise _Refused(f"payload store {record.store!r} is not the topic's {store!r}")
        return _Sale(msg, store, device, record, raw)

    def _sales(
        self,
        session: Session,
        sales: list[_Sale],
        at: str,
        result: BatchResult,
        refused: list[tuple[Incoming, str]],
    ) -> None:
        by_device: dict[str, list[_Sale]] = {}
        for sale in sales:
            by_device.setdefault(sale.device, []).append(sale)
        # One lookup for the batch, not one query per sale.
        ids = [sale.record.sale_id for sale in sales]
        known = set(stored_ids(session, ids))
        taken: list[tuple[_Sale, int]] = []
        # Sorted: collectors lock device rows in one order, so they cannot deadlock.
        for device_id in sorted(by_device):
            items = sorted(by_device[device_id], key=lambda s: s.record.seq)
            dev = session.execute(
                select(Device).where(Device.id == device_id).with_for_update()
            ).scalar_one_or_none()
            if dev is None or not dev.public_key:
                # No key yet: the device republishes what we do not ack.
                log.info("%d sales from %s before its key is known", len(items), device_id)
                continue
            stored = self._stored_hashes(session, dev, items)
            retired = _retired(session, dev)
            # A backlog arrives as long runs of one device's records: check every link
            # and hash, then the newest record's signature, which vouches for the run
            # (ChainChecker). Only when it fails is each signature checked, to find the
            # first bad record. A lone sale (the steady state) has its own checked.
            walk = _Walk(dev, stored, known, retired)
            walk.run(items, signatures=False)
            if walk.taken and not walk.checker.signed(walk.taken[-1].raw):
                walk = _Walk(dev, stored, known, retired)
                walk.run(items, signatures=True)
            refused += walk.refused
            result.duplicates += walk.duplicates
            if walk.resend_from is not None:
                result.gaps += 1
                self._resend(dev, walk.resend_from, result)
            for sale in walk.taken:
                taken.append((sale, dev.chain))
                known.add(sale.record.sale_id)
                if sale.record.loyalty is not None:
                    # Points move in the sale's own transaction: stored once, or not at all.
                    settle_record(session, sale.record, self.loyalty)
            result.ingested += len(walk.taken)
            dev.last_seq, dev.last_hash = walk.checker.checked, walk.checker.prev_hash
            dev.last_seen = at
            if walk.acked:
                result.publish.append(
                    Outgoing(
                        device_topic(dev.store, device_id, "ack"),
                        encode(Ack(upto=walk.checker.checked)),
                    )
                )
        if taken:
            insert_sales(session, [(t.record, t.msg.payload, chain) for t, chain in taken], at)
            result.stock_changed = stock_moves(session, [t.record for t, _ in taken], at)

    @staticmethod
    def _stored_hashes(session: Session, dev: Device, items: list[_Sale]) -> dict[int, str]:
        """The stored hash of each seq in `items` already ingested in the device's current
        chain (the duplicates)."""
        seen = [s.record.seq for s in items if s.record.seq <= dev.last_seq]
        if not seen:
            return {}
        rows = session.execute(
            select(SALES.c.seq, SALES.c.hash).where(
                SALES.c.device == dev.id, SALES.c.chain == dev.chain, SALES.c.seq.in_(seen)
            )
        )
        return {int(seq): str(digest) for seq, digest in rows}

    def _resend(self, dev: Device, from_seq: int, result: BatchResult) -> None:
        last = self._resent.get(dev.id)
        t = self._clock()
        if last is not None and last[0] == from_seq and t - last[1] < self.resend_interval:
            return
        self._resent[dev.id] = (from_seq, t)
        log.info("gap from %s: asking it to resend from seq %d", dev.id, from_seq)
        cmd = Command(corr=uuid.uuid4().hex, args={"from_seq": from_seq})
        result.publish.append(Outgoing(device_topic(dev.store, dev.id, "cmd/resend"), encode(cmd)))

    # -- status, telemetry, events -----------------------------------------------------

    def _device(self, session: Session, store: str, device: str, at: str) -> Device:
        """The device row, locked; made (without a key) the first time the unit is seen."""
        ins = upsert_insert(session, Device).values(
            id=device,
            store=store,
            region="",
            first_seen=at,
            last_seen=at,
            version="",
            state="unknown",
            last_seq=0,
            last_hash=GENESIS_HASH,
        )
        session.execute(ins.on_conflict_do_nothing(index_elements=["id"]))
        dev = session.execute(
            select(Device)
            .where(Device.id == device)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        dev.last_seen = at
        return dev

    @staticmethod
    def _known(session: Session, device: str) -> Device:
        """The device's row as it stands (not made, locked or marked seen), which what
        comes on its topics is checked against before it may touch the row: on a plain
        broker anyone may publish there, and a forged message made a row in `fleet status`
        for a device never heard from, or kept a gone one's `last_seen` fresh. A device
        never heard from is a row to be, without a key (nothing is believed before its
        birth)."""
        return session.get(Device, device) or Device(id=device, public_key=None)

    def _opened(self, dev: Device, msg: Incoming, kind: type[T]) -> T:
        """The message `msg` carries, sealed by `dev`'s journal key; _Refused when the
        device has no key yet (nothing it sends is believed before its birth) or the
        envelope does not verify (anyone else publishing on its topics)."""
        if not dev.public_key:
            raise _Refused(no_key_yet(dev.id))
        try:
            opened = device_verifier(dev.public_key).open(msg.payload, msg.topic)
            return from_body(opened.body, kind)
        except EnvelopeError as exc:
            raise _Refused(f"not sealed by {dev.id}: {exc}") from exc

    def _status(
        self,
        session: Session,
        store: str,
        device: str,
        msg: Incoming,
        at: str,
        refused: list[tuple[Incoming, str]],
    ) -> None:
        if not msg.payload:
            return  # a retained status being cleared
        known = self._known(session, device)
        status = self._sealed_status(known, msg)
        if known.public_key is None and (why := self._unproved(session, device, status)):
            # A first key unproved leaves no trace either: no row in `fleet status`.
            refused.append((msg, why))
            return
        newer_key = bool(status.pubkey) and status.pubkey != known.public_key
        if not newer_key and status.seq < (known.status_seq or 0):
            # Sparkplug's rule: a late will, or a replayed status, never overwrites a newer
            # one (the same seq again is the same status, retained and delivered twice);
            # refused before the row is touched, so a replay does not even make a gone
            # unit look alive. A new key (a rekey) starts its statuses from 0.
            raise _Refused(f"status seq {status.seq} is older than {known.status_seq}, taken")
        dev = self._device(session, store, device, at)
        # A status whose key is refused changes nothing of the device (a replaced unit's
        # or an impostor's state is not this device's), only that it was seen.
        if status.pubkey and (why := self._key(session, dev, status, at)) is not None:
            refused.append((msg, why))
            return
        dev.status_seq = status.seq
        dev.store = store
        dev.state = status.state
        if status.version:
            dev.version = status.version[:MAX_VERSION]
        if status.region:
            dev.region = status.region[:MAX_REGION]  # cut to the column: never a dead birth

    def _sealed_status(self, dev: Device, msg: Incoming) -> Status:
        """The status in `msg`, sealed by the device's key; or, when it names another key
        (the device's first birth, or a replaced unit's after `collector fleet rekey`),
        sealed by the key it names, which `_key` then takes or refuses. _Refused when it
        is sealed by neither: anyone else publishing on the device's topic."""
        unsealed: _Refused | None = None
        if dev.public_key:
            try:
                return self._opened(dev, msg, Status)
            except _Refused as exc:
                unsealed = exc  # unless it is a new key's birth, sealed by that key
        try:
            pem = str(peek(msg.payload).get("pubkey") or "")
            named = device_verifier(pem) if pem and pem != dev.public_key else None
        except (EnvelopeError, PublicKeyError) as exc:
            raise unsealed or _Refused(f"not sealed by {dev.id}: {exc}") from exc
        if named is None:
            raise unsealed or _Refused(no_key_yet(dev.id))
        try:
            status = from_body(named.open(msg.payload, msg.topic).body, Status)
        except EnvelopeError as exc:
            raise _Refused(f"a birth not sealed by the key it names: {exc}") from exc
        if status.pubkey != pem:
            raise _Refused("a birth not sealed by the key it names")
        return status

    def _key(self, session: Session, dev: Device, status: Status, at: str) -> str | None:
        """Why the journal key `status` announces is refused, or None: it is the device's
        key, its first, or a new one that `collector fleet rekey` allowed (taken now). A
        key is taken only with the proof of the device's enrolment certificate (when it
        has one): anyone may publish a birth on a plain broker."""
        pem, ts = status.pubkey, (status.ts or at)[:32]  # cut to the events' column
        if pem == dev.public_key:
            return None
        try:
            raw = _raw_key(pem)
        except PublicKeyError as exc:
            return f"status pubkey: {exc}"
        if dev.public_key is None:
            if (why := self._unproved(session, dev.id, status)) is None:
                dev.public_key = pem
                # The first key spends a rekey given before it (the next key announced).
                if (allowed := _allowed(session, dev)) is not None:
                    allowed.rekey_allowed = False
                log.info("registered the key of %s", dev.id)
                return None
        elif raw == _raw_key(dev.public_key):
            return None  # the same key, spelt otherwise
        elif old := next((c for c in _chains(session, dev) if _raw_key(c.public_key) == raw), None):
            why = (
                f"the public key of {dev.id}'s chain {old.chain} was replaced by `collector "
                f"fleet rekey` at {old.ended_at} (chain {dev.chain} is current): refused"
            )
        elif (allowed := _allowed(session, dev)) is not None:
            # Unproved, the permission stays for the replacement unit's own key.
            if (why := self._unproved(session, dev.id, status)) is None:
                self._new_chain(session, dev, allowed, pem, ts, at)
                return None
        else:
            why = (
                f"a second public key for {dev.id} was refused; the key of chain {dev.chain} "
                f"stays (`collector fleet rekey {dev.id}` lets the next one be taken)"
            )
        session.add(
            Event(
                device=dev.id,
                kind="key_refused",
                ts=ts,
                detail={"pubkey": pem[:1000], "chain": dev.chain},
                received_at=at,
            )
        )
        return why

    def _unproved(self, session: Session, device: str, status: Status) -> str | None:
        """Why the key `status` announces is not to be taken for want of the enrolment's
        proof (collector.enrolment.unproved), or None."""
        found = session.get(Enrolment, device)
        if found is None:  # refused before it came here; never taken unenrolled
            return f"device {device!r} is not enrolled (`collector fleet enroll`)"
        return unproved(session, self._fleet_ca(), found, status, dt.datetime.now(dt.UTC))

    def _new_chain(
        self, session: Session, dev: Device, enrolment: Enrolment, pem: str, ts: str, at: str
    ) -> None:
        """Take `pem` as the device's key, allowed by a rekey: the chain so far is kept as
        it ended, and a new one starts at seq 1 from the genesis hash; the permission is
        spent."""
        assert dev.public_key is not None
        ended = DeviceChain(
            device=dev.id,
            chain=dev.chain,
            public_key=dev.public_key,
            last_seq=dev.last_seq,
            last_hash=dev.last_hash,
            ended_at=at,
        )
        session.add(ended)
        dev.chain += 1
        dev.public_key, dev.last_seq, dev.last_hash = pem, 0, GENESIS_HASH
        dev.status_seq = 0  # the new unit counts its statuses from its own beginning
        enrolment.rekey_allowed = False
        self._resent.pop(dev.id, None)  # a resend asked of the old chain means nothing now
        session.add(
            Event(
                device=dev.id,
                kind="rekeyed",
                ts=ts,
                detail={
                    "chain": dev.chain,
                    "pubkey": pem[:1000],
                    "ended": {"chain": ended.chain, "last_seq": ended.last_seq},
                },
                received_at=at,
            )
        )
        log.info(
            "took a new journal key for %s (collector fleet rekey): chain %d from seq 1; "
            "chain %d ended at seq %d",
            dev.id,
            dev.chain,
            ended.chain,
            ended.last_seq,
        )

    def _telemetry(self, session: Session, store: str, device: str, msg: Incoming, at: str) -> None:
        t = self._opened(self._known(session, device), msg, Telemetry)
        dev = self._device(session, store, device, at)
        dev.outbox_depth = t.outbox_depth
        dev.printer = t.printer[:64]
        if t.version:
            dev.version = t.version[:MAX_VERSION]
        dev.telemetry = {
            "ts": t.ts,
            "last_seq": t.last_seq,
            "scanner": t.scanner,
            "drawer": t.drawer,
            "disk_free": t.disk_free,
            "uptime": t.uptime,
        }

    def _event(self, session: Session, store: str, device: str, msg: Incoming, at: str) -> None:
        ev = self._opened(self._known(session, device), msg, DeviceEvent)
        self._device(session, store, device, at)
        session.add(
            Event(device=device, kind=ev.kind[:64], ts=ev.ts[:32], detail=ev.detail, received_at=at)
        )
