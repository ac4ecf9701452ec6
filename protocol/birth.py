"""A birth vouched for by its enrolment (docs/security.md, "Identities"): the journal key a
unit announces in its `status` is signed by the key of the certificate `collector fleet
enroll` issued it. On a plain broker anyone may publish a birth on any unit's topic, and
the first key the collector took was the one it kept: an outsider who announced a key
for an enrolled id before its unit first connected locked the unit out and sold, earned
and refunded points as it. Only the enrolled unit holds its certificate's key.

The birth carries the certificate (`cert`, PEM) and `proof`: the hex DER ECDSA signature
(P-256, SHA-256), by the certificate's key, of `vouched(store, device, pubkey)`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocol.errors import BadInput

CONTEXT = "pos/v1 journal key"  # what the proof signs is a journal key, nothing else
MAX_CERT = 8192  # characters of a certificate in a birth (a fleet one is under 1,000)


class BirthProofError(BadInput):
    """The enrolment's certificate or key cannot vouch for a birth (names the file)."""


def vouched(store: str, device: str, pubkey: str) -> bytes:
    """What the proof signs: the journal key `pubkey` (PEM) as `store`/`device`'s."""
    return f"{CONTEXT}\n{store}/{device}\n{pubkey}".encode()


@dataclass(frozen=True)
class Voucher:
    """A unit's enrolment certificate (PEM) and its key: what proves its births."""

    cert_pem: str
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def load(cls, cert: str | Path, key: str | Path) -> Voucher:
        """The certificate and key files `collector fleet enroll` wrote; BirthProofError
        naming the file that will not do."""
        try:
            cert_pem = Path(cert).read_text(encoding="ascii")
            x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        except (OSError, ValueError) as exc:
            raise BirthProofError(f"{cert}: not a readable certificate in PEM ({exc})") from exc
        try:
            found = serialization.load_pem_private_key(Path(key).read_bytes(), password=None)
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise BirthProofError(f"{key}: not a readable private key in PEM ({exc})") from exc
        if not isinstance(found, ec.EllipticCurvePrivateKey):
            raise BirthProofError(f"{key}: holds a {type(found).__name__}, not an EC key")
        return cls(cert_pem, found)

    def prove(self, store: str, device: str, pubkey: str) -> str:
        """The proof that `pubkey` is the journal key of `store`/`device`."""
        return self.key.sign(vouched(store, device, pubkey), ec.ECDSA(hashes.SHA256())).hex()


def refusal(
    ca: x509.Certificate,
    *,
    cert_pem: str,
    proof: str,
    store: str,
    device: str,
    pubkey: str,
    serial: str,
    now: dt.datetime,
) -> str | None:
    """Why the birth's `cert` and `proof` do not vouch for `pubkey` as the journal key of
    enrolled `device` (whose current certificate has hex `serial`), or None when they do."""
    if not cert_pem or not proof:
        return "it comes without the proof of the device's enrolment certificate"
    if len(cert_pem) > MAX_CERT:
        return f"its certificate is over {MAX_CERT} characters"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii", "replace"))
    except ValueError as exc:
        return f"its certificate is not one in PEM ({exc})"
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return "its certificate was not issued by the fleet CA"
    if f"{cert.serial_number:x}" != serial:
        return (
            f"its certificate {cert.serial_number:x} is not the device's current one "
            f"({serial}): replaced by `fleet enroll --renew`, or another device's"
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [n.value for n in names] != [device]:
        return f"its certificate is not {device!r}'s"
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return f"its certificate is not valid now (until {cert.not_valid_after_utc:%Y-%m-%d})"
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "its certificate's key is not an EC key"
    try:
        key.verify(bytes.fromhex(proof), vouched(store, device, pubkey), ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        return "its proof does not verify with the enrolment certificate"
    return None
