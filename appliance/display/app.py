"""Kivy comes in here: the window, the screens side by side, and the run in the service's
asyncio loop (`App.async_run(async_lib="asyncio")`).

Kivy reads its environment and config once, at first import, and keeps one window per
process; `prepare_kivy` must run before anything imports it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from appliance.config import Config
from appliance.display import DisplayError
from appliance.display.context import DisplayContext
from appliance.display.formatting import MoneyText
from appliance.drivers.scanner import Scan
from appliance.events import Event
from appliance.loyalty.customers import LoyaltyLookup
from appliance.service import Unit

log = logging.getLogger("appliance.display")

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SCREENS = ("till", "customer", "kiosk")


def display_available() -> bool:
    """Is there anything to draw on: an X or Wayland display, or KMS asked for explicitly."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    # A Pi without a desktop: SDL draws straight to the panel through KMS/DRM.
    return os.environ.get("SDL_VIDEODRIVER") == "kmsdrm" and Path("/dev/dri/card0").exists()


def _quiet_cutbuffer(record: logging.LogRecord) -> bool:
    # Kivy looks for xclip/xsel for X's primary selection and logs a CRITICAL page when
    # they are absent; a till has no use for that selection, so this is noise.
    return not record.getMessage().startswith("Cutbuffer:")


def prepare_kivy(cfg: Config, width: int, height: int) -> None:
    """Kivy's environment and config, before its first import."""
    if "kivy.core.window" in sys.modules:
        return
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    # SDL2 only: Kivy's fallback X11 provider calls exit() when X is unreachable.
    os.environ.setdefault("KIVY_WINDOW", "sdl2")
    if os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        # Else SDL quietly falls back to an off-screen driver when X is unreachable, and
        # the till would "show" its screens to nobody instead of saying it is headless.
        os.environ.setdefault("SDL_VIDEODRIVER", "x11")
    # Kivy's own logging would take over the root logger; ours writes JSON lines.
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KCFG_KIVY_LOG_LEVEL", "warning")
    os.environ.setdefault("KIVY_NO_CONFIG", "1")
    os.environ.setdefault("KIVY_HOME", str(cfg.data_dir / "kivy"))
    from kivy.config import Config as KivyConfig
    from kivy.logger import Logger

    Logger.setLevel(logging.WARNING)
    Logger.addFilter(_quiet_cutbuffer)

    KivyConfig.set("graphics", "width", str(width))
    KivyConfig.set("graphics", "height", str(height))
    KivyConfig.set("graphics", "rotation", str(cfg.display.rotation))
    KivyConfig.set("graphics", "resizable", "0")
    KivyConfig.set("graphics", "maxfps", "60")
    # No multisampling (Kivy asks for 2x; Mesa's llvmpipe gives 4x): the screens are
    # axis-aligned rectangles and pre-rendered text, nothing MSAA would smooth, and with
    # it software GL rasterised every pixel four times and resolved the frame in the swap.
    KivyConfig.set("graphics", "multisamples", "0")
    KivyConfig.set("kivy", "exit_on_escape", "0")
    KivyConfig.set("kivy", "keyboard_mode", "dock" if cfg.display.onscreen_keyboard else "system")
    # No multitouch emulation dots from the mouse; a real panel's touch comes via mtdev/evdev.
    KivyConfig.set("input", "mouse", "mouse,disable_multitouch")


def register_fonts(font: str) -> None:
    """DejaVu as the default font: it carries € £ and accented names (Roboto lacks some)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    regular = Path(font) if font else FONT_DIR / "DejaVuSans.ttf"
    bold = regular.with_name(regular.stem + "-Bold.ttf")
    if not regular.is_file():
        raise DisplayError(f"font {regular} is missing; install fonts-dejavu-core")
    LabelBase.register(DEFAULT_FONT, str(regular), None, str(bold) if bold.is_file() else None)
    mono = FONT_DIR / "DejaVuSansMono.ttf"
    if mono.is_file():
        LabelBase.register("DejaVuSansMono", str(mono))


def open_window(cfg: Config, width: int, height: int) -> Any:
    """Kivy's window at the configured size; DisplayError when there is none to be had."""
    prepare_kivy(cfg, width, height)
    try:
        from kivy.core.window import Window
    except Exception as e:  # SDL and GL errors of every kind end here
        raise DisplayError(f"the screen could not be opened: {e}") from e
    if Window is None:
        raise DisplayError(
            "the screen could not be opened (no window provider: check DISPLAY, the GL "
            "libraries and permissions on /dev/dri); the till keeps selling headless"
        )
    register_fonts(cfg.display.font)
    from appliance.display.kit import PAPER

    Window.clearcolor = PAPER  # PAPER panels leave it showing rather than paint over it
    return Window


def present() -> None:
    """Lay out and draw the window now, as Kivy's own frame would (layouts and label
    textures first, then draw and flip), instead of waiting for the clock's next frame.
    Only between Kivy frames: from an event-loop callback, never a Kivy callback."""
    from kivy.base import EventLoop
    from kivy.clock import Clock
    from kivy.lang import Builder

    window = EventLoop.window
    if window is None or EventLoop.status != "started":
        return
    Clock.tick_draw()
    Builder.sync()
    if window.canvas.needs_redraw:
        window.dispatch("on_draw")
        window.dispatch("on_flip")


