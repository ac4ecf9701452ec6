"""Customers and their cards: CSV import (all or nothing), replacement cards, `show`.

CSV header `account,surname,first_names[,email,phone,consent]`; `consent` lists the
marketing channels agreed to, separated by `;` (`email;sms`, `email`, empty for none).
Personal data is sealed per customer by collector.privacy before it reaches a table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.errors import CollectorInput
from collector.loyalty.book import Book
from collector.loyalty.ledger import Ledger, last_purchases
from collector.loyalty.rules import ACCOUNT
from collector.models import Customer, LoyaltyAccount, LoyaltyCard, LoyaltyEntry
from collector.privacy import Vault, consents, record_consent
from collector.upsert import upsert_insert
from protocol.cards import make_loyalty_card
from protocol.commandline import read_input
from protocol.messages import LoyaltyEnrolment
from protocol.timestamps import utc_stamp

COLUMNS = ("account", "surname", "first_names", "email", "phone", "consent")
REQUIRED = COLUMNS[:3]
CHANNELS = ("email", "sms")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}$")


class CustomerInput(CollectorInput):
    """A customer file or row we refuse; nothing is written."""


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
        for key, limit in (("surname", 128), ("first_names", 128), ("email", 256), ("phone", 64)):
            if len(field(key)) > limit:
                raise CustomerInput(f"{where}: {key} is longer than {limit} characters")
        email, phone = field("email"), field("phone")
        if email and not _EMAIL.match(email):
            raise CustomerInput(f'{where}: email "{email[:60]}" is not an address')
        if phone and not _PHONE.match(phone):
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
            _first_card(s, r.account, at)
    return len(rows)


def _first_card(s: Session, account: str, at: str) -> None:
    acct = s.get(LoyaltyAccount, account)
    issue = acct.issue if acct else 0
    if s.get(LoyaltyCard, (account, issue)) is None:
        code = make_loyalty_card(account, issue)
        s.add(LoyaltyCard(account=account, issue=issue, code=code, issued_at=at))


def issue_card(engine: Engine, ledger: Ledger, account: str) -> str:
    """A replacement card (next issue number); every older issue is blocked from now."""
    if not ACCOUNT.match(account):
        raise CustomerInput(f"account {account[:20]!r} is not 8 digits")
    at = utc_stamp()
    with Session(engine) as s, s.begin():
        book = Book(s, ledger.settings, ledger.clock())
        acct = book.lock(account)
        _first_card(s, account, at)
        if acct.issue >= 99:
            raise CustomerInput(f"account {account} has had 100 cards; open a new account")
        acct.issue += 1
        for card in s.scalars(select(LoyaltyCard).where(LoyaltyCard.account == account)):
            if card.blocked_at is None:
                card.blocked_at = at
        code = make_loyalty_card(account, acct.issue)
        s.add(LoyaltyCard(account=account, issue=acct.issue, code=code, issued_at=at))
    return code


def show(engine: Engine, vault: Vault, ledger: Ledger, account: str) -> dict[str, Any]:
    """`collector customers show --json`: the customer, points, tier, cards, consents and
    last purchases."""
    if not ACCOUNT.match(account):
        raise CustomerInput(f"account {account[:20]!r} is not 8 digits")
    with Session(engine) as s:
        person = vault.read(s, account)
        known = person is not None or s.get(LoyaltyAccount, account) is not None
        if not known:
            raise CustomerInput(f"account {account} is not known")
        cards = [
            {
                "issue": c.issue,
                "code": c.code,
                "issued_at": c.issued_at,
                "blocked": c.blocked_at is not None,
            }
            for c in s.scalars(
                select(LoyaltyCard)
                .where(LoyaltyCard.account == account)
                .order_by(LoyaltyCard.issue)
            )
        ]
        purchases = last_purchases(s, account)
        consent = consents(s, account)
    balance = ledger.balance(account)
    tier, spend = ledger.tier(account)
    person = person or {}
    return {
        "account": account,
        "surname": person.get("surname", ""),
        "first_names": person.get("first_names", ""),
        "email": person.get("email", ""),
        "phone": person.get("phone", ""),
        "points": balance.balance,
        "available": balance.available,
        "tier": tier.name if tier else None,
        "spend_12m": spend,
        "cards": cards,
        "consents": consent,
        "purchases": purchases,
    }


# -- enrolment at a kiosk ---------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolled:
    """A customer made by `enrol` (or found again for a repeated key: `fresh` false)."""

    account: str
    card: str
    fresh: bool


def check_enrolment(form: LoyaltyEnrolment) -> None:
    """The same checks as a customer file's row; CustomerInput saying what to correct."""
    if not form.surname.strip() or not form.first_names.strip():
        raise CustomerInput("please give your first name and surname")
    for key, value, limit in (
        ("surname", form.surname, 128),
        ("first names", form.first_names, 128),
        ("email", form.email, 256),
        ("phone", form.phone, 64),
    ):
        if len(value.strip()) > limit:
            raise CustomerInput(f"the {key} is longer than {limit} characters")
    if form.email.strip() and not _EMAIL.match(form.email.strip()):
        raise CustomerInput(f'"{form.email.strip()[:60]}" is not an e-mail address')
    if form.phone.strip() and not _PHONE.match(form.phone.strip()):
        raise CustomerInput(f'"{form.phone.strip()[:40]}" is not a phone number')
    bad = set(form.consent) - set(CHANNELS)
    if bad:
        raise CustomerInput(f"consent channel {sorted(bad)[0]!r} is not one of {CHANNELS}")


