"""The collector's tables (SQLAlchemy 2, typed). The same models run on SQLite and PostgreSQL.

Money is integer minor units (BigInteger where sums grow). Timestamps from devices stay the
ISO strings they were sent as (`...Z`, so they sort); `day` is their date, for reports.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from protocol.limits import MAX_RECEIPT_NO, MAX_REGION, MAX_SKU, MAX_STAFF, MAX_VERSION

# A table change is an Alembic revision (collector/migrations, docs/collector.md), never a
# bump of this: it is the schema version of the collector before Alembic, which reads it
# from collector_meta (collector.db keeps that row for it).
SCHEMA_VERSION = 2


class Base(DeclarativeBase):
    """Declarative root of every collector table."""


class Meta(Base):
    """Key/value facts about the database itself: `schema_version`, for collectors from
    before Alembic (the revision is in Alembic's own `alembic_version`)."""

    __tablename__ = "collector_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class Device(Base):
    """One appliance: its registered key and where its journal stream has got to. `chain`
    counts its journal keys: 1 for the first, one more each time `collector fleet rekey`
    let a new key be taken (a replaced unit, whose journal starts again at seq 1);
    `last_seq` and `last_hash` are that chain's. Chains that ended are `DeviceChain`s."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    store: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str] = mapped_column(String(MAX_REGION), default="")
    public_key: Mapped[str | None] = mapped_column(Text)
    chain: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    first_seen: Mapped[str] = mapped_column(String(32))
    last_seen: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(MAX_VERSION), default="")
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    # The newest status seq taken (protocol.messages.Status.seq; newest wins).
    status_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    printer: Mapped[str | None] = mapped_column(String(64))
    telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DeviceChain(Base):
    """A journal chain of a device that a rekey ended: its key, where it stopped, and when
    the next key was taken. Its sales stay in `sales` under this chain number; records
    still signed with its key are refused by that key, not mistaken for a gap."""

    __tablename__ = "device_chains"
    device: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    chain: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[str] = mapped_column(Text)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[str] = mapped_column(String(32))


class Customer(Base):
    """Customer master data. Names, email and phone are one AES-GCM sealed blob under the
    customer's own key (collector.customers.privacy); erasing the key leaves nothing
    readable."""

    __tablename__ = "customers"
    account: Mapped[str] = mapped_column(String(16), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class CustomerKey(Base):
    """A customer's data key, wrapped (AES-GCM) with the collector's master key."""

    __tablename__ = "customer_keys"
    account: Mapped[str] = mapped_column(String(16), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(32))


class Consent(Base):
    """Marketing consent given or withdrawn for one channel (email, sms): when, and where."""

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(16), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128))


class LoyaltyCard(Base):
    """An issued card. A newer issue of the same account blocks this one (`blocked_at`)."""

    __tablename__ = "loyalty_cards"
    account: Mapped[str] = mapped_column(String(16), primary_key=True)
    issue: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(13))
    issued_at: Mapped[str] = mapped_column(String(32))
    blocked_at: Mapped[str | None] = mapped_column(String(32))


class LoyaltyAccount(Base):
    """The stored balance of an account, kept in step with the ledger in the same
    transaction: `balance` = open lots' `remaining` less `overdrawn` (spends no lot
    covered, from offline redeems). The row is also the lock every change takes."""

    __tablename__ = "loyalty_accounts"
    account: Mapped[str] = mapped_column(String(16), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    overdrawn: Mapped[int] = mapped_column(BigInteger, default=0)
    issue: Mapped[int] = mapped_column(Integer, default=0)  # the current card's issue
    next_expiry: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


_BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite only autoincrements INTEGER


class LoyaltyEntry(Base):
    """The append-only points ledger: one row per change, its idempotency key unique.
    `points` is the signed change, `balance` the stored balance after it; `spend` is the
    money (base-currency minor units) behind an earn or its reversal, for tiers."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (Index("ix_loyalty_entries_account_at", "account", "at"),)
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    account: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger)
    spend: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoyaltyLot(Base):
    """Points earned together, spent oldest first; `remaining` is what is left of them."""

    __tablename__ = "loyalty_lots"
    __table_args__ = (Index("ix_loyalty_lots_open", "account", "remaining", "earned_at"),)
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    entry: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id"), index=True)
    account: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(128), default="")