class Screens:
    """The screens of one unit, built into one Kivy root, side by side in the window."""

    def __init__(
        self,
        unit: Unit,
        screens: Sequence[str],
        *,
        loyalty: LoyaltyLookup | None = None,
        width: int,
        height: int,
    ) -> None:
        from kivy.uix.boxlayout import BoxLayout

        from appliance.display.customer_screen import CustomerScreen
        from appliance.display.kiosk_screen import KioskScreen
        from appliance.display.kit import Scale
        from appliance.display.till.screen import TillScreen

        cfg = unit.cfg
        d = cfg.display
        self.ctx = DisplayContext(
            unit,
            MoneyText(cfg.store.currency, cfg.exponent, d.locale),
            # The unit's own authoriser asks the collector (offline answers when it cannot).
            loyalty or unit.loyalty,
        )
        self.root = BoxLayout()
        self.till: TillScreen | None = None
        self.customer: CustomerScreen | None = None
        self.kiosk: KioskScreen | None = None
        portrait = cfg.display.rotation in (90, 270)
        w, h = (height, width) if portrait else (width, height)
        scale = Scale(w / max(len(screens), 1), h)
        shop = cfg.store.name or f"Store {cfg.device.store}"
        for name in screens:
            if name == "till":
                self.till = TillScreen(self.ctx, scale, list(d.favourites))
                self.root.add_widget(self.till)
            elif name == "customer":
                self.customer = CustomerScreen(self.ctx, scale, d.logo, shop)
                self.root.add_widget(self.customer)
            elif name == "kiosk":
                self.kiosk = KioskScreen(self.ctx, scale, d.kiosk_timeout)
                self.root.add_widget(self.kiosk)
            else:
                raise DisplayError(f"display.screens: unknown screen {name!r}")
        self.ctx.present = present
        unit.event_watchers.append(self.ctx.on_event)
        unit.scan_watchers.append(self._on_scan)

    def _on_scan(self, scan: Scan) -> None:
        self.ctx.on_scan(scan.code)

    def tick(self, _dt: float = 0.0) -> None:
        """Once a second: thank-you to idle, kiosk timeout, next promotion."""
        if self.customer is not None:
            self.customer.refresh()
        if self.kiosk is not None:
            self.kiosk.tick()

    def detach(self) -> None:
        unit = self.ctx.unit
        if self.ctx.on_event in unit.event_watchers:
            unit.event_watchers.remove(self.ctx.on_event)
        if self._on_scan in unit.scan_watchers:
            unit.scan_watchers.remove(self._on_scan)


def build_app(screens: Screens) -> Any:
    from kivy.app import App
    from kivy.clock import Clock

    class DisplayApp(App):
        title = "appliance"

        def on_start(self) -> None:
            from kivy.core.window import Window

            def first_frame(*_: Any) -> None:
                Window.funbind("on_flip", first_frame)
                # Once the first frame is up (not before, to show it sooner): what
                # exists now (modules, catalog, the screens) lives as long as the app,
                # and frozen the collector stops walking it, so a full collection costs
                # little rather than a stall of tens of milliseconds after a scan.
                asyncio.get_running_loop().call_soon(self._freeze)

            Window.fbind("on_flip", first_frame)

        def _freeze(self) -> None:
            from kivy.base import EventLoop

            if EventLoop.status == "started":  # not if stopped meanwhile: nothing to thaw it
                gc.collect()
                gc.freeze()

        def on_stop(self) -> None:
            gc.unfreeze()

        def build(self) -> Any:
            Clock.schedule_interval(screens.tick, 1.0)
            if screens.customer is not None:
                Clock.schedule_interval(lambda _dt: screens.customer.next_promotion(), 8.0)
            return screens.root

    return DisplayApp()


async def run_display(
    unit: Unit,
    *,
    screens: Sequence[str] | None = None,
    loyalty: LoyaltyLookup | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Open the window and run the screens until cancelled; DisplayError if it cannot."""
    cfg = unit.cfg
    d = cfg.display
    names = list(screens or d.screens)
    window = open_window(cfg, d.width, d.height)
    built = Screens(unit, names, loyalty=loyalty, width=d.width, height=d.height)
    app = build_app(built)
    if started is not None:
        window.bind(on_flip=lambda *_: started.set())
    task = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
    try:
        await asyncio.shield(task)
    finally:
        built.detach()
        if not task.done():
            app.stop()
            await asyncio.gather(task, return_exceptions=True)


async def serve_display(unit: Unit, stop: asyncio.Event | None = None) -> None:
    """`appliance run`'s screens: never raises; a missing or failed screen is logged, sent
    as event `display.failed`, and the till goes on selling headless."""
    if not display_available():
        reason = "no screen (no DISPLAY, WAYLAND_DISPLAY or KMS); selling headless"
        log.warning("display unavailable", extra={"reason": reason})
        unit.emit(Event("display.failed", {"reason": reason}))
        return
    display = asyncio.ensure_future(run_display(unit, loyalty=unit.loyalty))
    waits: set[asyncio.Future[Any]] = {display}
    if stop is not None:
        waits.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            if not w.done():
                w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    if display.cancelled():
        return
    error = display.exception()
    if error is not None:
        log.error("display failed; selling headless", exc_info=error)
        unit.emit(Event("display.failed", {"reason": f"{error}; selling headless"}))
    elif stop is not None and not stop.is_set():
        # The window was closed (not by us): the service goes on, without a screen.
        unit.emit(Event("display.failed", {"reason": "the window was closed; selling headless"}))
