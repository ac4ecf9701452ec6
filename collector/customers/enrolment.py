"""Enrolment at a kiosk: a new customer with the next free account number, their
personal data sealed, consent per channel and a first card, once per request key (a
kiosk resending the same request gets the same customer back)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.customers.accounts import CustomerInput, claim_account
from collector.customers.cards import first_card
from collector.customers.consent import CHANNELS, record_consent
from collector.customers.master_data import EMAIL, LIMITS, PHONE
from collector.customers.privacy import Vault
from collector.models import LoyaltyEntry
from protocol.messages import LoyaltyEnrolment
from protocol.timestamps import utc_stamp


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
    for key, value in (
        ("surname", form.surname),
        ("first_names", form.first_names),
        ("email", form.email),
        ("phone", form.phone),
    ):
        if len(value.strip()) > LIMITS[key]:
            raise CustomerInput(
                f"the {key.replace('_', ' ')} is longer than {LIMITS[key]} characters"
            )
    if form.email.strip() and not EMAIL.match(form.email.strip()):
        raise CustomerInput(f'"{form.email.strip()[:60]}" is not an e-mail address')
    if form.phone.strip() and not PHONE.match(form.phone.strip()):
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
            account = claim_account(s, when)
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
            code = first_card(s, account, when)
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
