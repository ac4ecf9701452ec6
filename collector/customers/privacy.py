"""Personal data at rest, GDPR export and erase.

Each customer's names, email and phone are one AES-GCM sealed JSON blob (`customers.sealed`)
under a 256-bit key of their own; that key is stored wrapped (AES-GCM) with the collector's
master key in `customer_keys`. Erasing a customer deletes their key: every copy of the
sealed blob, in this database or in any backup taken without the key table, is then noise.
Sales stay, with the account replaced by a tombstone; ledger totals are unchanged.

The master key (32 bytes) is `COLLECTOR_MASTER_KEY` (base64) when that is set, else the
file `[privacy] master_key_file` of the collector config names (which
`COLLECTOR_MASTER_KEY_FILE` overrides, collector.config; `master.key` in the keys
directory by default, collector.keys), made (mode 0600) when it does not exist yet. A
`collector-master.key` in the working directory, where collectors before the keys
directory made it, is refused rather than replaced by a new key that would open nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.orm import Session

from collector.config import LEGACY_MASTER_KEY_FILE, PrivacySection
from collector.customers.consent import consents
from collector.db import DEFAULT_URL
from collector.errors import CollectorError, CollectorInput
from collector.keys import MASTER_KEY, KeyStore, default_dir
from collector.models import (
    Consent,
    Customer,
    CustomerKey,
    LoyaltyAccount,
    LoyaltyCard,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyReservation,
    Sale,
)
from protocol.timestamps import utc_stamp

# The key itself, for where a file will not do (a container's secret); read here only,
# never kept in the configuration.
MASTER_KEY_ENV = "COLLECTOR_MASTER_KEY"
PERSONAL = ("surname", "first_names", "email", "phone")
_NONCE = 12


class PrivacyError(CollectorError):
    """Personal data could not be sealed, opened or erased; the message says why."""


def load_master_key(settings: PrivacySection | None = None, *, create: bool = True) -> bytes:
    """The 32-byte master key (see the module docstring for where it comes from).
    With `create` false a missing key file is PrivacyError: nothing was sealed with it."""
    env = os.environ.get(MASTER_KEY_ENV)
    if env:
        try:
            key = base64.b64decode(env, validate=True)
        except binascii.Error as exc:
            raise CollectorInput(f"{MASTER_KEY_ENV} is not base64") from exc
        if len(key) != 32:
            raise CollectorInput(f"{MASTER_KEY_ENV} holds {len(key)} bytes, not 32")
        return key
    given = (settings or PrivacySection()).master_key_file
    path = Path(given) if given else default_dir(DEFAULT_URL) / MASTER_KEY
    legacy = Path(LEGACY_MASTER_KEY_FILE)
    if not path.exists() and legacy.exists() and legacy.absolute() != path.absolute():
        raise CollectorInput(
            f"{legacy.absolute()} is a master key where earlier collectors kept it, and "
            f"{path} is not there: move it there (or set [privacy] master_key_file to it); "
            "a new key would leave every customer's data sealed for good"
        )
    if not create and not path.exists():
        raise PrivacyError(f"{path}: no master key; nothing has been sealed with it")
    try:
        if not path.exists():
            if path.name == MASTER_KEY:
                KeyStore(path.parent).ensure()  # the keys directory, 0700
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except FileExistsError:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise CollectorInput(f"{path}: cannot use it as the master key: {exc}") from exc
    if len(key) != 32:
        raise CollectorInput(f"{path}: the master key must be 32 bytes (base64), not {len(key)}")
    return key


class Vault:
    """Seals and opens customers' personal data with their own keys."""

    def __init__(self, master: bytes) -> None:
        self._master = AESGCM(master)

    @classmethod
    def from_settings(cls, settings: PrivacySection | None = None) -> Vault:
        return cls(load_master_key(settings))

    @classmethod
    def existing(cls, settings: PrivacySection | None = None) -> Vault | None:
        """The vault when a master key exists already (readers never make one)."""
        try:
            return cls(load_master_key(settings, create=False))
        except PrivacyError:
            return None

    def _key(self, session: Session, account: str, create: bool) -> AESGCM | None:
        row = session.get(CustomerKey, account)
        if row is None:
            if not create:
                return None
            key = AESGCM.generate_key(bit_length=256)
            nonce = secrets.token_bytes(_NONCE)
            wrapped = nonce + self._master.encrypt(nonce, key, b"customer-key:" + account.encode())
            session.add(CustomerKey(account=account, wrapped=wrapped, created_at=utc_stamp()))
            return AESGCM(key)
        try:
            nonce, body = row.wrapped[:_NONCE], row.wrapped[_NONCE:]
            key = self._master.decrypt(nonce, body, b"customer-key:" + account.encode())
        except InvalidTag as exc:
            raise PrivacyError(
                f"the key of account {account} does not open with this master key: "
                "start the collector with the master key the data was sealed with"
            ) from exc
        return AESGCM(key)

    def write(self, session: Session, account: str, data: dict[str, str], source: str) -> None:
        """Seal `data` (surname, first_names, email, phone) for `account`, made or replaced."""
        key = self._key(session, account, create=True)
        assert key is not None
        nonce = secrets.token_bytes(_NONCE)
        plain = json.dumps({k: data.get(k) or "" for k in PERSONAL}).encode()
        sealed = nonce + key.encrypt(nonce, plain, account.encode())
        row = session.get(Customer, account)
        at = utc_stamp()
        if row is None:
            session.add(
                Customer(
                    account=account, sealed=sealed, source=source, created_at=at, updated_at=at
                )
            )
        else:
            row.sealed, row.source, row.updated_at = sealed, source, at

    def read(self, session: Session, account: str) -> dict[str, str] | None:
        """The customer's personal data; None when there is none (or it was erased)."""
        row = session.get(Customer, account)
        key = self._key(session, account, create=False)
        if row is None or key is None:
            return None
        try:
            plain = key.decrypt(row.sealed[:_NONCE], row.sealed[_NONCE:], account.encode())
        except InvalidTag as exc:
            raise PrivacyError(f"the data of account {account} is damaged") from exc
        data: dict[str, str] = json.loads(plain)
        return data


