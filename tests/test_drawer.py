"""The cash drawer driver on gpiozero's MockFactory, through SimDrawer's physical model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from appliance.drivers.drawer import HISTORY_KEPT, Drawer, DrawerError, SimDrawer
from appliance.events import Event

KICK, SENSOR = 17, 27
WAIT = 5.0  # bounds a wait for something that takes a fraction of a second


class Events(list[Event]):
    def kinds(self) -> list[str]:
        return [e.kind for e in self]

    async def wait_for(self, kind: str, count: int = 1) -> Event:
        async with asyncio.timeout(WAIT):
            while sum(e.kind == kind for e in self) < count:
                await asyncio.sleep(0.01)
        return [e for e in self if e.kind == kind][count - 1]


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def drawer(events: Events) -> Iterator[SimDrawer]:
    d = SimDrawer(KICK, SENSOR, pulse=0.1, open_alarm=0.5, on_event=events.append)
    yield d
    d.close()


@pytest.fixture
async def watched(drawer: SimDrawer) -> AsyncIterator[SimDrawer]:
    task = asyncio.create_task(drawer.watch())
    yield drawer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_kick_pulses_the_pin_and_the_drawer_opens(drawer: SimDrawer, events: Events) -> None:
    assert drawer.is_open is False
    await drawer.kick("cash sale")
    states = drawer.kick_pin.states
    assert [s.state for s in states] == [False, True, False]
    # The pulse lasted (at least) what was asked: it is a sleep, not a flick.
    assert states[2].timestamp >= 0.1 * 0.9
    assert drawer.is_open is True and drawer.physically_open
    assert [(k.reason, k.opened) for k in drawer.kicks] == [("cash sale", True)]
    assert events.kinds() == ["drawer.kicked"]
    assert events[0].detail["reason"] == "cash sale"


async def test_kick_is_refused_while_the_drawer_is_open(drawer: SimDrawer) -> None:
    await drawer.kick("cash sale")
    with pytest.raises(DrawerError, match="already open"):
        await drawer.kick("no sale")
    assert len(drawer.kicks) == 1  # the solenoid was not fired again
    drawer.shut()
    assert drawer.is_open is False
    await drawer.kick("no sale")
    assert [k.reason for k in drawer.kicks] == ["cash sale", "no sale"]


async def test_opened_by_key_also_refuses_a_kick(drawer: SimDrawer) -> None:
    drawer.open_by_key()
    with pytest.raises(DrawerError, match="already open"):
        await drawer.kick("cash sale")
    assert drawer.kicks == []


async def test_jammed_drawer_is_reported(drawer: SimDrawer, events: Events) -> None:
    drawer.jam()
    with pytest.raises(DrawerError, match=r"did not open \(jammed or unplugged\)"):
        await drawer.kick("cash sale")
    assert [(k.reason, k.opened) for k in drawer.kicks] == [("cash sale", False)]
    assert [s.state for s in drawer.kick_pin.states] == [False, True, False]
    assert events.kinds() == ["drawer.kicked", "drawer.jammed"]
    assert drawer.is_open is False
    drawer.unjam()
    await drawer.kick("retry")
    assert drawer.is_open is True


async def test_unplugged_drawer_does_not_move_and_is_reported(
    drawer: SimDrawer, events: Events
) -> None:
    drawer.unplug()
    with pytest.raises(DrawerError, match="did not open"):
        await drawer.kick("cash sale")
    assert drawer.kicks[0].opened is False and not drawer.physically_open
    assert "drawer.jammed" in events.kinds()


async def test_watch_reports_open_close_and_open_too_long_once(
    watched: SimDrawer, events: Events
) -> None:
    await watched.kick("cash sale")
    opened = await events.wait_for("drawer.opened")
    assert opened.detail == {"pin": KICK, "kicked": True, "reason": "cash sale"}
    alarm = await events.wait_for("drawer.open_too_long")
    assert alarm.detail["seconds"] == 0.5
    # Long past the alarm a second time: still one alarm for this opening.
    await asyncio.sleep(0.6)
    assert events.kinds().count("drawer.open_too_long") == 1

    watched.shut()
    closed = await events.wait_for("drawer.closed")
    assert closed.detail["open_for"] >= 0.5
    assert events.kinds() == [
        "drawer.kicked",
        "drawer.opened",
        "drawer.open_too_long",
        "drawer.closed",
    ]

    # The next opening gets its own alarm.
    watched.open_by_key()
    second = await events.wait_for("drawer.opened", count=2)
    assert second.detail["kicked"] is False and second.detail["reason"] is None
    await events.wait_for("drawer.open_too_long", count=2)


async def test_an_opening_seen_during_the_pulse_is_the_kicks(events: Events) -> None:
    # The drawer springs on the rising edge; with a long pulse and a fast poll, watch()
    # sees it open before the pulse ends. That opening is still the kick's, with its reason.
    solenoid_on: list[bool] = []  # the kick pin's state as each event was said

    def sink(event: Event) -> None:
        events.append(event)
        solenoid_on.append(bool(d.kick_pin.state))

    d = SimDrawer(KICK, SENSOR, pulse=0.4, poll=0.01, on_event=sink)
    task = asyncio.create_task(d.watch())
    await asyncio.sleep(0)  # watch() reads the shut drawer before the kick
    try:
        await d.kick("cash sale")
        opened = await events.wait_for("drawer.opened")
        assert events.kinds() == ["drawer.kicked", "drawer.opened"]
        assert solenoid_on == [True, True]  # seen open while the pulse was still on
        assert opened.detail == {"pin": KICK, "kicked": True, "reason": "cash sale"}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        d.close()


async def test_a_key_opening_after_a_jammed_kick_is_the_keys(events: Events) -> None:
    d = SimDrawer(KICK, SENSOR, pulse=0.05, open_timeout=0.1, poll=0.01, on_event=events.append)
    task = asyncio.create_task(d.watch())
    await asyncio.sleep(0)
    try:
        d.jam()
        with pytest.raises(DrawerError, match="did not open"):
            await d.kick("cash sale")
        d.open_by_key()  # well within the kick's attribution window
        opened = await events.wait_for("drawer.opened")
        assert opened.detail == {"pin": KICK, "kicked": False, "reason": None}
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        d.close()


async def test_drawer_without_sensor_kicks_blind(events: Events) -> None:
    d = SimDrawer(KICK, None, pulse=0.05, on_event=events.append)
    try:
        assert d.is_open is None
        await d.kick("cash sale")
        assert d.physically_open and d.kicks[0].opened
        # Nothing tells us it is open, so a second kick is not refused (and moves nothing).
        await d.kick("no sale")
        assert [k.opened for k in d.kicks] == [True, False]
        await asyncio.wait_for(d.watch(), WAIT)  # nothing to watch: returns at once
        assert events.kinds() == ["drawer.kicked", "drawer.kicked"]
    finally:
        d.close()


async def test_cancelled_kick_still_drops_the_solenoid(drawer: SimDrawer) -> None:
    drawer.pulse = 10.0
    task = asyncio.create_task(drawer.kick("cash sale"))
    async with asyncio.timeout(WAIT):
        while not drawer.kick_pin.state:
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert drawer.kick_pin.state is False


async def test_closed_drawer_refuses_and_releases_its_pins(drawer: SimDrawer) -> None:
    drawer.close()
    drawer.close()  # idempotent
    with pytest.raises(DrawerError, match="closed"):
        await drawer.kick("cash sale")


def test_close_releases_the_pins() -> None:
    factory = MockFactory()
    Drawer(KICK, SENSOR, pin_factory=factory).close()
    # Claimed again on the same factory: close() let go of both pins.
    Drawer(KICK, SENSOR, pin_factory=factory).close()


def test_pin_in_use_is_a_drawer_error() -> None:
    factory = MockFactory()
    first = Drawer(KICK, SENSOR, pin_factory=factory)
    try:
        with pytest.raises(DrawerError, match="GPIO17"):
            Drawer(KICK, None, pin_factory=factory)
        with pytest.raises(DrawerError, match="GPIO27"):
            Drawer(5, SENSOR, pin_factory=factory)
        # The failed second construction gave back the kick pin it had claimed.
        Drawer(5, None, pin_factory=factory).close()
    finally:
        first.close()


def test_cut_sensor_wire_reads_open() -> None:
    # The wiring choice: pull-up input, contact to ground while shut, so no contact = open.
    factory = MockFactory()
    d = Drawer(KICK, SENSOR, pin_factory=factory)
    try:
        assert d.is_open is True  # a bare MockPin with pull-up reads high: nothing to ground
        factory.pin(SENSOR).drive_low()
        assert d.is_open is False
    finally:
        d.close()


async def test_the_simulator_keeps_only_its_newest_kicks_and_pin_changes() -> None:
    """`appliance run --simulate` kicks on every cash sale: SimDrawer's `kicks` and the
    pins' `states` (gpiozero keeps every change) gained entries for as long as it ran."""
    d = SimDrawer(KICK, SENSOR, pulse=1e-4)
    try:
        for n in range(HISTORY_KEPT + 10):
            await d.kick(f"sale {n}")
            d.shut()
        assert len(d.kicks) == HISTORY_KEPT
        assert [k.reason for k in (d.kicks[0], d.kicks[-1])] == [
            "sale 10",
            f"sale {HISTORY_KEPT + 9}",
        ]
        assert len(d.kick_pin.states) == HISTORY_KEPT  # two changes a kick
        assert [s.state for s in d.kick_pin.states[-2:]] == [True, False]
        assert len(d.sensor.states) == HISTORY_KEPT  # opened and shut, each kick
        assert d.is_open is False
    finally:
        d.close()
