"""protocol.envelope: what the collector signs, and the rules a unit admits it by."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from protocol import envelope
from protocol.envelope import Admission, EnvelopeError, Verifier, seal
from protocol.messages import Ack, device_topic, fleet_cmd_topic, store_cmd_topic

KEY = Ed25519PrivateKey.generate()
VERIFY = Verifier(KEY.public_key())
ACK = device_topic("s001", "till-01", "ack")
T0 = 1_796_000_000.0  # 2026-11-30


def sealed(
    topic: str = ACK,
    body: msgspec.Struct | dict[str, Any] | None = None,
    now: float = T0,
    life: float = 600,
) -> bytes:
    return seal(KEY, topic, body or Ack(upto=7), now=now, lifetime=life)


def forge(payload: bytes, **changes: object) -> bytes:
    """The envelope's claims changed and signed again with the collector's own key: what
    a bug on its side could send (an attacker without the key cannot)."""
    env = json.loads(payload)
    claims = json.loads(env["signed"]) | changes
    signed = json.dumps(claims)
    return json.dumps(
        {"schema": 1, "signed": signed, "sig": KEY.sign(signed.encode()).hex()}
    ).encode()


def test_what_is_sealed_opens_on_its_topic_with_its_body() -> None:
    opened = VERIFY.open(sealed(), ACK)
    assert opened.body == {"upto": 7, "schema": 1}
    assert opened.claims.to == "s001/till-01"
    assert (opened.issued, opened.expires) == (T0, T0 + 600)
    for topic, to in (
        (store_cmd_topic("s001", "prices"), "s001"),
        (fleet_cmd_topic("config"), "*"),
    ):
        assert VERIFY.open(sealed(topic, {"x": 1}), topic).claims.to == to


def test_another_key_a_changed_byte_or_no_signature_is_refused() -> None:
    other = seal(Ed25519PrivateKey.generate(), ACK, Ack(upto=7), now=T0, lifetime=600)
    with pytest.raises(EnvelopeError, match="does not verify"):
        VERIFY.open(other, ACK)
    env = json.loads(sealed())
    env["signed"] = env["signed"].replace('"upto":7', '"upto":9')
    with pytest.raises(EnvelopeError, match="does not verify"):
        VERIFY.open(json.dumps(env).encode(), ACK)
    with pytest.raises(EnvelopeError, match="not 64 bytes of hex"):
        VERIFY.open(json.dumps(env | {"sig": "zz" * 64}).encode(), ACK)
    with pytest.raises(EnvelopeError, match="not a signed envelope"):
        VERIFY.open(b'{"upto": 99, "schema": 1}', ACK)  # today's unsigned ack


def test_an_envelope_republished_elsewhere_is_refused() -> None:
    payload = sealed()
    with pytest.raises(EnvelopeError, match="re-published"):
        VERIFY.open(payload, device_topic("s001", "till-02", "ack"))
    prices = store_cmd_topic("s001", "prices")
    with pytest.raises(EnvelopeError, match="re-published"):
        VERIFY.open(sealed(prices, {"x": 1}), store_cmd_topic("s002", "prices"))
    with pytest.raises(EnvelopeError, match="addressed to"):
        VERIFY.open(forge(payload, to="*"), ACK)


def test_times_are_bounded() -> None:
    with pytest.raises(ValueError):
        seal(KEY, ACK, Ack(upto=1), now=T0, lifetime=envelope.MAX_LIFETIME + 1)
    payload = sealed()
    with pytest.raises(EnvelopeError, match="lives"):
        VERIFY.open(forge(payload, exp="2036-01-01T00:00:00.000Z"), ACK)
    with pytest.raises(EnvelopeError, match="do not parse"):
        VERIFY.open(forge(payload, iat="yesterday"), ACK)
    with pytest.raises(EnvelopeError, match="32 hex"):
        VERIFY.open(forge(payload, id="1"), ACK)


def test_expired_future_and_replayed_envelopes_are_refused() -> None:
    gate = Admission()
    cmd = store_cmd_topic("s001", "prices")
    first = VERIFY.open(sealed(cmd, {"x": 1}), cmd)
    gate.admit(first, clock=T0 + 1, synced=True, once=True)
    with pytest.raises(EnvelopeError, match="a replay"):
        gate.admit(first, clock=T0 + 2, synced=True, once=True)
    late = VERIFY.open(sealed(cmd, {"x": 2}), cmd)
    with pytest.raises(EnvelopeError, match="expired"):
        gate.check(late, clock=T0 + 601, synced=True, once=True)
    ahead = VERIFY.open(sealed(cmd, {"x": 3}, now=T0 + 3600), cmd)
    with pytest.raises(EnvelopeError, match="ahead of the unit's synchronised clock"):
        gate.check(ahead, clock=T0, synced=True, once=True)
    # An unsynchronised clock (a Pi at the epoch) believes the signed issue time.
    gate.admit(ahead, clock=0.0, synced=False, once=True)
    assert gate.floor == T0 + 3600
    # Acks and answers are not kept: acting on them twice does nothing.
    ack = VERIFY.open(sealed(now=T0 + 3600), ACK)
    gate.admit(ack, clock=0.0, synced=False, once=False)
    gate.admit(ack, clock=0.0, synced=False, once=False)
    assert ACK not in gate.newest


def test_a_restart_or_a_clock_reset_does_not_reopen_replays_or_expired_ones() -> None:
    gate = Admission()
    cmd = fleet_cmd_topic("config")
    old = VERIFY.open(sealed(cmd, {"a": 1}, now=T0), cmd)
    gate.admit(old, clock=T0, synced=True, once=True)
    newer = VERIFY.open(sealed(cmd, {"a": 2}, now=T0 + 7200), cmd)
    gate.admit(newer, clock=T0 + 7200, synced=True, once=True)
    saved = json.loads(json.dumps(gate.state()))  # as the unit writes and reads it
    after = Admission.restore(saved)
    # The clock back at the epoch after a reboot: the floor keeps `old` expired ...
    with pytest.raises(EnvelopeError, match="expired"):
        after.check(old, clock=0.0, synced=False, once=True)
    # ... and `newer`, still unexpired, is still known.
    with pytest.raises(EnvelopeError, match="a replay"):
        after.check(newer, clock=0.0, synced=False, once=True)
    # Once it has expired it is refused as expired.
    after.tick(clock=T0 + 7200 + 601, synced=True)
    with pytest.raises(EnvelopeError, match="expired"):
        after.check(newer, clock=0.0, synced=False, once=True)
    with pytest.raises(Exception, match="damaged"):
        Admission.restore({"floor": "x", "seen": {}})


def test_newest_wins_per_topic_and_what_is_kept_stays_small() -> None:
    gate = Admission()
    prices, config = store_cmd_topic("s001", "prices"), fleet_cmd_topic("config")
    first = VERIFY.open(sealed(prices, {"n": 1}, now=T0), prices)
    later = VERIFY.open(sealed(prices, {"n": 2}, now=T0 + 10), prices)
    gate.admit(later, clock=T0 + 10, synced=True, once=True)
    # Overtaken: an older command for the same topic comes late, and is not acted on.
    with pytest.raises(EnvelopeError, match="overtaken"):
        gate.check(first, clock=T0 + 11, synced=True, once=True)
    # Another topic has its own newest.
    gate.admit(VERIFY.open(sealed(config, {"n": 3}, now=T0), config), clock=T0 + 11,
               synced=True, once=True)  # fmt: skip
    # Two commands issued in the same millisecond are both taken, each once.
    same = [VERIFY.open(sealed(prices, {"n": n}, now=T0 + 20), prices) for n in (4, 5)]
    for o in same:
        gate.admit(o, clock=T0 + 20, synced=True, once=True)
    with pytest.raises(EnvelopeError, match="a replay"):
        gate.check(same[0], clock=T0 + 21, synced=True, once=True)
    # However many commands come, one entry per topic.
    for n in range(500):
        o = VERIFY.open(sealed(prices, {"n": n}, now=T0 + 30 + n), prices)
        gate.admit(o, clock=T0 + 30 + n, synced=True, once=True)
    assert sorted(gate.newest) == [config, prices] and len(gate.newest[prices][1]) == 1


@given(st.binary(max_size=2000))
def test_any_bytes_are_refused_with_a_reason(payload: bytes) -> None:
    with pytest.raises(EnvelopeError):
        VERIFY.open(payload, ACK)


@given(st.text(max_size=300), st.text(max_size=200))
def test_any_signed_text_and_signature_are_refused_with_a_reason(signed: str, sig: str) -> None:
    payload = json.dumps({"schema": 1, "signed": signed, "sig": sig}).encode()
    with pytest.raises(EnvelopeError):
        VERIFY.open(payload, ACK)
