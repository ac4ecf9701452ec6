"""What the collector publishes: each message is decided inside a transaction and only
sent once that transaction has committed (acks, resend requests, stock levels), and goes
out sealed in the collector's signed envelope (protocol/envelope.py): a unit acts on
nothing else."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.envelope import seal
from protocol.messages import MAX_CATALOG_PAYLOAD

# How long what the collector says stays good, by what follows the device (or store, or
# fleet) in its topic. An ack or an answer that comes late does no harm when refused (the
# unit resends; the till has moved on); a command must outlive a unit that is off over a
# long weekend.
LIFETIMES = {"ack": 3600.0, "loyalty/response": 60.0, "cmd/resend": 3600.0}
COMMAND_LIFETIME = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Outgoing:
    """A message to publish once the transaction that decided it has committed."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def lifetime(topic: str) -> float:
    """Seconds an envelope on `topic` stays good (see LIFETIMES)."""
    for leaf, seconds in LIFETIMES.items():
        if topic.endswith("/" + leaf):
            return seconds
    return COMMAND_LIFETIME


class Signer:
    """Seals messages with the collector's signing key (collector.keys.KeyStore)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._decode = msgspec.json.Decoder(dict)

    def seal(self, topic: str, payload: bytes, now: float | None = None) -> bytes:
        """`payload` (an encoded message) as the envelope published on `topic`."""
        body = self._decode.decode(payload)
        sealed = seal(
            self._key,
            topic,
            body,
            now=time.time() if now is None else now,
            lifetime=lifetime(topic),
        )
        if len(sealed) > MAX_CATALOG_PAYLOAD:
            raise ValueError(f"a sealed message of {len(sealed)} bytes is over what units take")
        return sealed

    def sealed(self, messages: list[Outgoing]) -> list[Outgoing]:
        now = time.time()
        return [replace(m, payload=self.seal(m.topic, m.payload, now)) for m in messages]