def export(engine: Engine, vault: Vault, account: str) -> dict[str, Any]:
    """Everything held about `account`, as JSON-ready data (GDPR Art. 15 and 20)."""
    with Session(engine) as s:
        acct = s.get(LoyaltyAccount, account)
        person = vault.read(s, account)
        if acct is None and person is None:
            raise CollectorInput(f"account {account} is not known")

        def rows(model: Any, order: Any) -> list[dict[str, Any]]:
            out = []
            for r in s.scalars(select(model).where(model.account == account).order_by(order)):
                out.append({c.key: getattr(r, c.key) for c in model.__table__.columns})
            return out

        return {
            "account": account,
            "exported_at": utc_stamp(),
            "personal": person,
            "consents": consents(s, account),
            "cards": rows(LoyaltyCard, LoyaltyCard.issue),
            "loyalty": {
                "balance": acct.balance if acct else 0,
                "overdrawn": acct.overdrawn if acct else 0,
                "entries": rows(LoyaltyEntry, LoyaltyEntry.id),
                "lots": rows(LoyaltyLot, LoyaltyLot.id),
                "reservations": rows(LoyaltyReservation, LoyaltyReservation.created_at),
            },
            "sales": [
                r.raw
                for r in s.scalars(select(Sale).where(Sale.account == account).order_by(Sale.ts))
            ],
        }


def erase(engine: Engine, account: str) -> str:
    """Destroy `account`'s key and personal data; re-file its sales and ledger under a
    tombstone (so totals stay). Returns the tombstone."""
    tomb = "erased-" + secrets.token_hex(4)
    with Session(engine) as s, s.begin():
        if s.get(LoyaltyAccount, account) is None and s.get(Customer, account) is None:
            raise CollectorInput(f"account {account} is not known")
        if engine.dialect.name == "sqlite":
            # Deleted rows are overwritten with zeros, not just unlinked from the b-tree.
            s.execute(text("PRAGMA secure_delete=ON"))
        for model in (CustomerKey, Customer, Consent):
            s.execute(delete(model).where(model.account == account))
        for sale in s.scalars(select(Sale).where(Sale.account == account)):
            raw = dict(sale.raw)
            if isinstance(raw.get("loyalty"), dict):
                raw["loyalty"] = {**raw["loyalty"], "account": tomb}
            sale.raw, sale.account = raw, tomb
        s.execute(
            update(LoyaltyCard).where(LoyaltyCard.account == account).values(account=tomb, code="")
        )
        for ledger in (LoyaltyEntry, LoyaltyLot, LoyaltyReservation, LoyaltyAccount):
            s.execute(update(ledger).where(ledger.account == account).values(account=tomb))
    if engine.dialect.name == "sqlite":
        # Outside any transaction (the engine's begin hook would open one): old pages
        # leave the WAL file for the zeroed database pages.
        dbapi = engine.raw_connection()
        try:
            dbapi.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            dbapi.close()
    else:
        # Dead row versions stay in the heap until vacuumed.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM customer_keys, customers, consents")
    return tomb
