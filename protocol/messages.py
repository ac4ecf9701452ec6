"""Every MQTT topic and payload, in one place: the collector imports this module too,
so the two sides cannot drift.

Prefix `pos/v1/{store}/{device}/`; JSON, UTF-8, `"schema": 1`. Everything works on
MQTT 3.1.1 (requests and responses tie by the payload's `corr`). See docs/mqtt.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from protocol.errors import BadInput
from protocol.limits import MAX_MINOR, MAX_STOCK
from protocol.record import Record, RecordError, convert

SCHEMA = 1
PREFIX = "pos/v1"
# Wire limits: anything bigger is refused before it is parsed.
MAX_PAYLOAD = 256 * 1024
MAX_CATALOG_PAYLOAD = 32 * 1024 * 1024

_ID = r"^[a-z0-9-]{1,32}$"
Ident = Annotated[str, msgspec.Meta(pattern=_ID)]
Minor = int  # money in minor units
Seq = Annotated[int, msgspec.Meta(ge=1)]


class WireError(BadInput):
    """A payload or topic that does not follow this module's schema."""


# -- topics -------------------------------------------------------------------------------


def device_topic(store: str, device: str, leaf: str) -> str:
    return f"{PREFIX}/{store}/{device}/{leaf}"


def store_cmd_topic(store: str, name: str) -> str:
    return f"{PREFIX}/{store}/cmd/{name}"


def fleet_cmd_topic(name: str) -> str:
    return f"{PREFIX}/fleet/cmd/{name}"


_DEVICE_TOPIC = re.compile(r"^pos/v1/([a-z0-9-]{1,32})/([a-z0-9-]{1,32})/(.+)$")


def parse_device_topic(topic: str) -> tuple[str, str, str]:
    """(store, device, leaf) of a device topic; WireError for anything else."""
    m = _DEVICE_TOPIC.match(topic)
    if not m or m.group(2) == "cmd":
        raise WireError(f"topic {topic[:120]!r} is not a device topic")
    return m.group(1), m.group(2), m.group(3)


# -- device -> collector ---------------------------------------------------------------------