def enrol(
    engine: Engine, vault: Vault, form: LoyaltyEnrolment, *, source: str, key: str, at: dt.datetime
) -> Enrolled:
    """A new customer with the next free account number, their personal data sealed, the
    consent given per channel (time and `source`), and a first card. Once per `key`:
    a repeated key returns the customer it made."""
    check_enrolment(form)
    source, when = source[:128], utc_stamp(at)
    again = _enrolled(engine, key)
    if again is not None:
        return again
    try:
        with Session(engine) as s, s.begin():
            account = _claim_account(s, when)
            vault.write(
                s,
                account,
                {
                    "surname": form.surname.strip(),
                    "first_names": form.first_names.strip(),
                    "email": form.email.strip(),
                    "phone": form.phone.strip(),
                },
                source,
            )
            record_consent(s, account, dict(form.consent), source, when)
            code = make_loyalty_card(account, 0)
            s.add(LoyaltyCard(account=account, issue=0, code=code, issued_at=when))
            # The key lives in the ledger (a zero-point entry): unique, and in the export.
            s.add(
                LoyaltyEntry(
                    key=key[:200],
                    account=account,
                    kind="enrol",
                    points=0,
                    balance=0,
                    spend=0,
                    at=when,
                    source=source,
                    detail={"card": code},
                )
            )
    except IntegrityError:
        # The same request, retried while the first was being written (PostgreSQL): the
        # key's unique index kept one; that is the customer to return.
        again = _enrolled(engine, key)
        if again is None:
            raise
        return again
    return Enrolled(account, code, fresh=True)


def _enrolled(engine: Engine, key: str) -> Enrolled | None:
    with Session(engine) as s:
        entry = s.scalar(select(LoyaltyEntry).where(LoyaltyEntry.key == key[:200]))
    if entry is None:
        return None
    return Enrolled(entry.account, str(entry.detail.get("card", "")), fresh=False)


def _claim_account(s: Session, at: str) -> str:
    """The next account number after every one in use, its ledger row made. Two kiosks
    enrolling at once both try the same number: the insert that finds the row made does
    nothing, and that one moves on to the next."""
    highest = 0
    for model in (LoyaltyAccount, Customer, LoyaltyCard):
        # Digits only: erased accounts become "erased-…", which sorts after "99999999".
        top = s.scalar(select(func.max(model.account)).where(model.account <= "99999999"))
        if top and ACCOUNT.match(top):
            highest = max(highest, int(top))
    for n in range(highest + 1, 10**8):
        account = f"{n:08d}"
        ins = upsert_insert(s, LoyaltyAccount).values(
            account=account, balance=0, overdrawn=0, issue=0, next_expiry=None, updated_at=at
        )
        ins = ins.on_conflict_do_nothing(index_elements=["account"])
        if s.scalar(ins.returning(LoyaltyAccount.account)) is not None:
            return account
    raise CustomerInput("every 8-digit account number is in use; the chain needs a new scheme")
