"""The sale record, the project's most important shape, as typed structs.

The till emits a `Draft` for everything it completes (a sale, a refund, a no-sale, a
shift close); `Store.append(draft)` assigns its place in the chain and returns the
`Record` that receipts, shift reports, the outbox publisher and the collector's ingest
all consume. The CONTRACT's fields are always present (`loyalty` and `refund_of` as
`null` when they do not apply); the extensions below them appear only when set.

The hash covers the record as a plain JSON object, every key of it (`protocol.chain`),
not these structs: a key that a newer unit adds stays covered on an older collector,
which decodes what it knows and keeps the rest in the raw object it hashes and stores.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from protocol.errors import BadInput

SCHEMA = 1
KINDS: tuple[str, ...] = ("sale", "refund", "no_sale", "shift_close")

Minor = int  # money in integer minor units, never a float
Kind = Literal["sale", "refund", "no_sale", "shift_close"]
TenderType = Literal["cash", "card", "points"]
Ident = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,32}$")]
Text = Annotated[str, msgspec.Meta(min_length=1)]
Hex64 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Hex128 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{128}$")]
Seq = Annotated[int, msgspec.Meta(ge=1)]


# Every struct here is frozen (a record does not change once made), keyword-only, and
# leaves optional fields out of the JSON while they are None (omit_defaults).


class RecordError(BadInput):
    """A draft or record that does not have the record's shape (names the field)."""


class Line(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A basket line as sold (in a refund, as given back: qty, discount and total negative)."""

    sku: str
    barcode: str
    name: str
    qty: int
    unit_price: Minor
    discount: Minor
    total: Minor
    tax_rate: str  # percent as written in the catalog: "20", "5.5"


class TaxRow(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One rate's tax: `base` is the amount without tax, `tax` the tax on it."""

    rate: str
    base: Minor
    tax: Minor


class Tender(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A payment. Cash amounts are net of change (what stayed in the drawer)."""

    type: TenderType
    amount: Minor
    ref: str | None = None  # card: the payment terminal's reference
    points: int | None = None  # points: how many were redeemed (amount is their money)


class LoyaltyPart(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The loyalty card on a sale: the points it earned and redeemed, and the balance after
    (None when the till did not know it). `offline`: the collector was not reached."""

    account: str
    earned: int
    redeemed: int
    balance: int | None
    offline: bool
    # The collector's hold (LoyaltyResponse.reservation) that this sale's redeem consumes.
    reservation: str | None = None


class TenderTotals(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str
    taken: Minor
    refunded: Minor
    net: Minor


class NoSaleNote(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    staff: str
    ts: str | None
    reason: str
    receipt_no: str | None


class StaffTotals(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    staff: str
    sales: int
    refunds: int
    total: Minor


class PointsTotals(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    earned: int
    redeemed: int


class ShiftReport(msgspec.Struct, frozen=True, kw_only=True):
    """A shift's figures: the X report while it runs, the Z report in its `shift_close`
    record. Every field is always written (`null` where a shift has nothing)."""

    exponent: int
    currency: str | None
    records: int
    from_: str | None = msgspec.field(name="from")
    to: str | None
    first_receipt_no: str | None
    last_receipt_no: str | None
    sales: int
    refunds: int
    gross_sales: Minor
    refunded: Minor  # negative: refunds are recorded with negative totals
    net: Minor
    discounts: Minor
    rounding: Minor
    tax: list[TaxRow]
    tenders: list[TenderTotals]
    expected_cash: Minor
    no_sales: int
    no_sale_reasons: list[NoSaleNote]
    staff: list[StaffTotals]
    loyalty: PointsTotals


class Draft(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the till completes, before the store gives it its place in the chain."""

    schema: int
    sale_id: Text
    kind: Kind
    device: Ident
    store: Ident
    region: str
    staff: str
    ts: Text  # protocol.timestamps.utc_stamp
    currency: str
    lines: list[Line]
    total: Minor
    tax: list[TaxRow]
    tenders: list[Tender]
    change: Minor
    loyalty: LoyaltyPart | None
    refund_of: str | None
    # Extensions (absent when None): what was rounded off a cash payment; who approved a
    # restricted operation; why a no-sale opened the drawer; a shift close's Z report;
    # which lines of which receipt a refund gives back.
    rounding: Minor | None = None
    approved_by: str | None = None
    reason: str | None = None
    report: ShiftReport | None = None
    refund_lines: list[int] | None = None
    original_receipt_no: str | None = None


class Record(Draft, frozen=True, kw_only=True, omit_defaults=True):
    """A journal record: a draft with its place in the device's hash chain."""

    seq: Seq
    receipt_no: str  # {store}-{device}-{seq:06d}
    prev_hash: Hex64
    hash: Hex64
    sig: Hex128


# The fields the store assigns; a draft never has them.
ASSIGNED: tuple[str, ...] = ("seq", "receipt_no", "prev_hash", "hash", "sig")

T = TypeVar("T", Draft, Record)


def plain(value: msgspec.Struct) -> dict[str, Any]:
    """A struct as the plain JSON object it is on the wire (unset extensions left out)."""
    out = msgspec.to_builtins(value)
    assert isinstance(out, dict)
    return out


def convert(raw: object, kind: type[T]) -> T:
    """A draft or record from a plain object, strictly (an int field refuses a float);
    RecordError naming the field otherwise. Unknown keys are ignored here and kept by
    whoever holds `raw`."""
    try:
        value = msgspec.convert(raw, kind)
    except msgspec.ValidationError as e:
        raise RecordError(f"not a {kind.__name__.lower()}: {e}") from e
    if value.schema != SCHEMA:
        raise RecordError(f"schema {value.schema} is not {SCHEMA}")
    return value


_record_decoder = msgspec.json.Decoder(Record)


def decode_stored(text: str | bytes) -> Record:
    """A record from its stored JSON; RecordError when it is not one."""
    try:
        return _record_decoder.decode(text)
    except msgspec.DecodeError as e:  # ValidationError is a DecodeError
        raise RecordError(f"not a record: {e}") from e
