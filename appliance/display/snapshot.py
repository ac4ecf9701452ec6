"""`appliance display snapshot`: one screen, after a scenario, as a PNG.

The scenario runs on a scratch copy of the data directory on simulated hardware, so a
snapshot never adds sales to the till's real journal. With no DISPLAY, a private Xvfb
is started for the duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from PIL import Image

from appliance.config import Config, PathsSection
from appliance.display import DisplayError
from appliance.display.xvfb import Xvfb
from appliance.loyalty.customers import LoyaltyLookup
from protocol.errors import BadInput

FRAME_TIMEOUT = 20.0


def grab(window: Any) -> Image.Image:
    """What the window shows now, as an RGB image (drawn afresh, then read back)."""
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

    window.dispatch("on_draw")
    width, height = window.system_size
    data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    return Image.frombytes("RGB", (width, height), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)


async def frames(n: int) -> None:
    """Let Kivy's clock tick `n` times (layout and redraw happen on ticks)."""
    from kivy.clock import Clock

    target = Clock.frames + n
    deadline = asyncio.get_running_loop().time() + FRAME_TIMEOUT
    while Clock.frames < target:
        if asyncio.get_running_loop().time() > deadline:
            raise DisplayError("the screen stopped drawing (no frame for 20 s)")
        await asyncio.sleep(0.005)


@contextlib.contextmanager
def some_display(width: int, height: int) -> Iterator[str]:
    """The DISPLAY to draw on: the one we have, or a private Xvfb big enough."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    with Xvfb(max(width, 1920), max(height, 1080)) as x:
        os.environ["DISPLAY"] = x.display
        try:
            yield x.display
        finally:
            os.environ.pop("DISPLAY", None)


def scratch_config(cfg: Config, where: Path) -> Config:
    """The same config on a copy of its data directory (journal, key, catalog, state)."""
    src = cfg.data_dir
    dst = where / "data"
    if src.is_dir():
        shutil.copytree(
            src, dst, ignore=shutil.ignore_patterns("sim-scanner*", "receipts", "kivy", "*.bin")
        )
    else:
        dst.mkdir(parents=True)
    return msgspec.structs.replace(
        cfg,
        paths=PathsSection(data_dir=str(dst)),
        hardware=msgspec.structs.replace(cfg.hardware, printer=f"file:{dst / 'printer.bin'}"),
    )


async def render(
    cfg: Config,
    screen: str,
    events: Sequence[dict[str, Any]],
    *,
    loyalty: LoyaltyLookup | None = None,
) -> Image.Image:
    """Open the unit (simulated) and the one screen, play the events, grab the window."""
    from appliance.display.app import Screens, build_app, open_window
    from appliance.replay import play
    from appliance.service import open_unit

    d = cfg.display
    window = open_window(cfg, d.width, d.height)
    async with open_unit(cfg, simulate=True) as unit:
        await unit.scanner_connected()
        # Without `loyalty`, the unit's authoriser: with `[mqtt]` set it asks a running
        # collector, so the kiosk shows real names, balances and purchases.
        screens = Screens(unit, [screen], loyalty=loyalty, width=d.width, height=d.height)
        app = build_app(screens)
        drawn = asyncio.Event()
        window.bind(on_flip=lambda *_: drawn.set())
        task = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
        try:
            await asyncio.wait_for(drawn.wait(), FRAME_TIMEOUT)
            await play(unit, events, lambda _o: None)
            await screens.ctx.settle()
            screens.ctx.changed()
            await frames(3)  # layouts settle over a frame or two (sizes propagate)
            return grab(window)
        finally:
            screens.detach()
            app.stop()
            await asyncio.gather(task, return_exceptions=True)


def snapshot(cfg: Config, screen: str, events: Sequence[dict[str, Any]], out: Path) -> Path:
    """Render `screen` after `events` to the PNG `out` at `[display] width × height`."""
    if out.parent and not out.parent.is_dir():
        raise BadInput(f"{out.parent}: no such directory for the PNG")
    d = cfg.display
    with tempfile.TemporaryDirectory(prefix="snapshot-") as tmp, some_display(d.width, d.height):
        scratch = scratch_config(cfg, Path(tmp))
        image = asyncio.run(render(scratch, screen, events))
    if image.size != (d.width, d.height):
        # the window manager (or a too small X screen) gave us another size
        raise DisplayError(f"the window came out {image.size[0]}×{image.size[1]}, not the config's")
    image.save(out)
    return out
