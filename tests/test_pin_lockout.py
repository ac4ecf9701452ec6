"""Wrong PINs and big discounts through `appliance replay` as a real process: an id
locked after its wrong PINs, its right PIN refused while it is, the lock still there
after a restart, a supervisor unlocking it; a cashier's discount over the limit waiting
for a supervisor, whose name the sale's record carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from appliance.controller import Controller
from appliance.drivers.drawer import SimDrawer
from appliance.events import Event
from appliance.sales.pins import PinPolicy
from appliance.sales.staff import hash_pin
from appliance.store import DeviceState, Store
from demo.day import demo_catalog_text
from tests.conftest import config_text, run_cli
from tests.test_cli import lines, write_scenario
from tests.test_sales_till import EUR, make_till
from tests.test_sales_till import ROSTER as ROSTER_MEMBERS

ROSTER = [("ana", "Ana", "cashier", "1234"), ("marie", "Marie", "supervisor", "9999")]
LIMITS = "[till]\ncashier_discount_max = 10\npin_tries = 3\npin_lockout = 3\n"


def roster_config(tmp_path: Path) -> Path:
    staff = "".join(
        f'[[staff]]\nid = "{sid}"\nname = "{name}"\nrole = "{role}"\npin_hash = "{hash_pin(pin)}"\n'
        for sid, name, role, pin in ROSTER
    )
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(config_text(tmp_path / "data", LIMITS + staff))
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(demo_catalog_text())
    r = run_cli("catalog", "import", "--config", str(cfg), str(catalog))
    assert r.returncode == 0, r.stderr
    return cfg


def replay(cfg: Path, scen: Path, events: list[dict]) -> tuple[list[dict], str]:  # type: ignore[type-arg]
    r = run_cli("replay", "--config", str(cfg), str(write_scenario(scen, events)))
    assert r.returncode == 0, r.stderr
    return lines(r.stdout), r.stderr


def test_wrong_pins_lock_the_id_across_a_restart_until_a_supervisor_unlocks_it(
    tmp_path: Path,
) -> None:
    cfg = roster_config(tmp_path)
    guesses = [{"op": "login", "staff": "ana", "pin": p} for p in ("0000", "1111", "2222")]
    out, err = replay(
        cfg, tmp_path / "guess.jsonl", [*guesses, {"op": "login", "staff": "ana", "pin": "1234"}]
    )
    assert out == [
        {"rejected": "login", "reason": "wrong PIN for ana; try again (2 more lock ana)"},
        {"rejected": "login", "reason": "wrong PIN for ana; try again (1 more lock ana)"},
        {
            "rejected": "login",
            "reason": "wrong PIN for ana: ana is now locked after 3 wrong PINs; "
            "a supervisor must unlock it",
        },
        # the right PIN, refused: the id is locked
        {
            "rejected": "login",
            "reason": "ana is locked after 3 wrong PINs; a supervisor must unlock it",
        },
    ]
    logged = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    assert [x["event"] for x in logged if x["msg"] == "staff.locked"] == [
        {"staff": "ana", "failures": 3}
    ]

    # A restart (a power cycle) does not clear it; a supervisor does, with nobody logged in.
    sale = [
        {"op": "key", "sku": "A1", "qty": 2},
        {"op": "discount", "percent": 50},  # over the cashier's 10 %: refused
        {"op": "approve", "staff": "marie", "pin": "9999"},
        {"op": "discount", "percent": 50},
        {"op": "tender", "type": "cash", "amount": "5.00"},
    ]
    out, _ = replay(
        cfg,
        tmp_path / "unlock.jsonl",
        [
            {"op": "login", "staff": "ana", "pin": "1234"},
            {"op": "approve", "staff": "marie", "pin": "9999", "unlock": "ana"},
            {"op": "login", "staff": "ana", "pin": "1234"},
            *sale,
        ],
    )
    assert out[:2] == [
        {
            "rejected": "login",
            "reason": "ana is locked after 3 wrong PINs; a supervisor must unlock it",
        },
        {
            "rejected": "discount",
            "reason": "a discount over 10 % needs a supervisor; ask one to approve first",
        },
    ]
    assert len(out) == 3 and out[2]["total"] == 145 and out[2]["change"] == 355

    # The unlock was kept too: the next start lets ana straight in.
    out, _ = replay(
        cfg,
        tmp_path / "again.jsonl",
        [{"op": "login", "staff": "ana", "pin": "1234"}, {"op": "key", "sku": "A1"}],
    )
    assert out == []
    export = run_cli("journal", "export", "--config", str(cfg))
    assert export.returncode == 0, export.stderr
    (record,) = lines(export.stdout)
    assert (record["staff"], record["approved_by"]) == ("ana", "marie")
    assert [li["discount"] for li in record["lines"]] == [145]

    # A device state that cannot be read stops the start, as a damaged journal does: a
    # till that forgot its locks would hand out fresh guesses.
    state = cfg.parent / "data" / "state.json"
    state.write_text("garbage{")
    r = run_cli("replay", "--config", str(cfg), str(tmp_path / "again.jsonl"))
    assert r.returncode == 2 and r.stdout == ""
    assert "state.json: the device state is not valid JSON" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and state.read_text() == "garbage{"


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


async def test_the_controller_reports_keeps_and_times_the_refusals(tmp_path: Path) -> None:
    """In the controller: each counted wrong PIN and the lock are events, a wait says
    until when on the wall clock, and the counts reach the device state; a device state
    that cannot be written leaves the counts holding in memory."""
    clock = Clock()
    till = make_till(EUR, ROSTER_MEMBERS, monotonic=clock, pins=PinPolicy(tries=1, lockout=3))
    events: list[Event] = []
    state = DeviceState(tmp_path / "state.json")
    with Store.open(tmp_path / "data", "till-01") as store:
        ctl = Controller(
            till,
            store,
            SimDrawer(),
            exponent=2,
            on_event=events.append,
            save_pins=lambda doc: state.put("pins", doc),
        )
        wrong = await ctl.handle({"op": "login", "staff": "ana", "pin": "0000"})
        assert wrong.rejected is not None
        assert re.fullmatch(
            r"wrong PIN for ana; try again in 1 s \(at \d\d:\d\d:\d\d\) \(2 more lock ana\)",
            wrong.rejected,
        ), wrong.rejected
        waiting = await ctl.handle({"op": "login", "staff": "ana", "pin": "1234"})
        assert waiting.rejected is not None
        assert re.fullmatch(
            r"too many wrong PINs for ana; try again in 1 s \(at \d\d:\d\d:\d\d\)", waiting.rejected
        )
        assert state.get("pins") == {
            "staff": {"ana": {"failures": 1, "locked": False}},
            "till": 1,
        }
        # The device state breaks (a directory where its file was): the counts still hold.
        (tmp_path / "state.json").unlink()
        (tmp_path / "state.json").mkdir()
        for pin in ("1111", "2222"):
            clock.now += 10
            await ctl.handle({"op": "login", "staff": "ana", "pin": pin})
        assert till.view().locked == {"ana"}
        assert (await ctl.handle({"op": "login", "staff": "ana", "pin": "1234"})).rejected == (
            "ana is locked after 3 wrong PINs; a supervisor must unlock it"
        )
        (tmp_path / "state.json").rmdir()
        unlocked = await ctl.handle(
            {"op": "approve", "staff": "marie", "pin": "9999", "unlock": "ana"}
        )
        assert unlocked.rejected is None
        assert state.get("pins") == {"staff": {}, "till": 0}  # saved again once it could be
    state.close()
    kinds = [(e.kind, e.detail.get("staff"), e.detail.get("failures")) for e in events]
    assert kinds == [
        ("staff.pin_failed", "ana", 1),
        ("staff.pin_failed", "ana", 2),
        ("staff.pin_failed", "ana", 3),
        ("staff.locked", "ana", 3),
        ("staff.unlocked", "ana", None),
    ]
    assert events[-1].detail == {"staff": "ana", "by": "marie"}
