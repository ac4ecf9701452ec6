"""What the collector publishes: each message is decided inside a transaction and only
sent once that transaction has committed (acks, resend requests, stock levels)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outgoing:
    """A message to publish once the transaction that decided it has committed."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
