# ruff: noqa: F811 - the database fixtures are imported from test_collector_ingest
"""The collector's answers to the kiosk, on real SQLite and PostgreSQL: `summary` (balance,
name, last purchases with their points, rewards within reach, points expiring soon) and
`enrol` (a new customer, sealed, with consent and a first card, once per request)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collector.config import LoyaltySection
from collector.customers.cards import issue_card
from collector.customers.consent import consents
from collector.customers.master_data import CustomerRow, import_customers
from collector.customers.privacy import Vault
from collector.loyalty.ledger import Ledger
from collector.loyalty.requests import Answers
from collector.loyalty.rules import add_months
from collector.models import Consent, Device, LoyaltyReservation, Sale
from protocol.cards import make_loyalty_card
from protocol.messages import LoyaltyEnrolment, LoyaltyRequest, LoyaltyResponse
from protocol.timestamps import utc_stamp
from tests.test_collector_ingest import database_url, engine  # noqa: F401

T0 = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
ANNA = "00000007"


def ask(answers: Answers, op: str, account: str = ANNA, **fields: object) -> LoyaltyResponse:
    if op in ("balance", "summary", "reserve"):
        fields.setdefault("card", make_loyalty_card(account, 0))  # requests name the card
    request = LoyaltyRequest(corr=uuid.uuid4().hex, op=op, account=account, **fields)  # type: ignore[arg-type]
    return answers.answer(request, "kiosk-01")


def seed_sales(engine: Engine, account: str, n: int) -> list[str]:
    """`n` sales of account in store s00(i%2+1), one a day, newest last; their sale ids."""
    ids = []
    with Session(engine) as s, s.begin():
        s.add(Device(id="till-01", store="s001", first_seen="", last_seen="", last_hash="0"))
        for i in range(n):
            sid = f"sale-{i}"
            ts = utc_stamp(T0 - dt.timedelta(days=n - i))
            s.add(
                Sale(
                    sale_id=sid, device="till-01", seq=i + 1, kind="sale", receipt_no=str(i),
                    store=f"s00{i % 2 + 1}", region="", staff="ana", ts=ts, day=ts[:10],
                    currency="EUR", total=1000 + i, account=account, hash="0", raw={},
                    ingested_at=ts,
                )
            )  # fmt: skip
            ids.append(sid)
    return ids


def test_summary_lists_purchases_rewards_and_expiring_points(engine: Engine) -> None:
    settings = LoyaltySection(expiry_months=24)
    vault = Vault(os.urandom(32))
    import_customers(engine, vault, [CustomerRow(ANNA, "Berg", "Anna Lena", "", "", None)], "test")
    # 120 points earned 24 months less 10 days ago: they expire in 10 days.
    then = add_months(T0, -24) + dt.timedelta(days=10)
    Ledger(engine, settings, clock=lambda: then).earn(ANNA, 120, "old", source="migration")
    ledger = Ledger(engine, settings, clock=lambda: T0)
    answers = Answers(ledger, vault=vault)
    sales = seed_sales(engine, ANNA, 6)
    for i, sid in enumerate(sales):
        ledger.earn(ANNA, 100 + i, f"sale:{sid}:earn", source=f"sale:{sid}")
    r = ask(answers, "summary", card=make_loyalty_card(ANNA, 0))
    assert r.ok and r.first_name == "Anna"
    assert r.balance == 120 + sum(100 + i for i in range(6)) == 735
    assert r.purchases is not None and r.rewards is not None and r.expiring is not None
    # The five newest, newest first, each with the points it made.
    assert [(p.total, p.points, p.store) for p in r.purchases] == [
        (1005, 105, "s002"),
        (1004, 104, "s001"),
        (1003, 103, "s002"),
        (1002, 102, "s001"),
        (1001, 101, "s002"),
    ]
    assert r.purchases[0].date == utc_stamp(T0 - dt.timedelta(days=1))[:10]
    # What 735 points afford (the dearest), then what is worth saving for.
    assert [(w.points, w.title) for w in r.rewards] == [
        (600, "A breakfast box"),
        (1500, "10% off a whole shop"),
        (3000, "A picnic hamper"),
    ]
    expires = add_months(then, 24)
    assert [(e.points, e.on) for e in r.expiring] == [(120, utc_stamp(expires)[:10])]
    # A replaced card no longer opens the account's summary.
    issue_card(engine, ANNA)
    old = ask(answers, "summary", card=make_loyalty_card(ANNA, 0))
    assert not old.ok and "blocked" in (old.error or "")
    assert old.purchases is None
    # An unknown account: nothing, and nothing invented.
    empty = ask(answers, "summary", account="00000099")
    assert empty.ok and empty.balance == 0 and empty.first_name is None
    assert empty.purchases == [] and empty.expiring == []
    assert [w.points for w in empty.rewards or []] == [250, 600, 1500]


def form(**over: object) -> LoyaltyEnrolment:
    fields: dict[str, object] = {
        "first_names": "Zoé Marie",
        "surname": "Lefèvre",
        "email": "zoe@example.org",
        "consent": {"email": True},
    }
    fields.update(over)
    return LoyaltyEnrolment(**fields)  # type: ignore[arg-type]


def test_enrol_makes_a_sealed_customer_once_per_request(engine: Engine) -> None:
    vault = Vault(os.urandom(32))
    import_customers(engine, vault, [CustomerRow(ANNA, "Berg", "Anna", "", "", None)], "test")
    answers = Answers(Ledger(engine, clock=lambda: T0), vault=vault)
    request = LoyaltyRequest(corr="c-1", op="enrol", account="", enrolment=form())
    first = answers.answer(request, "kiosk-01")
    assert first.ok, first.error
    assert first.account == "00000008"  # the next after every account in use
    assert first.card == make_loyalty_card("00000008", 0) == "2900000000087"
    assert first.balance == 0 and first.first_name == "Zoé"
    again = answers.answer(request, "kiosk-01")  # the kiosk's resend, same corr
    assert (again.account, again.card) == (first.account, first.card)
    with Session(engine) as s:
        assert vault.read(s, "00000008") == {
            "surname": "Lefèvre",
            "first_names": "Zoé Marie",
            "email": "zoe@example.org",
            "phone": "",
        }
        sealed = b"".join(s.scalars(text("SELECT sealed FROM customers")))
        assert b"Lef" not in sealed and b"zoe@" not in sealed  # encrypted at rest
        given = consents(s, "00000008")
        assert [(c["channel"], c["granted"], c["source"]) for c in given] == [
            ("email", True, "kiosk:kiosk-01")
        ]
        assert given[0]["at"] == utc_stamp(T0)
        assert s.scalar(select(Consent.id).where(Consent.account == "00000008")) is not None
    # The card works: a balance with the holder's name.
    balance = ask(answers, "balance", account="00000008", card=first.card)
    assert balance.ok and balance.first_name == "Zoé" and balance.balance == 0
    # Bad details are refused with what to correct; nothing is made.
    bad = answers.answer(
        LoyaltyRequest(corr="c-2", op="enrol", account="", enrolment=form(email="zoe@")),
        "kiosk-01",
    )
    assert not bad.ok and "not an e-mail address" in (bad.error or "")
    empty = answers.answer(
        LoyaltyRequest(corr="c-3", op="enrol", account="", enrolment=form(surname=" ")),
        "kiosk-01",
    )
    assert not empty.ok and "surname" in (empty.error or "")
    # Kiosks enrolling at once each get an account of their own.
    got: list[str | None] = []

    def enrol_one(i: int) -> None:
        req = LoyaltyRequest(corr=f"r-{i}", op="enrol", account="", enrolment=form())
        got.append(answers.answer(req, f"kiosk-{i:02d}").account)

    threads = [threading.Thread(target=enrol_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a or "" for a in got) == ["00000009", "00000010", "00000011", "00000012"]


def test_ids_too_long_or_with_a_control_character_are_refused_with_the_reason(
    engine: Engine,
) -> None:
    """A corr, sale_id or reservation with a NUL or longer than its column reached
    PostgreSQL, whose DataError came back to the till as "the collector could not
    answer" with a traceback logged (found by the fuzz harness); SQLite stored them."""
    ledger = Ledger(engine, clock=lambda: T0)
    ledger.earn(ANNA, 100, "seed", source="test")
    answers = Answers(ledger, vault=Vault(os.urandom(32)))
    hold = ask(answers, "reserve", points=5)
    assert hold.ok, hold.error
    enrolment = {"enrolment": form()}
    for op, fields, reason in [
        ("reserve", {"points": 5, "corr": "c\x00"}, "corr 'c\\x00' has a control character"),
        ("reserve", {"points": 5, "corr": "c" * 65}, "corr is 65 characters long; the most is 64"),
        ("reserve", {"points": 5, "sale_id": "s" * 65}, "sale_id is 65 characters long"),
        ("commit", {"sale_id": "s\x00"}, "sale_id 's\\x00' has a control character (U+0000)"),
        ("release", {"reservation": "r\x00"}, "reservation 'r\\x00' has a control character"),
        ("balance", {"card": "2900000000074\n"}, "card '2900000000074\\n' has a control"),
        ("enrol", {"corr": "e\x00", **enrolment}, "corr 'e\\x00' has a control character"),
    ]:
        corr = str(fields.pop("corr", uuid.uuid4().hex))
        account = "" if op == "enrol" else ANNA
        request = LoyaltyRequest(corr=corr, op=op, account=account, **fields)  # type: ignore[arg-type]
        response = answers.answer(request, "kiosk-01")
        assert (response.ok, response.corr) == (False, corr), (op, fields, response)
        assert response.error is not None and response.error.startswith(reason), response.error
    with Session(engine) as s:
        assert s.scalars(select(Consent.account)).all() == []  # nobody was enrolled
    assert ledger.balance(ANNA).available == 95  # only the first hold holds


