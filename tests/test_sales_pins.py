"""Wrong PINs at the till: per id and per till, a growing wait, a lock a supervisor
clears, scrypt never run for a try refused unchecked; and the discount a cashier gives
alone. Pure: the till's monotonic clock is a number the test moves."""

from __future__ import annotations

from dataclasses import replace

import pytest

import appliance.sales.staff as staff_module
from appliance.config import StaffMember
from appliance.sales.pins import PinGuard, PinPolicy, PinRefused, duration
from appliance.sales.staff import hash_pin
from appliance.sales.till import NeedsSupervisor, Rejected, Till
from tests.test_sales_till import EUR, ROSTER, make_till

BEN = StaffMember(id="ben", name="Ben", role="cashier", pin_hash=hash_pin("2345"))
ZOE = StaffMember(id="zoe", name="Zoe", role="supervisor", pin_hash=hash_pin("7777"))
STAFF = [*ROSTER, BEN, ZOE]  # ana 1234 and ben 2345 cashiers; marie 9999 and zoe 7777


class Clock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every PIN scrypt is run on (the real scrypt, counted)."""
    seen: list[str] = []
    real = staff_module._scrypt

    def counted(pin: str, salt: bytes) -> bytes:
        seen.append(pin)
        return real(pin, salt)

    monkeypatch.setattr(staff_module, "_scrypt", counted)
    return seen


def refused(call: object) -> PinRefused:
    assert callable(call)
    with pytest.raises(PinRefused) as err:
        call()
    return err.value


def till_with(clock: Clock, **policy: float) -> Till:
    return make_till(EUR, STAFF, monotonic=clock, pins=PinPolicy(**policy))  # type: ignore[arg-type]


def test_an_ids_wrong_pins_wait_longer_each_time_then_lock_it(scrypts: list[str]) -> None:
    clock = Clock()
    till = till_with(clock, tries=3, lockout=6)
    for n in (1, 2):
        e = refused(lambda: till.login("ana", "0000"))
        assert e.counted and e.failures == n and e.retry_in is None
        assert e.reason == f"wrong PIN for ana; try again ({6 - n} more lock ana)"
    e = refused(lambda: till.login("ana", "0000"))
    assert e.reason == "wrong PIN for ana; try again in 1 s (3 more lock ana)"
    assert e.retry_in == 1.0
    checked = len(scrypts)
    # While the wait runs every try is refused unchecked: no scrypt, nothing counted,
    # and the right PIN does no better.
    for pin in ("0000", "1234", "5555"):
        e = refused(lambda pin=pin: till.login("ana", pin))  # type: ignore[misc]
        assert not e.counted and e.reason == "too many wrong PINs for ana; try again in 1 s"
    assert len(scrypts) == checked and till.pins.failures("ana") == 3
    waits = []
    for _ in range(2):
        clock.now += e.retry_in or 0
        e = refused(lambda: till.login("ana", "0000"))
        waits.append(e.retry_in)
        clock.now += 0.5
        assert "try again in" in refused(lambda: till.login("ana", "1234")).reason
        clock.now -= 0.5
    assert waits == [2.0, 4.0]  # it doubles
    clock.now += 4
    e = refused(lambda: till.login("ana", "0000"))
    assert e.locked and e.failures == 6 and e.retry_in is None
    assert e.reason == "wrong PIN for ana: ana is now locked after 6 wrong PINs; " + (
        "a supervisor must unlock it"
    )
    assert till.view().locked == {"ana"}
    checked = len(scrypts)
    clock.now += 10_000  # a lock does not run out
    e = refused(lambda: till.login("ana", "1234"))
    assert e.locked and not e.counted and e.reason.startswith("ana is locked after 6 wrong PINs")
    assert len(scrypts) == checked
    # Other ids are not held up by ana's lock.
    assert till.login("ben", "2345").id == "ben"


def test_a_supervisor_unlocks_an_id_also_with_nobody_logged_in() -> None:
    clock = Clock()
    till = till_with(clock, tries=3, lockout=3)
    for _ in range(3):
        refused(lambda: till.login("ana", "0000"))
    assert till.view().locked == {"ana"} and till.view().staff is None
    with pytest.raises(Rejected, match="log in first"):
        till.approve("marie", "9999")  # an approval for an operation needs someone in
    with pytest.raises(Rejected, match="ben has no wrong PINs"):
        till.approve("marie", "9999", unlock="ben")
    with pytest.raises(Rejected, match="no staff member 'nobody' to unlock"):
        till.approve("marie", "9999", unlock="nobody")
    with pytest.raises(Rejected, match="ben is not a supervisor"):
        till.approve("ben", "2345", unlock="ana")
    e = refused(lambda: till.approve("marie", "1111", unlock="ana"))
    assert e.counted and e.staff == "marie"  # the supervisor's PIN counts like any other
    assert till.view().locked == {"ana"}
    assert till.approve("marie", "9999", unlock="ana").id == "marie"
    view = till.view()
    assert view.locked == frozenset() and view.approval is None and view.staff is None
    assert till.pins.failures("ana") == 0
    assert till.login("ana", "1234").id == "ana"


def test_a_locked_supervisor_is_unlocked_by_another_never_by_themselves() -> None:
    clock = Clock()
    till = till_with(clock, tries=5, lockout=2)
    for _ in range(2):
        refused(lambda: till.login("marie", "0000"))
    till.login("ana", "1234")
    assert refused(lambda: till.approve("marie", "9999", unlock="marie")).locked
    till.approve("zoe", "7777", unlock="marie")
    till.approve("marie", "9999")
    assert till.view().approval == "marie"


def test_a_right_pin_starts_that_ids_count_over() -> None:
    clock = Clock()
    till = till_with(clock, tries=3, lockout=4)
    for _ in range(3):
        refused(lambda: till.login("ana", "0000"))
    clock.now += 1
    till.login("ana", "1234")
    till.logout()
    for n in (1, 2, 3):
        assert refused(lambda: till.login("ana", "0000")).failures == n  # not locked at 4


def test_going_through_the_ids_makes_the_whole_till_wait_and_a_supervisor_gets_in_after(
    scrypts: list[str],
) -> None:
    clock = Clock()
    till = till_with(clock, tries=3, lockout=10, till_tries=4, wait_max=60)
    # One guess per id (and an id that is not on the roster) stays under each id's limit…
    for sid in ("ana", "ben", "zoe", "nobody"):
        e = refused(lambda sid=sid: till.login(sid, "0000"))  # type: ignore[misc]
    assert e.till_failures == 4 and e.retry_in == 1.0
    # …but the till's count holds every id, the supervisor's right PIN too, unchecked.
    checked = len(scrypts)
    for sid, pin in (("marie", "9999"), ("ana", "1234"), ("nobody", "1")):
        e = refused(lambda sid=sid, pin=pin: till.login(sid, pin))  # type: ignore[misc]
        assert e.reason == "too many wrong PINs at this till; try again in 1 s"
    assert len(scrypts) == checked
    waits = []
    for _ in range(7):  # the wait doubles up to wait_max
        clock.now += e.retry_in or 0
        e = refused(lambda: till.login("nobody", "0000"))
        waits.append(e.retry_in)
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert e.reason == "no staff member 'nobody'; check the id; try again in 1 min"
    # It is a wait, never a lock: once it has passed the supervisor gets in, and a
    # supervisor's right PIN starts the till's count over.
    clock.now += 60
    assert till.login("marie", "9999").id == "marie"
    till.logout()
    assert refused(lambda: till.login("nobody", "0000")).retry_in is None


def test_a_cashiers_right_pin_leaves_the_tills_count_which_quiet_time_forgets() -> None:
    clock = Clock()
    till = till_with(clock, tries=5, lockout=10, till_tries=2, wait_max=60)
    refused(lambda: till.login("ben", "0000"))
    refused(lambda: till.login("zoe", "0000"))
    clock.now += 1
    till.login("ana", "1234")
    till.logout()
    assert refused(lambda: till.login("ben", "0000")).retry_in == 2.0  # still counted
    clock.now += 2 + 900  # the wait, then a quiet quarter of an hour
    assert refused(lambda: till.login("ben", "0000")).till_failures == 1


def test_counts_and_locks_come_back_after_a_restart_and_the_waits_start_again() -> None:
    policy = PinPolicy(tries=2, lockout=4, till_tries=10)
    guard = PinGuard(policy)
    for who in ("ana", "ana", "ana", "ana", "ben", "ben"):
        guard.failed("login", who, 50.0, "wrong PIN")
    doc = guard.to_doc()
    assert doc == {
        "staff": {"ana": {"failures": 4, "locked": True}, "ben": {"failures": 2, "locked": False}},
        "till": 6,
    }
    # After a boot the monotonic clock is back near zero: the waits run from the restart.
    again = PinGuard(policy)
    hostile = {**doc, "staff": {**doc["staff"], "gone": {"failures": 3}, "ben2": {"failures": "x"}}}
    skipped = again.restore(hostile, {"ana", "ben", "ben2"}, now=3.0)
    assert skipped == ["'gone' is not on the roster", "ben2: failures 'x' is not a count"]
    assert again.locked() == {"ana"} and again.to_doc() == doc
    with pytest.raises(PinRefused, match="ben; try again in 1 s"):
        again.check("login", "ben", 3.5)
    again.check("login", "ben", 4.0)
    assert again.restore({"staff": [], "till": True}, set(), now=0.0) == []


def test_an_open_till_has_no_pins_and_no_limits() -> None:
    till = make_till(EUR, [], pins=PinPolicy(tries=1, lockout=1, till_tries=1))
    for _ in range(20):
        till.login("anyone", "0000")
        till.logout()
    with pytest.raises(Rejected, match="not 1-32"):
        till.login("Not Valid!")
    assert till.pins.to_doc() == {"staff": {}, "till": 0}


def test_a_missing_pin_or_a_malformed_id_is_not_a_guess() -> None:
    till = till_with(Clock(), tries=1, lockout=1, till_tries=1)
    with pytest.raises(Rejected, match="needs a PIN"):
        till.login("ana")
    with pytest.raises(Rejected, match="not 1-32"):
        till.login("ANA", "1234")
    assert till.pins.to_doc() == {"staff": {}, "till": 0}


def test_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (0.2, 1, 8.1, 60, 125, 300)] == [
        "1 s", "1 s", "9 s", "1 min", "2 min 5 s", "5 min",
    ]  # fmt: skip


# -- discounts -------------------------------------------------------------------------------
def cashier(limit: int = 10) -> Till:
    till = make_till(replace(EUR, cashier_discount_max=limit), STAFF)
    till.login("ana", "1234")
    till.key("A1", 2)
    till.key("B1")
    return till


def test_a_cashier_gives_up_to_the_limit_alone_and_more_with_a_supervisor() -> None:
    till = cashier(10)
    till.discount_line(10, line=1)
    till.discount_basket("10")
    with pytest.raises(NeedsSupervisor, match="a discount over 10 % needs a supervisor"):
        till.discount_line("10.5", line=2)
    with pytest.raises(NeedsSupervisor):
        till.discount_basket(99)
    view = till.view()
    assert view.lines[1].discount == 12 and view.approval is None  # the basket's share only
    till.approve("marie", "9999")
    till.discount_line(5, line=2)  # within the limit: the approval stays for later
    assert till.view().approval == "marie"
    till.discount_line(50, line=2)
    assert till.view().approval is None  # used up by the big one
    with pytest.raises(NeedsSupervisor):
        till.discount_line(60, line=2)  # one approval, one discount
    draft = till.tender("cash")
    assert draft is not None and draft.approved_by == "marie"
    assert [li.discount for li in draft.lines] == [29 + 26, 60 + 6]


def test_a_within_limit_sale_names_no_approver_and_a_supervisor_has_no_limit() -> None:
    till = cashier(10)
    till.discount_line(10)
    draft = till.tender("cash")
    assert draft is not None and draft.approved_by is None
    boss = make_till(replace(EUR, cashier_discount_max=0), STAFF)
    boss.login("marie", "9999")
    boss.key("A1")
    boss.discount_basket(100)
    draft = boss.tender("cash")
    assert draft is not None and draft.total == 0 and draft.approved_by is None


def test_a_limit_of_zero_sends_every_cashier_discount_to_a_supervisor() -> None:
    till = cashier(0)
    with pytest.raises(NeedsSupervisor):
        till.discount_line("0.5")
    assert till.view().discount == 0