class Status(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Retained `status`, sealed by the device (protocol.envelope.seal_device). The birth
    message carries the device's public key (PEM), so the collector can register it the
    first time it sees the unit, and with it the unit's enrolment certificate (`cert`,
    PEM) and `proof` that its key vouches for that journal key (protocol.birth): a key
    announced without them is not taken for an id enrolled with a certificate. `seq`
    orders a device's statuses whatever its clock (Sparkplug's bdSeq): `status_seq(session,
    n)`, the session counted up at each connection and kept by the unit; its will is the
    session's last, so a will published late never overwrites a newer birth, and a
    replayed old status is refused."""

    state: Literal["online", "offline", "updating"]
    version: str = ""
    ts: str = ""
    pubkey: str = ""
    store: str = ""
    region: str = ""
    seq: int = 0
    cert: str = ""
    proof: str = ""
    schema: int = SCHEMA


# A session's statuses: the birth is n = 0, its will n = STATUS_WILL (the last word of a
# session), and what comes between counts up from 1.
STATUS_WILL = 999
STATUS_PER_SESSION = 1000


def status_seq(session: int, n: int) -> int:
    """The `seq` of status `n` (0 the birth, STATUS_WILL the will) of connection `session`."""
    return session * STATUS_PER_SESSION + n


class Telemetry(msgspec.Struct, forbid_unknown_fields=False):
    """`telemetry`, every 30 s, QoS 0."""

    ts: str
    version: str
    outbox_depth: int
    last_seq: int
    printer: str
    scanner: str
    drawer: str
    disk_free: int
    uptime: float
    schema: int = SCHEMA


class DeviceEvent(msgspec.Struct, forbid_unknown_fields=False):
    """`events`: drawer opened, printer fault, update progress, …"""

    kind: str
    ts: str
    detail: dict[str, Any] = {}
    schema: int = SCHEMA


# -- collector -> device ---------------------------------------------------------------------


class Ack(msgspec.Struct, forbid_unknown_fields=False):
    """`ack`: the device may drop outbox entries up to and including `upto`."""

    upto: int
    schema: int = SCHEMA


class CatalogItem(msgspec.Struct, forbid_unknown_fields=True):
    sku: str
    barcode: str
    name: str
    price: Minor
    tax_rate: str
    category: str = ""
    stock: int | None = None


class PriceChange(msgspec.Struct, forbid_unknown_fields=True):
    """A price as the catalog import takes one: whole minor units, 0 to MAX_MINOR."""

    sku: str
    price: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)]


class StockLevel(msgspec.Struct, forbid_unknown_fields=True):
    """A level as the catalog import takes one: at most MAX_STOCK either way."""

    sku: str
    stock: Annotated[int, msgspec.Meta(ge=-MAX_STOCK, le=MAX_STOCK)]


class Command(msgspec.Struct, forbid_unknown_fields=False):
    """`cmd/{name}` (also store- and fleet-wide). `corr` ties the result to it; `args`
    depend on the name (see the *Args structs)."""

    corr: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    args: dict[str, Any] = {}
    schema: int = SCHEMA


class CatalogArgs(msgspec.Struct, forbid_unknown_fields=True):
    items: list[CatalogItem]


class PricesArgs(msgspec.Struct, forbid_unknown_fields=True):
    prices: list[PriceChange]


class StockArgs(msgspec.Struct, forbid_unknown_fields=True):
    levels: list[StockLevel]


class ConfigArgs(msgspec.Struct, forbid_unknown_fields=True):
    """A partial config: only these sections may change remotely."""

    patch: dict[str, dict[str, Any]]


class ResendArgs(msgspec.Struct, forbid_unknown_fields=True):
    """The collector saw a gap: publish again from this sequence number on."""

    from_seq: Seq


class CommandResult(msgspec.Struct, forbid_unknown_fields=False):
    """`cmd/{name}/result`."""

    corr: str
    ok: bool
    error: str | None = None
    detail: dict[str, Any] = {}
    ts: str = ""
    schema: int = SCHEMA


# -- loyalty (both ways) -----------------------------------------------------------------------


class LoyaltyEnrolment(msgspec.Struct, forbid_unknown_fields=False):
    """A new customer, as the kiosk's form took them. `consent` is the marketing opt-in per
    channel (`email`, `sms`), recorded with the time and `kiosk:<device>` as its source."""

    first_names: str
    surname: str
    email: str = ""
    phone: str = ""
    consent: dict[str, bool] = {}


class LoyaltyRequest(msgspec.Struct, forbid_unknown_fields=False):
    """`loyalty/request`. `balance`, `summary` (the kiosk's view) and `reserve` name the
    scanned `card` (EAN-13): the account is the card's, a bare account is not answered
    (a number seen on a receipt is no card) and a replaced (blocked) card is refused.
    `account`, when sent, must be the card's. `release` and `commit` name the hold by
    `reservation` (or the `sale_id` it was reserved for) and are honoured only from the
    device that made it; `commit` keeps the hold until the sale's record is ingested.
    `enrol` (no card) makes a customer from `enrolment`, once per corr."""

    corr: str
    op: Literal["balance", "reserve", "release", "commit", "summary", "enrol"]
    account: str = ""
    points: int = 0
    sale_id: str | None = None
    card: str | None = None
    reservation: str | None = None
    enrolment: LoyaltyEnrolment | None = None
    schema: int = SCHEMA


class LoyaltyPurchase(msgspec.Struct, forbid_unknown_fields=False):
    """A past purchase (or refund, total negative) of `summary`, with the points it made."""

    date: str  # ISO date
    store: str
    total: Minor
    currency: str
    points: int = 0


class LoyaltyReward(msgspec.Struct, forbid_unknown_fields=False):
    title: str
    points: int


class LoyaltyExpiry(msgspec.Struct, forbid_unknown_fields=False):
    """Points of the account's lots that expire on `on` (ISO date)."""

    points: int
    on: str


class LoyaltyResponse(msgspec.Struct, forbid_unknown_fields=False):
    corr: str
    ok: bool
    balance: int | None = None
    first_name: str | None = None
    error: str | None = None
    reservation: str | None = None
    # True when the collector failed to answer (database down, …), as opposed to a refusal:
    # the till then works under the offline rules instead of refusing the customer.
    unavailable: bool = False
    # `summary` only (None on every other answer):
    purchases: list[LoyaltyPurchase] | None = None
    rewards: list[LoyaltyReward] | None = None
    expiring: list[LoyaltyExpiry] | None = None
    # `enrol` only: the new account and its first card's code, to print.
    account: str | None = None
    card: str | None = None
    schema: int = SCHEMA


# -- encode / decode -------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()
T = TypeVar("T")


def encode(message: msgspec.Struct | dict[str, Any]) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes, kind: type[T], *, limit: int = MAX_PAYLOAD) -> T:
    """Parse and validate a payload; WireError with a one-line reason on anything wrong."""
    if len(payload) > limit:
        raise WireError(f"payload of {len(payload)} bytes is over the {limit} byte limit")
    try:
        msg = msgspec.json.decode(payload, type=kind)
    except msgspec.DecodeError as e:  # ValidationError is a DecodeError
        raise WireError(str(e)) from e
    except RecursionError as e:
        # msgspec stops at the interpreter's recursion limit (~1,000 levels); no message
        # nests more than a few, and the size limit above bounds the rest.
        raise WireError("payload nests deeper than any message may") from e
    schema = getattr(msg, "schema", SCHEMA)
    if schema != SCHEMA:
        raise WireError(f"schema {schema} is not {SCHEMA}")
    return msg


def from_body(body: Mapping[str, Any], kind: type[T]) -> T:
    """A message from an envelope's body (already parsed, within the payload's limit):
    validated as `decode` does; WireError with a one-line reason on anything wrong."""
    try:
        msg = msgspec.convert(body, type=kind)
    except msgspec.ValidationError as e:
        raise WireError(str(e)) from e
    schema = getattr(msg, "schema", SCHEMA)
    if schema != SCHEMA:
        raise WireError(f"schema {schema} is not {SCHEMA}")
    return msg


def decode_object(payload: bytes, *, limit: int = MAX_PAYLOAD) -> dict[str, Any]:
    """A JSON object as a plain dict (for records whose hash covers every key)."""
    return decode(payload, dict, limit=limit)


def decode_record(payload: bytes, *, limit: int = MAX_PAYLOAD) -> tuple[Record, dict[str, Any]]:
    """A `sales` payload both ways from one JSON parse: validated, and as the plain object
    its hash covers (every key, extensions too): parsing it twice showed in the
    collector's ingest profile (docs/benchmarks.md, "The figures behind the code")."""
    raw = decode_object(payload, limit=limit)
    try:
        return convert(raw, Record), raw
    except RecordError as e:
        raise WireError(str(e)) from e
