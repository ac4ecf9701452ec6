"""The cash drawer: a kick solenoid on one GPIO pin and, optionally, an open switch on another.

Wiring we support (and the simulator models): the solenoid driver is active high, pulsed for
`pulse` seconds. The open switch is a contact to ground that is *closed while the drawer is
shut*; the input has its pull-up on, so it reads low when shut and high when open. A cut or
unplugged sensor wire therefore reads "open": kicks are refused and the open-too-long alarm
fires, which is a visible fault rather than a drawer that silently looks shut.

The driver only kicks; the controller decides when (cash tender, authorised no-sale).
Faults in the background `watch()` loop go to `on_event`, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice, GPIOZeroError
from gpiozero.pins.mock import MockFactory, MockPin

from appliance.errors import ApplianceError
from appliance.events import Event, EventSink, discard

log = logging.getLogger(__name__)

# A drawer opening this soon after a kick is that kick's doing; later it was opened by key.
_KICK_ATTRIBUTION = 2.0
# Kicks, and changes of each pin, the simulator remembers (tests read the last few):
# `appliance run --simulate` kicks on every cash sale for as long as it runs.
HISTORY_KEPT = 100


class DrawerError(ApplianceError):
    """The drawer could not be kicked, or did not open when kicked."""


class Drawer:
    """A GPIO cash drawer. `pin_factory` None means gpiozero's default (real pins)."""

    def __init__(
        self,
        pin: int,
        sensor_pin: int | None = None,
        *,
        pin_factory: Any = None,
        pulse: float = 0.2,
        open_alarm: float = 30.0,
        open_timeout: float = 1.0,
        poll: float = 0.05,
        on_event: EventSink = discard,
    ) -> None:
        if pulse <= 0 or open_alarm <= 0 or open_timeout <= 0 or poll <= 0:
            raise DrawerError(
                f"drawer timings must be positive (pulse={pulse}, open_alarm={open_alarm}, "
                f"open_timeout={open_timeout}, poll={poll}); fix the [hardware] settings"
            )
        self.pin = pin
        self.sensor_pin = sensor_pin
        self.pulse = pulse
        self.open_alarm = open_alarm
        self.open_timeout = open_timeout
        self.poll = poll
        self._on_event = on_event
        self._lock = asyncio.Lock()
        self._last_kick: tuple[float, str] | None = None
        # Read by SimDrawer's solenoid model so a recorded kick carries its reason.
        self._kick_reason = ""
        self._closed = False
        try:
            self._kicker = DigitalOutputDevice(
                pin, active_high=True, initial_value=False, pin_factory=pin_factory
            )
        except GPIOZeroError as exc:
            raise DrawerError(
                f"cannot use GPIO{pin} for the drawer kick: {exc}; check drawer_pin in "
                "[hardware] and that no other program holds the pin"
            ) from exc
        self._sensor: Any = None
        if sensor_pin is not None:
            try:
                self._sensor = DigitalInputDevice(sensor_pin, pull_up=True, pin_factory=pin_factory)
            except GPIOZeroError as exc:
                self._kicker.close()
                raise DrawerError(
                    f"cannot use GPIO{sensor_pin} for the drawer sensor: {exc}; check "
                    "drawer_sensor_pin in [hardware]"
                ) from exc

    @property
    def is_open(self) -> bool | None:
        """True/False from the open switch; None when the drawer has no sensor."""
        if self._sensor is None:
            return None
        if self._closed:
            raise DrawerError("the drawer driver is closed; create a new one to use the drawer")
        # Pull-up input with the switch to ground while shut: active (low) means shut.
        return not self._sensor.is_active

    async def kick(self, reason: str) -> None:
        """Pulse the solenoid; DrawerError if already open, or (with a sensor) if it stays shut."""
        async with self._lock:
            if self._closed:
                raise DrawerError("the drawer driver is closed; create a new one to kick")
            if self.is_open:
                raise DrawerError(
                    "drawer is already open; shut it before opening it again (or check the "
                    "sensor wire if it is shut)"
                )
            self._kick_reason = reason
            loop = asyncio.get_running_loop()
            # Claim the opening before the solenoid fires: the drawer springs on the rising
            # edge, so watch() can see it open while the pulse is still on.
            self._last_kick = (loop.time(), reason)
            try:
                self._kicker.on()
                try:
                    # Said as the solenoid fires, so it comes before the opening it causes.
                    self._emit("drawer.kicked", reason=reason)
                    # Sleep on the loop, not gpiozero's blink thread: the till stays responsive.
                    await asyncio.sleep(self.pulse)
                finally:
                    # Even when cancelled: a solenoid left energised overheats.
                    self._kicker.off()
            except GPIOZeroError as exc:
                self._last_kick = None
                raise DrawerError(
                    f"cannot drive the drawer kick pin GPIO{self.pin}: {exc}; restart the service"
                ) from exc
            if self._sensor is None:
                return
            deadline = loop.time() + self.open_timeout
            while not self.is_open:
                if loop.time() >= deadline:
                    self._last_kick = None  # a key opening after this is not the kick's
                    self._emit("drawer.jammed", reason=reason)
                    raise DrawerError(
                        "drawer did not open (jammed or unplugged); open it with the key and "
                        "check its cable"
                    )
                await asyncio.sleep(min(self.poll, 0.02))

    async def watch(self) -> None:
        """Report opened/closed and open-too-long (once per opening) until closed or cancelled.

        Returns at once when there is no sensor: there is nothing to watch.
        """
        if self._sensor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            state = bool(self.is_open)
            opened_at = loop.time()
            alarmed = False
            if state:
                self._emit("drawer.opened", kicked=False, reason=None, at_start=True)
            while True:
                await asyncio.sleep(self.poll)
                reading = bool(self.is_open)
                if reading != state:
                    # A contact bounces: believe a change only if the next poll agrees.
                    await asyncio.sleep(self.poll)
                    if bool(self.is_open) != reading:
                        continue
                    state = reading
                    now = loop.time()
                    if state:
                        opened_at, alarmed = now, False
                        # Each kick explains at most one opening; a later one was the key.
                        kick, self._last_kick = self._last_kick, None
                        kicked = kick is not None and now - kick[0] <= _KICK_ATTRIBUTION
                        reason = kick[1] if kick is not None and kicked else None
                        self._emit("drawer.opened", kicked=kicked, reason=reason)
                    else:
                        self._emit("drawer.closed", open_for=round(now - opened_at, 1))
                elif state and not alarmed and loop.time() - opened_at >= self.open_alarm:
                    alarmed = True
                    self._emit("drawer.open_too_long", seconds=self.open_alarm)
        except DrawerError:
            return  # closed under us: the service is shutting down

    def close(self) -> None:
        """Release the GPIO pins (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._kicker.close()
        if self._sensor is not None:
            self._sensor.close()

    def _emit(self, kind: str, **detail: Any) -> None:
        event = Event(kind, {"pin": self.pin, **detail})
        log.log(
            logging.WARNING if kind.endswith(("jammed", "too_long")) else logging.INFO,
            "%s %s",
            kind,
            detail,
        )
        try:
            self._on_event(event)
        except Exception:
            # The sink is someone else's code; a bug there must not stop the drawer.
            log.exception("event sink failed on %s", kind)


@dataclass(frozen=True)
class Kick:
    """One pulse the simulated solenoid received; `opened` says whether the drawer sprang."""

    ts: float  # time.monotonic()
    reason: str
    opened: bool


class _RecentPin(MockPin):
    """A MockPin whose `states` history keeps only the newest HISTORY_KEPT changes
    (gpiozero's keeps every one)."""

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if len(self.states) > HISTORY_KEPT:
            del self.states[0]
        return changed


class _SolenoidPin(_RecentPin):
    """The kick pin: tells the drawer model about each rising edge."""

    on_rise: Callable[[], None] | None = None

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and value and self.on_rise is not None:
            self.on_rise()
        return changed


class _SwitchPin(_RecentPin):
    """The open switch: a contact to ground while shut, else whatever the pull says."""

    contact_closed = True

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        self.settle()

    def set_contact(self, closed: bool) -> None:
        self.contact_closed = closed
        self.settle()

    def settle(self) -> None:
        if self._function != "input":
            return
        if self.contact_closed or self._pull == "down":
            self.drive_low()
        elif self._pull == "up":
            self.drive_high()


class SimDrawer(Drawer):
    """A drawer on gpiozero's MockFactory that behaves like the physical one.

    A rising edge on the kick pin springs the drawer open (the sensor pin changes) unless
    `jam()` or `unplug()` was called; `shut()` is a person pushing it shut. Each pulse is
    recorded in `kicks`; the pins' own `states` history is there too (`kick_pin`, `sensor`);
    both keep the newest HISTORY_KEPT.
    """

    def __init__(
        self,
        pin: int = 17,
        sensor_pin: int | None = None,
        *,
        pin_factory: MockFactory | None = None,
        pulse: float = 0.2,
        open_alarm: float = 30.0,
        open_timeout: float = 1.0,
        poll: float = 0.05,
        on_event: EventSink = discard,
    ) -> None:
        factory = pin_factory if pin_factory is not None else MockFactory()
        self.kicks: list[Kick] = []
        self.jammed = False
        self.plugged = True
        self.physically_open = False
        self.kick_pin: Any = factory.pin(pin, pin_class=_SolenoidPin)
        if not isinstance(self.kick_pin, _SolenoidPin):
            raise DrawerError(f"GPIO{pin} already exists on this MockFactory as another pin kind")
        self.kick_pin.on_rise = self._on_rise
        self.sensor: Any = None
        if sensor_pin is not None:
            self.sensor = factory.pin(sensor_pin, pin_class=_SwitchPin)
            if not isinstance(self.sensor, _SwitchPin):
                raise DrawerError(
                    f"GPIO{sensor_pin} already exists on this MockFactory as another pin kind"
                )
        super().__init__(
            pin,
            sensor_pin,
            pin_factory=factory,
            pulse=pulse,
            open_alarm=open_alarm,
            open_timeout=open_timeout,
            poll=poll,
            on_event=on_event,
        )

    def jam(self) -> None:
        """From now on a kick releases nothing: the drawer stays shut."""
        self.jammed = True

    def unjam(self) -> None:
        self.jammed = False

    def unplug(self) -> None:
        """The kick cable is out: the pin still toggles but nothing moves."""
        self.plugged = False

    def replug(self) -> None:
        self.plugged = True

    def shut(self) -> None:
        """A person pushes the drawer shut."""
        self._set_physical(False)

    def open_by_key(self) -> None:
        """A person opens the drawer with its key, without a kick."""
        self._set_physical(True)

    def _on_rise(self) -> None:
        springs = self.plugged and not self.jammed and not self.physically_open
        self.kicks.append(Kick(time.monotonic(), self._kick_reason, springs))
        if len(self.kicks) > HISTORY_KEPT:
            del self.kicks[0]
        if springs:
            self._set_physical(True)

    def _set_physical(self, is_open: bool) -> None:
        self.physically_open = is_open
        if self.sensor is not None:
            self.sensor.set_contact(not is_open)
