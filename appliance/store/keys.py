"""device.key: the device's Ed25519 identity, which signs every journal record.

The key is made once, on first open, and never replaced: a new key would make every
record signed so far unverifiable against the device's published public key.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.store.errors import StoreError, StoreFileError
from appliance.store.files import write_atomic


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key in `path`, made (atomically, mode 0600) when there is none yet."""
    if not path.exists():
        _create(path)
    return _load(path)


def public_key_pem(key: Ed25519PrivateKey) -> str:
    """The public half, SubjectPublicKeyInfo PEM (what `journal verify` and the collector use)."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the device key: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # A restored backup may come back world-readable; the secret must not stay so.
        try:
            path.chmod(0o600)
        except OSError as exc:
            raise StoreError(
                f"{path}: the device key is readable by others and cannot be made private "
                f"({exc.strerror}); chmod 600 it"
            ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise StoreFileError(
            f"{path}: is not a readable Ed25519 private key in PEM ({exc}); it is the "
            "device's identity and was left untouched: restore it from a backup"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StoreFileError(
            f"{path}: holds a {type(key).__name__}, not an Ed25519 key; it was left "
            "untouched: restore the device's own key from a backup"
        )
    return key


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # No overwrite: two processes opening a fresh data_dir at once must not replace
        # each other's key; the one that loses the race uses the winner's.
        write_atomic(path, pem, mode=0o600, replace=False)
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the device key: {exc.strerror}; "
            f"check that {path.parent} is writable"
        ) from exc