def test_a_bare_account_is_not_answered_and_a_hold_is_only_its_devices(engine: Engine) -> None:
    """An account number is printed on every receipt: asked without the scanned card, no
    balance, name, purchases or hold is given. A hold is let go or lengthened only by the
    till that made it (before, any device could `commit` another's hold for 7 days)."""
    vault = Vault(os.urandom(32))
    import_customers(engine, vault, [CustomerRow(ANNA, "Berg", "Anna", "", "", None)], "test")
    ledger = Ledger(engine, clock=lambda: T0)
    ledger.earn(ANNA, 100, "seed", source="test")
    answers = Answers(ledger, vault=vault)
    assert ask(answers, "balance").first_name == "Anna"  # with the card, it is answered
    for op in ("balance", "summary", "reserve"):
        request = LoyaltyRequest(corr=f"bare-{op}", op=op, account=ANNA, points=10)  # type: ignore[arg-type]
        response = answers.answer(request, "till-02")
        assert (response.ok, response.balance, response.first_name, response.purchases) == (
            False,
            None,
            None,
            None,
        ), response
        assert response.error == (
            f"{op} needs the scanned card number (card); a bare account is not answered"
        )
    # A card number that is no loyalty card, or another account's card, is refused too.
    for card in ("4006381333931", make_loyalty_card("00000008", 0)):
        response = ask(answers, "balance", card=card)
        assert not response.ok and response.balance is None, response
    assert ledger.balance(ANNA).available == 100  # nothing was held

    hold = answers.answer(
        LoyaltyRequest(
            corr="h-1", op="reserve", card=make_loyalty_card(ANNA), points=60, sale_id="sale-9"
        ),
        "till-01",
    )
    assert hold.ok and hold.reservation, hold.error
    for op in ("release", "commit"):
        for named in ({"reservation": hold.reservation}, {"sale_id": "sale-9"}):
            stolen = answers.answer(
                LoyaltyRequest(corr=f"x-{op}", op=op, **named),  # type: ignore[arg-type]
                "till-02",
            )
            assert not stolen.ok and "is unknown" in (stolen.error or ""), stolen
    with Session(engine) as s:
        held = s.get(LoyaltyReservation, hold.reservation)
        assert held is not None and held.state == "held"
        expires = held.expires_at
    assert ledger.balance(ANNA).available == 40
    # Its own till may.
    kept = answers.answer(
        LoyaltyRequest(corr="k-1", op="commit", reservation=hold.reservation, sale_id="sale-9"),
        "till-01",
    )
    assert kept.ok, kept.error
    with Session(engine) as s:
        held = s.get(LoyaltyReservation, hold.reservation)
        assert held is not None and held.expires_at > expires
