"""The fleet's X.509 identities (docs/security.md, "Identities"): a fleet CA kept in the
collector's keys directory (collector.keys), one client certificate per enrolled device
(CN = device id, OU = its store), the collector's own client certificate (CN `collector`),
the broker's server certificate (its host names and addresses as SANs) and the CRL.

Keys are ECDSA P-256: what every TLS stack on the way (OpenSSL under Mosquitto, Python's
ssl under paho) takes. Made with `cryptography`'s x509 builder; nothing is hand-encoded.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.keys import KeysError, KeyStore

CA_KEY = "fleet-ca.key"
CA_CERT = "fleet-ca.crt"
COLLECTOR_CN = "collector"  # a reserved device id (collector.enrolment), so no unit gets it
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
CA_DAYS = 20 * 365
DEVICE_DAYS = 5 * 365  # a unit is renewed (`fleet enroll --renew`) before this runs out
SERVICE_DAYS = 2 * 365  # the broker's and the collector's; broker-config renews them
RENEW_BEFORE = dt.timedelta(days=30)  # broker-config reissues what expires sooner
# Mosquitto refuses every client once the CRL is past its nextUpdate: 30 days, renewed by
# every broker-config run (daily, by systemd/collector-broker-config.timer).
CRL_DAYS = 30
# notBefore and lastUpdate a little in the past: a broker or unit whose clock is a few
# minutes behind the collector's would take a certificate made just now for not yet valid.
BACKDATE = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def serial_hex(serial: int) -> str:
    """How a serial is kept in the database and shown: lower-case hex (it is 159 bits,
    too big for a BIGINT)."""
    return f"{serial:x}"


@dataclass(frozen=True)
class Issued:
    """A certificate and its new private key, as PEM, with the certificate's serial."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def serial(self) -> str:
        return serial_hex(self.cert.serial_number)

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)


@dataclass(frozen=True)
class Revoked:
    """A certificate on the CRL: its serial (hex) and when it was revoked."""

    serial: str
    at: dt.datetime


class FleetCA:
    """The fleet CA: its key (`fleet-ca.key`, 0600) and self-signed certificate
    (`fleet-ca.crt`) in the keys directory, made on first use (`open`)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def open(cls, keys: KeyStore, *, create: bool = True) -> FleetCA:
        """The CA in `keys`, made when there is none and `create`; KeysError when its
        files are unreadable, or do not belong together."""
        key_path, cert_path = keys.secret(CA_KEY), keys.secret(CA_CERT)
        if not key_path.exists():
            if not create:
                raise KeysError(
                    f"{key_path}: there is no fleet CA yet (the first `collector fleet "
                    "enroll` makes it); is --keys right?"
                )
            # Two processes making it at once: the first key written wins (write_new is
            # O_EXCL), and both go on with the key that is on disk.
            keys.write_new(CA_KEY, key_pem(_new_key()))
        keys.ensure()
        try:
            key = serialization.load_pem_private_key(keys.read(CA_KEY), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeysError(f"{key_path}: is not a readable private key in PEM ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeysError(f"{key_path}: holds a {type(key).__name__}, not an EC key")
        if not cert_path.exists():
            keys.write_new(CA_CERT, cert_pem(_self_signed(key)))
        try:
            cert = x509.load_pem_x509_certificate(keys.read(CA_CERT))
        except ValueError as exc:
            raise KeysError(f"{cert_path}: is not a certificate in PEM ({exc})") from exc
        if cert.public_key() != key.public_key():
            raise KeysError(
                f"{cert_path}: is not the certificate of {key_path}; restore both from the "
                "same backup"
            )
        return cls(key, cert)

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    def _issue(
        self,
        cn: str,
        *,
        days: int,
        usage: x509.ObjectIdentifier,
        ou: str | None = None,
        hosts: Sequence[str] = (),
    ) -> Issued:
        key = _new_key()
        now = _now()
        names = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if ou is not None:
            names.insert(0, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(names))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # A client certificate cannot serve as the broker's, nor the broker's as a client's.
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def device(self, device: str, store: str) -> Issued:
        """A unit's client certificate: CN its id (the broker's username for it), OU its store."""
        return self._issue(
            device, days=DEVICE_DAYS, usage=ExtendedKeyUsageOID.CLIENT_AUTH, ou=store
        )

    def collector(self) -> Issued:
        """The collector's client certificate (CN `collector`)."""
        return self._issue(COLLECTOR_CN, days=SERVICE_DAYS, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    def broker(self, hosts: Sequence[str]) -> Issued:
        """The broker's server certificate: CN the first host, every host a SAN (IP
        addresses as IP SANs: clients check those, never the CN)."""
        return self._issue(
            hosts[0], days=SERVICE_DAYS, usage=ExtendedKeyUsageOID.SERVER_AUTH, hosts=hosts
        )

    def crl(
        self, revoked: Iterable[Revoked], *, days: int = CRL_DAYS
    ) -> x509.CertificateRevocationList:
        """The CRL of `revoked`, valid from now (less BACKDATE) for `days`."""
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - BACKDATE)
            .next_update(now + dt.timedelta(days=days))
            # Increases with every CRL (by the second), as RFC 5280 asks of a CRL number.
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        for r in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(r.serial, 16))
                .revocation_date(r.at)
                .build()
            )
        return builder.sign(self.key, hashes.SHA256())

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether `cert` was signed by this CA."""
        if cert.issuer != self.cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def ca_certificate(keys: KeyStore) -> x509.Certificate | None:
    """The fleet CA's certificate in `keys`, for checking what it issued (no key needed);
    None while there is none yet, or it will not load."""
    try:
        return x509.load_pem_x509_certificate(keys.secret(CA_CERT).read_bytes())
    except (OSError, ValueError):
        return None


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pos fleet CA")])
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _sans(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def hosts_of(cert: x509.Certificate) -> set[str]:
    """The host names and addresses a server certificate is for."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    found = {str(n) for n in san.get_values_for_type(x509.DNSName)}
    return found | {str(a) for a in san.get_values_for_type(x509.IPAddress)}


def fresh(cert: x509.Certificate) -> bool:
    """Whether `cert` is valid now and for RENEW_BEFORE longer."""
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now