class LoyaltyAllocation(Base):
    """Which lot a spend, reversal or expiry took its points from."""

    __tablename__ = "loyalty_allocations"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    entry: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id"), index=True)
    lot: Mapped[int] = mapped_column(ForeignKey("loyalty_lots.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyaltyReservation(Base):
    """Points held for a till's sale: `held` until committed by the sale record, released,
    or past `expires_at` (then it no longer counts; nothing has to sweep it)."""

    __tablename__ = "loyalty_reservations"
    __table_args__ = (Index("ix_loyalty_reservations_open", "account", "state"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    account: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    device: Mapped[str] = mapped_column(String(64))
    sale_id: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    entry: Mapped[int | None] = mapped_column(BigInteger)


class LoyaltyChannel(Base):
    """A web shop (or other) channel of the loyalty API; only its key's SHA-256 is kept."""

    __tablename__ = "loyalty_channels"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))


class Sale(Base):
    """One journal record as ingested (every kind: the chain needs them all). A record is
    its device's `seq` in one of its chains (`Device.chain`): a replaced unit starts at
    seq 1 again, beside the old chain's records."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("device", "chain", "seq", name="uq_sales_device_chain_seq"),
        Index("ix_sales_day", "day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[str] = mapped_column(String(64), unique=True)
    device: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    chain: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    receipt_no: Mapped[str] = mapped_column(String(MAX_RECEIPT_NO))
    store: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(MAX_REGION))
    staff: Mapped[str] = mapped_column(String(MAX_STAFF))
    ts: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[str | None] = mapped_column(String(16), index=True)
    refund_of: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    ingested_at: Mapped[str] = mapped_column(String(32))
    lines: Mapped[list[SaleLine]] = relationship(cascade="all, delete-orphan")
    tenders: Mapped[list[SaleTender]] = relationship(cascade="all, delete-orphan")


class SaleLine(Base):
    """A line of a sale or refund, as the record has it (refund quantities are positive)."""

    __tablename__ = "sale_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(MAX_SKU), index=True)
    name: Mapped[str] = mapped_column(String(256))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    tax_rate: Mapped[str] = mapped_column(String(16))


class SaleTender(Base):
    """A tender of a sale (cash, card, points)."""

    __tablename__ = "tenders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """A device event (`events` topic) or one the collector records about a device."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[str] = mapped_column(String(32))


class Stock(Base):
    """The level of one SKU in one store. `version` counts changes; the levels are sent to
    the store's units until `published_version` catches up (a small outbox)."""

    __tablename__ = "stock"
    store: Mapped[str] = mapped_column(String(32), primary_key=True)
    sku: Mapped[str] = mapped_column(String(MAX_SKU), primary_key=True)
    level: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    published_version: Mapped[int] = mapped_column(BigInteger, default=0)


class StockMove(Base):
    """Why a level changed: a sale, a refund, a delivery or a count."""

    __tablename__ = "stock_moves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(MAX_SKU))
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))


class DeadLetter(Base):
    """A message we refused, kept (truncated) with the reason, so nothing vanishes silently."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[str] = mapped_column(String(32))


class Member(Base):
    """One `collector run` that takes part in the shared subscription (collector/members.py):
    its state and when it was last seen (milliseconds since the epoch, its own clock)."""

    __tablename__ = "collector_members"
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[int] = mapped_column(BigInteger)


class Enrolment(Base):
    """A device the collector knows (`collector fleet enroll`): its store, its current
    certificate's serial (hex), whether it is revoked, and whether its next journal key is
    to be taken (`collector fleet rekey`; ingest clears it when it takes one)."""

    __tablename__ = "enrolments"
    device: Mapped[str] = mapped_column(String(32), primary_key=True)
    store: Mapped[str] = mapped_column(String(32), index=True)
    enrolled_at: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[str | None] = mapped_column(String(32))
    rekey_allowed: Mapped[bool] = mapped_column(Boolean, default=False)


class FleetCertificate(Base):
    """Every device certificate the fleet CA issued; the revoked ones (a revoked device's,
    one replaced by `enroll --renew`) make the CRL until they expire."""

    __tablename__ = "fleet_certificates"
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    device: Mapped[str] = mapped_column(String(32), index=True)
    issued_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32))
