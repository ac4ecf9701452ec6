"""The journal's hash chain: canonical JSON, SHA-256 links and Ed25519 signatures.

Each record's `hash` is the hex SHA-256 of the record without `hash` and `sig` as
canonical JSON (UTF-8, sorted keys, no spaces, non-ASCII unescaped); `prev_hash` is the
previous record's `hash` (64 zeros for the first). `sig` is the hex Ed25519 signature of
the 64-character hex `hash` encoded as ASCII (the hex text, not the 32 raw digest bytes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from protocol.errors import BadInput

# The `prev_hash` of a chain's first record.
GENESIS_HASH = "0" * 64


class PublicKeyError(BadInput):
    """A public key that is not an Ed25519 key in PEM."""


def canonical_json(value: Any) -> str:
    """The one JSON spelling of a record that hashes and storage use."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hashed_part(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("hash", "sig")}


def record_hash(record: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the record's canonical JSON without `hash` and `sig`."""
    return hashlib.sha256(canonical_json(_hashed_part(record)).encode("utf-8")).hexdigest()


_sorted = msgspec.json.Encoder(order="sorted")


def _fast_record_hash(record: Mapping[str, Any]) -> str:
    """`record_hash` with msgspec's sorted compact encoding: the same bytes as
    `canonical_json` for the records units write (strings and integers), and several
    times faster (docs/benchmarks.md). Floats and odd escapes may be spelt differently,
    so a mismatch is only ever a reason to ask `record_hash`, never a verdict."""
    return hashlib.sha256(_sorted.encode(_hashed_part(record))).hexdigest()


def hash_matches(record: Mapping[str, Any], digest: str) -> bool:
    """Whether `digest` is the record's hash (fast path first, see `_fast_record_hash`)."""
    try:
        if _fast_record_hash(record) == digest:
            return True
    except (TypeError, msgspec.EncodeError):
        pass
    return record_hash(record) == digest


def _is_signature_hex(text: str) -> bool:
    """64 bytes in 128 hex digits (`bytes.fromhex` alone would also take spaces)."""
    try:
        return len(text) == 128 and len(bytes.fromhex(text)) == 64
    except ValueError:
        return False


def sign_hash(key: Ed25519PrivateKey, hash_hex: str) -> str:
    """Hex Ed25519 signature of the hex hash's ASCII bytes."""
    return key.sign(hash_hex.encode("ascii")).hex()


def load_public_key(public_key_pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; PublicKeyError when it is anything else."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii", "replace"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PublicKeyError(f"not a readable public key in PEM ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise PublicKeyError(f"the public key is a {type(key).__name__}, not Ed25519")
    return key


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain check: `seq` and `reason` name the first bad record when not ok.

    `checked` counts the records found intact before it (all of them when ok).
    """

    ok: bool
    checked: int
    seq: int | None
    reason: str


class ChainChecker:
    """Checks records one at a time, oldest first, remembering the last good hash.

    Signatures are verified with libsodium (PyNaCl), not cryptography's OpenSSL: it is
    about twice as fast, and verifying is the largest part of the collector's ingest
    (docs/benchmarks.md, "The figures behind the code").

    `check(record, signature=False)` checks the link and the hash only (and that `sig` is
    64 bytes of hex); `signed(record)` then verifies one signature. Each record's hash
    covers `prev_hash`, so a good signature on the newest record of a run checked that way
    vouches for every record before it: a changed byte anywhere in the run changes a
    hash and breaks the link or that signature. The collector uses this on a backlog."""

    def __init__(self, public_key_pem: str) -> None:
        raw = load_public_key(public_key_pem).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key = VerifyKey(raw)
        self.prev_hash = GENESIS_HASH
        self.checked = 0

    def check(self, record: Any, *, signature: bool = True) -> str:
        """Why `record` breaks the chain, or "" when it is the next good link (then taken).
        With `signature=False` its signature is left to a later `signed()` of it or of a
        record after it."""
        expected = self.checked + 1
        if not isinstance(record, Mapping):
            return f"record {expected} is not a JSON object"
        seq = record.get("seq")
        if seq != expected:
            return f"seq {seq} where {expected} was expected: a record is missing or out of order"
        digest, sig = record.get("hash"), record.get("sig")
        if not isinstance(digest, str) or not isinstance(sig, str):
            return "hash or sig is missing"
        if record.get("prev_hash") != self.prev_hash:
            return "prev_hash does not match the previous record's hash: the chain is broken here"
        if not hash_matches(record, digest):
            return "hash does not match the record's content: the record was altered"
        if signature:
            if not self.signed(record):
                return "signature does not verify with this device's public key"
        elif not _is_signature_hex(sig):
            return "sig is not an Ed25519 signature in hex"
        self.prev_hash = digest
        self.checked = expected
        return ""

    def signed(self, record: Mapping[str, Any]) -> bool:
        """Whether the record's `sig` is this device's signature of its `hash` (which
        `check` has matched to the content)."""
        digest, sig = record.get("hash"), record.get("sig")
        if not isinstance(digest, str) or not isinstance(sig, str):
            return False
        try:
            self._key.verify(digest.encode("ascii"), bytes.fromhex(sig))
        except (ValueError, UnicodeEncodeError, BadSignatureError):
            return False
        return True

    def failed(self, seq: int | None, reason: str) -> VerifyResult:
        """The result naming `seq` as the first bad record."""
        return VerifyResult(False, self.checked, seq, reason)

    def passed(self) -> VerifyResult:
        return VerifyResult(True, self.checked, None, f"{self.checked} records, chain intact")


def verify_chain(records: Iterable[Mapping[str, Any]], public_key_pem: str) -> VerifyResult:
    """Check seq runs 1, 2, 3…, each hash matches its content and links to the one before,
    and each is signed by `public_key_pem`. Stops at the first bad record."""
    checker = ChainChecker(public_key_pem)
    for record in records:
        problem = checker.check(record)
        if problem:
            seq = record.get("seq") if isinstance(record, Mapping) else None
            return checker.failed(seq if isinstance(seq, int) else checker.checked + 1, problem)
    return checker.passed()
