"""The collector's secrets, in one directory of its own (`--keys DIR`, `COLLECTOR_KEYS`,
`[keys] dir`): its Ed25519 signing key (`signing.key`, what signs everything it sends to
the units; `signing.pub` is the public half the units are given), the master key for
personal data (`master.key`, collector.customers.privacy), and, with enrolment, the
fleet CA.

Where, when not given: beside a SQLite database (`/srv/collector.db` →
`/srv/collector.keys/`), else `/var/lib/collector/keys`; never loose in the working
directory. The directory is made mode 0700 on first use and each secret 0600, never
overwritten (two processes making one at once keep the first); a directory or a secret
that others can read is tightened, and refused if it cannot be.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from collector.errors import CollectorInput

ENV = "COLLECTOR_KEYS"
SYSTEM_DIR = Path("/var/lib/collector/keys")
SIGNING_KEY = "signing.key"
SIGNING_PUB = "signing.pub"
MASTER_KEY = "master.key"


class KeysError(CollectorInput):
    """The keys directory or a secret in it cannot be used; the message says which and why."""


def default_dir(db_url: str) -> Path:
    """Where the keys live when nobody said: beside a SQLite file, else the system's."""
    try:
        url = make_url(db_url)
    except ArgumentError:
        return SYSTEM_DIR
    name = url.database
    if url.get_backend_name() == "sqlite" and name and name != ":memory:":
        db = Path(name).absolute()
        return db.with_name(f"{db.stem}.keys")
    return SYSTEM_DIR


def _private(path: Path, what: str) -> None:
    """Take group and other access away from `path` (a restored backup may come back
    readable); KeysError when that cannot be done."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        try:
            path.chmod(0o700 if stat.S_ISDIR(mode) else 0o600)
        except OSError as exc:
            raise KeysError(
                f"{path}: the {what} is readable by others and cannot be made private "
                f"({exc.strerror}); chmod it"
            ) from exc


class KeyStore:
    """The keys directory at `path` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def ensure(self) -> Path:
        """The directory, made 0700 when it is not there yet."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeysError(
                f"{self.path}: cannot make the collector's keys directory ({exc.strerror}); "
                f"give a writable one with --keys DIR or {ENV}"
            ) from exc
        if not self.path.is_dir():
            raise KeysError(f"{self.path}: is not a directory; give --keys DIR")
        _private(self.path, "keys directory")
        return self.path

    def secret(self, name: str) -> Path:
        return self.path / name

    def write_new(self, name: str, data: bytes) -> bool:
        """Write secret `name` (0600) unless it exists; False when it already did."""
        self.ensure()
        path = self.secret(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        except OSError as exc:
            raise KeysError(f"{path}: cannot write it ({exc.strerror})") from exc
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return True

    def read(self, name: str) -> bytes:
        path = self.secret(name)
        try:
            _private(path, "secret")
            return path.read_bytes()
        except OSError as exc:
            raise KeysError(f"{path}: cannot read it ({exc.strerror})") from exc

    def signing_key(self, *, create: bool = True) -> Ed25519PrivateKey:
        """The collector's Ed25519 signing key, made on first use (with `signing.pub`)."""
        path = self.secret(SIGNING_KEY)
        if not path.exists():
            if not create:
                raise KeysError(
                    f"{path}: there is no signing key yet (the first `collector run` or "
                    "`fleet enroll` makes it); is --keys right?"
                )
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self.write_new(SIGNING_KEY, pem)
        self.ensure()  # tightened, if a restore left it open
        try:
            key = serialization.load_pem_private_key(self.read(SIGNING_KEY), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeysError(
                f"{path}: is not a readable private key in PEM ({exc}); restore it from a "
                "backup: the units trust only what it signs"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeysError(f"{path}: holds a {type(key).__name__}, not an Ed25519 key")
        pub = self.secret(SIGNING_PUB)
        if not pub.exists():
            pub_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            tmp = pub.with_suffix(".pub.tmp")
            tmp.write_bytes(pub_pem)
            os.replace(tmp, pub)
        return key

    def signing_public_pem(self) -> str:
        """The public half of the signing key (what a unit's `[mqtt] collector_key` holds)."""
        return (
            self.signing_key()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
