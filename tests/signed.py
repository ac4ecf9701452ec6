"""The tests' collector signature: sealing what a test sends as the collector, and opening
what a real collector sent (protocol/envelope.py, with the key of tests/conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from collector.outgoing import Signer
from protocol.envelope import Verifier
from tests.conftest import COLLECTOR_KEYS


def seal(topic: str, message: msgspec.Struct | dict[str, Any] | bytes) -> bytes:
    """`message` as the tests' collector publishes it on `topic`."""
    if isinstance(message, bytes):
        payload = message
    elif isinstance(message, msgspec.Struct):
        payload = msgspec.json.encode(message)
    else:
        payload = json.dumps(message).encode()
    return Signer(COLLECTOR_KEYS.signing_key()).seal(topic, payload)


def unseal(payload: bytes, topic: str) -> dict[str, Any]:
    """The body of what a collector published on `topic` (AssertionError if it is not
    signed by the tests' collector key, or not for `topic`)."""
    verifier = Verifier(COLLECTOR_KEYS.signing_key().public_key())
    return verifier.open(payload, topic).body


def device_body(payload: bytes, topic: str) -> dict[str, Any]:
    """The body of what a unit sealed for its own `topic` (status, telemetry, events,
    loyalty/request, cmd/…/result), checked to be for that topic. The signature is not
    checked here: tests of what the collector believes check it (tests/test_attacks.py,
    tests/test_collector_ingest.py); these read what the unit said."""
    claims = msgspec.json.decode(msgspec.json.decode(payload)["signed"])
    assert claims["topic"] == topic, (claims["topic"], topic)
    body: dict[str, Any] = claims["body"]
    return body
