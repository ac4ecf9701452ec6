"""Customer master data: the CSV import (all or nothing), the checks a customer's
details pass (the kiosk's enrolment form passes the same), and a customer's profile as
`collector customers show` gives it, with the last purchases.

CSV header `account,surname,first_names[,email,phone,consent]`; `consent` lists the
marketing channels agreed to, separated by `;` (`email;sms`, `email`, empty for none).
Personal data is sealed per customer (collector.customers.privacy) before it reaches a
table.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.customers.accounts import ACCOUNT, CustomerInput, check_account
from collector.customers.cards import cards, first_card
from collector.customers.consent import CHANNELS, consents, record_consent
from collector.customers.privacy import Vault
from collector.models import LoyaltyAccount, Sale
from protocol.commandline import read_input
from protocol.timestamps import utc_stamp

COLUMNS = ("account", "surname", "first_names", "email", "phone", "consent")
REQUIRED = COLUMNS[:3]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")
# The longest each personal field may be (the sealed blob has no columns to limit it).
LIMITS = {"surname": 128, "first_names": 128, "email": 256, "phone": 64}


@dataclass(frozen=True)
class CustomerRow:
    """One checked row of a customer file."""

    account: str
    surname: str
    first_names: str
    email: str
    phone: str
    consent: dict[str, bool] | None  # None: the file has no consent column


def parse_csv(path: str | Path) -> list[CustomerRow]:
    """Every row checked before anything is written; CustomerInput `file:line: why`."""
    name = Path(path).name
    text = read_input(path, "customer file", CustomerInput, encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CustomerInput(f"{name}:1: the header lacks {', '.join(missing)}")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise CustomerInput(f"{name}:1: unknown column {unknown[0]!r}; allowed: {COLUMNS}")
    rows: list[CustomerRow] = []
    seen: dict[str, int] = {}
    for rec in reader:
        line = reader.line_num
        where = f"{name}:{line}"
        if None in rec:
            raise CustomerInput(f"{where}: more fields than the header has")

        def field(key: str, rec: dict[str, str | None] = rec) -> str:
            return (rec.get(key) or "").strip()

        account = field("account")
        if not ACCOUNT.match(account):
            raise CustomerInput(f'{where}: account "{account[:20]}" is not 8 digits')
        if account in seen:
            raise CustomerInput(f"{where}: account {account} is on line {seen[account]} too")
        seen[account] = line
        if not field("surname"):
            raise CustomerInput(f"{where}: surname is empty")
        for key, limit in LIMITS.items():
            if len(field(key)) > limit:
                raise CustomerInput(f"{where}: {key} is longer than {limit} characters")
        email, phone = field("email"), field("phone")
        if email and not EMAIL.match(email):
            raise CustomerInput(f'{where}: email "{email[:60]}" is not an address')
        if phone and not PHONE.match(phone):
            raise CustomerInput(f'{where}: phone "{phone[:40]}" is not a phone number')
        consent: dict[str, bool] | None = None
        if "consent" in header:
            given = {c.strip().lower() for c in field("consent").split(";") if c.strip()}
            bad = given - set(CHANNELS) - {"none"}
            if bad:
                raise CustomerInput(
                    f'{where}: consent "{sorted(bad)[0]}" is not a channel (email, sms, none)'
                )
            consent = {c: c in given for c in CHANNELS}
        rows.append(
            CustomerRow(account, field("surname"), field("first_names"), email, phone, consent)
        )
    return rows


def import_customers(engine: Engine, vault: Vault, rows: list[CustomerRow], source: str) -> int:
    """Load checked rows (parse_csv) in one transaction: new customers made, known ones
    replaced, consent changes recorded with `source`, a first card for each."""
    source = source[:128]
    at = utc_stamp()
    with Session(engine) as s, s.begin():
        for r in rows:
            vault.write(
                s,
                r.account,
                {
                    "surname": r.surname,
                    "first_names": r.first_names,
                    "email": r.email,
                    "phone": r.phone,
                },
                source,
            )
            if r.consent is not None:
                record_consent(s, r.account, r.consent, source, at)
            first_card(s, r.account, at)
    return len(rows)


def profile(engine: Engine, vault: Vault, account: str) -> dict[str, Any]:
    """The customer as `customers show` gives them: personal data, cards, consents and
    the last purchases (the points come from the ledger). CustomerInput when the account
    is not known."""
    check_account(account)
    with Session(engine) as s:
        person = vault.read(s, account)
        known = person is not None or s.get(LoyaltyAccount, account) is not None
        if not known:
            raise CustomerInput(f"account {account} is not known")
        person = person or {}
        return {
            "account": account,
            "surname": person.get("surname", ""),
            "first_names": person.get("first_names", ""),
            "email": person.get("email", ""),
            "phone": person.get("phone", ""),
            "cards": cards(s, account),
            "consents": consents(s, account),
            "purchases": last_purchases(s, account),
        }


def last_purchases(session: Session, account: str, limit: int = 10) -> list[dict[str, Any]]:
    """The account's last sales and refunds, newest first."""
    rows = session.execute(
        select(Sale.sale_id, Sale.kind, Sale.ts, Sale.store, Sale.total, Sale.currency)
        .where(Sale.account == account)
        .order_by(Sale.ts.desc())
        .limit(limit)
    ).all()
    return [
        {"sale_id": r[0], "kind": r[1], "ts": r[2], "store": r[3], "total": r[4], "currency": r[5]}
        for r in rows
    ]
