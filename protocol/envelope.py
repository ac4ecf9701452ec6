"""Signed word from the collector: the envelope around every `ack`, `loyalty/response` and
`cmd/…`, and the rules a unit admits one by (docs/security.md, "Signed word").

On the wire, a JSON object (UTF-8, `"schema": 1`)::

    {"schema": 1, "signed": "<claims as JSON text>", "sig": "<hex Ed25519 of that text>"}

The signature covers the exact bytes of `signed` (its UTF-8), so no canonical form has to
be agreed and re-made on the other side; the claims inside are::

    {"topic": "pos/v1/s001/till-01/cmd/prices", "to": "s001/till-01", "id": "<32 hex>",
     "iat": "2026-12-04T10:00:00.000Z", "exp": "2026-12-04T10:10:00.000Z", "body": {…}}

`topic` binds the envelope to where it was published: the same envelope re-published on
another unit's topic (or another kind of message) is refused. `to` is who it is for
(`STORE/DEVICE`, `STORE`, or `*` for the fleet), and must agree with the topic. `id` is
unique per envelope; `iat` and `exp` bound it in time, never more than `MAX_LIFETIME`
apart. `body` is the message itself (an `Ack`, a `LoyaltyResponse`, a `Command`).

`Admission` keeps the rules of time and replay, as pure code: the unit persists its
`state()` and hands it back after a restart. Its clock may be wrong: a Raspberry Pi has
no real-time clock and boots at the last saved time (or the epoch) until NTP answers. So
a unit's "now" is never earlier than the newest issue time it has admitted, nor than
the last time its own clock was known good (`floor`): an envelope that had expired when
anything newer was admitted stays expired across reboots and clock resets. While the
clock is synchronised, an envelope issued more than `MAX_SKEW` in the future is refused
(a collector clock far ahead must not drag the floor forward); while it is not, the
issue time is believed, because it is signed and the unit has nothing better. A command
is admitted only when it is newer than the last one acted on for its topic (newest wins,
which is also what a command that sets prices, stock or config should mean), so a replay
is refused across a restart too, and what is kept is one entry per command topic.
Only commands need this: a replayed ack or answer does nothing (an ack never moves back,
an answer matches no waiting request).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from protocol.errors import BadInput
from protocol.messages import MAX_PAYLOAD, PREFIX, SCHEMA
from protocol.timestamps import parse_stamp, utc_stamp

FLEET = "*"
# Bounds on an envelope's time: at most this long between issue and expiry (a command
# waiting for a unit that is off for a long weekend), and how far ahead of a synchronised
# unit clock an issue time may be.
MAX_LIFETIME = 7 * 24 * 3600.0
MAX_SKEW = 300.0
# Bounds on what a unit keeps to refuse replays: the command topics it has admitted
# commands on (it listens on its own, its store's and the fleet's, a few names each), and
# commands admitted with one issue time on one topic (the collector's clock has ms).
MAX_TOPICS = 1000
MAX_SAME_TIME = 100

_ID = re.compile(r"^[0-9a-f]{32}$")
_DEVICE = re.compile(rf"^{PREFIX}/([a-z0-9-]{{1,32}})/([a-z0-9-]{{1,32}})/(.+)$")
_STORE = re.compile(rf"^{PREFIX}/([a-z0-9-]{{1,32}})/cmd/(.+)$")
_FLEET = re.compile(rf"^{PREFIX}/fleet/cmd/(.+)$")  # checked first: "fleet" is no store


class EnvelopeError(BadInput):
    """An envelope refused: not one, badly signed, not for us, expired or replayed. The
    message is the one-line reason logged."""


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    signed: str
    sig: str
    schema: int = SCHEMA


class Claims(msgspec.Struct, forbid_unknown_fields=True):
    topic: str
    to: str
    id: str
    iat: str
    exp: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Opened:
    """An envelope whose signature and address held: its claims, with the times parsed
    (POSIX seconds)."""

    claims: Claims
    issued: float
    expires: float

    @property
    def body(self) -> dict[str, Any]:
        return self.claims.body


def addressee(topic: str) -> str:
    """Who a message on `topic` is for (or, on a device's own → collector topic, whose it
    is): `STORE/DEVICE`, `STORE` or `*`; EnvelopeError for a topic outside the scheme."""
    if m := _FLEET.match(topic):
        return FLEET
    if m := _STORE.match(topic):
        return m.group(1)
    if m := _DEVICE.match(topic):
        return f"{m.group(1)}/{m.group(2)}"
    raise EnvelopeError(f"topic {topic[:200]!r} is not one the collector publishes on")


_encoder = msgspec.json.Encoder()


def seal(
    key: Ed25519PrivateKey,
    topic: str,
    body: msgspec.Struct | Mapping[str, Any],
    *,
    now: float,
    lifetime: float,
    id: str | None = None,
) -> bytes:
    """The payload to publish on `topic`: `body` signed by `key`, issued at `now` (POSIX
    seconds) and expiring `lifetime` seconds later."""
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError(f"an envelope lives more than 0 and at most {MAX_LIFETIME:g} s")
    raw = msgspec.to_builtins(body) if isinstance(body, msgspec.Struct) else dict(body)
    claims = Claims(
        topic=topic,
        to=addressee(topic),
        id=id if id is not None else secrets.token_hex(16),
        iat=utc_stamp(now),
        exp=utc_stamp(now + lifetime),
        body=raw,
    )
    signed = _encoder.encode(claims).decode("utf-8")
    return _encoder.encode(Envelope(signed, key.sign(signed.encode("utf-8")).hex()))


def seal_device(
    key: Ed25519PrivateKey, topic: str, body: msgspec.Struct | Mapping[str, Any], *, now: float
) -> bytes:
    """What a device publishes on its own device → collector topics other than `sales`
    (whose records carry their own signatures): `body` sealed with its journal key, so the
    collector believes a status, telemetry, event, loyalty request or command result only
    from the device whose topic it is. `to` is that device (its topic's owner). The
    collector does not go by the times: a unit's clock may be the epoch until NTP
    answers. What repeats does no harm (a loyalty request is answered once per corr, a
    status is ordered by its `seq`), so the lifetime is the longest allowed."""
    return seal(key, topic, body, now=now, lifetime=MAX_LIFETIME)


def peek(payload: bytes, *, limit: int = MAX_PAYLOAD) -> dict[str, Any]:
    """The body of an envelope whose signature is NOT checked: only for finding the key
    to check it with (a device's first birth names its own key, which must then verify
    it). EnvelopeError when it is no envelope."""
    if len(payload) > limit:
        raise EnvelopeError(f"payload of {len(payload)} bytes is over the {limit} byte limit")
    try:
        env = msgspec.json.decode(payload, type=Envelope)
        return msgspec.json.decode(env.signed, type=Claims).body
    except (msgspec.DecodeError, RecursionError) as exc:
        raise EnvelopeError(f"not a signed envelope: {exc}") from exc


class Verifier:
    """Opens envelopes signed by one key (libsodium verifies, as for records): the
    collector's on a unit, a device's journal key on the collector (`whose` names it in
    the refusal)."""

    def __init__(self, public_key: Ed25519PublicKey, whose: str = "the collector key") -> None:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._key = VerifyKey(raw)
        self.whose = whose

    def open(self, payload: bytes, topic: str, *, limit: int = MAX_PAYLOAD) -> Opened:
        """The claims of `payload` received on `topic`, once its signature verifies and it
        was published for this topic; EnvelopeError saying why not."""
        if len(payload) > limit:
            raise EnvelopeError(f"payload of {len(payload)} bytes is over the {limit} byte limit")
        try:
            env = msgspec.json.decode(payload, type=Envelope)
        except msgspec.DecodeError as exc:
            raise EnvelopeError(f"not a signed envelope: {exc}") from exc
        except RecursionError as exc:
            raise EnvelopeError("not a signed envelope: it nests too deep") from exc
        if env.schema != SCHEMA:
            raise EnvelopeError(f"schema {env.schema} is not {SCHEMA}")
        try:
            sig = bytes.fromhex(env.sig) if len(env.sig) == 128 else b""
        except ValueError:
            sig = b""
        if len(sig) != 64:
            raise EnvelopeError("the signature is not 64 bytes of hex")
        signed = env.signed.encode("utf-8", "surrogatepass")
        try:
            self._key.verify(signed, sig)
        except BadSignatureError as exc:
            raise EnvelopeError(f"the signature does not verify against {self.whose}") from exc
        # Signed by the key's holder from here on: what is wrong now is its bug, or a replay.
        try:
            claims = msgspec.json.decode(signed, type=Claims)
        except (msgspec.DecodeError, RecursionError) as exc:
            raise EnvelopeError(f"signed claims that do not parse: {exc}") from exc
        if claims.topic != topic:
            raise EnvelopeError(
                f"signed for {claims.topic[:200]!r}, received on {topic[:200]!r}: re-published"
            )
        if claims.to != addressee(topic):
            raise EnvelopeError(f"addressed to {claims.to[:100]!r}, not to its topic's {topic!r}")
        if not _ID.match(claims.id):
            raise EnvelopeError("the envelope id is not 32 hex digits")
        try:
            issued = parse_stamp(claims.iat).timestamp()
            expires = parse_stamp(claims.exp).timestamp()
        except ValueError as exc:
            raise EnvelopeError(f"the envelope's times do not parse: {exc}") from exc
        if not 0 < expires - issued <= MAX_LIFETIME:
            raise EnvelopeError(
                f"lives {expires - issued:g} s: more than 0 and at most {MAX_LIFETIME:g} s"
            )
        return Opened(claims, issued, expires)


@dataclass
class Admission:
    """The time and replay rules (see the module docstring). `floor` is the earliest
    the unit's now can be (POSIX seconds). `newest` keeps, per topic, the issue time of
    the newest command admitted there and the ids admitted at that very time: a command
    is admitted only when it is newer, so the state stays one entry per command topic
    however many commands come (a set of every id seen grew with each stock update,
    4,762 in a bench's 20 simulated hours, and would have filled its bound in days)."""

    floor: float = 0.0
    newest: dict[str, tuple[float, list[str]]] = field(default_factory=dict)

    def now(self, clock: float) -> float:
        return max(clock, self.floor)

    def check(self, opened: Opened, *, clock: float, synced: bool, once: bool) -> None:
        """EnvelopeError when `opened` must not be acted on now: expired, from the future
        of a synchronised clock, or (with `once`) not newer than the last command acted on
        for its topic (a replay, or one overtaken). Changes nothing."""
        now = self.now(clock)
        if opened.expires <= now:
            raise EnvelopeError(
                f"expired at {opened.claims.exp} (the unit's time is {utc_stamp(now)})"
            )
        if synced and opened.issued > clock + MAX_SKEW:
            raise EnvelopeError(
                f"issued at {opened.claims.iat}, ahead of the unit's synchronised clock "
                f"({utc_stamp(clock)}) by more than {MAX_SKEW:g} s"
            )
        if not once:
            return
        last = self.newest.get(opened.claims.topic)
        if last is not None:
            issued, ids = last
            if opened.issued < issued or opened.claims.id in ids:
                what = "a replay" if opened.claims.id in ids else "older than one acted on"
                raise EnvelopeError(
                    f"envelope {opened.claims.id} is {what} for {opened.claims.topic}: a "
                    f"replay, or overtaken by the command issued at {utc_stamp(issued)}"
                )
            if opened.issued == issued and len(ids) >= MAX_SAME_TIME:
                raise EnvelopeError(f"{MAX_SAME_TIME} commands with one issue time: refusing more")
        elif len(self.newest) >= MAX_TOPICS:
            raise EnvelopeError(f"commands on {MAX_TOPICS} topics admitted: refusing more")

    def admit(self, opened: Opened, *, clock: float, synced: bool, once: bool) -> None:
        """`check`, then remember: the floor moves up to its issue time (and to the clock
        when it is synchronised); with `once` it becomes its topic's newest."""
        self.check(opened, clock=clock, synced=synced, once=once)
        self.floor = max(self.floor, opened.issued, clock if synced else 0.0)
        if once:
            topic, last = opened.claims.topic, self.newest.get(opened.claims.topic)
            if last is not None and last[0] == opened.issued:
                last[1].append(opened.claims.id)
            else:
                self.newest[topic] = (opened.issued, [opened.claims.id])

    def tick(self, *, clock: float, synced: bool) -> None:
        """A synchronised clock moves the floor (call it now and then)."""
        if synced:
            self.floor = max(self.floor, clock)

    def state(self) -> dict[str, Any]:
        """What to persist (JSON-able), for `Admission.restore` after a restart."""
        return {
            "floor": self.floor,
            "newest": {t: [issued, list(ids)] for t, (issued, ids) in self.newest.items()},
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any] | None) -> Admission:
        """From `state()`; anything unreadable is refused rather than guessed (BadInput):
        a unit must not forget what it has admitted because a file was damaged."""
        if not state:
            return cls()
        try:
            floor = float(state["floor"])
            newest = {
                str(t): (float(v[0]), [str(i) for i in v[1]])
                for t, v in dict(state.get("newest", {})).items()
            }
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BadInput(f"the saved envelope state is damaged: {exc}") from exc
        return cls(floor, newest)
