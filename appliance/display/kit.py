"""The few Kivy building blocks every screen uses: coloured panels, text, keys.

Sizes are in "panel pixels" of the 800×480 reference screen, multiplied by the screen's
scale, so one layout serves the 7-inch panel and a 1920×1080 monitor alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import BindTexture, BorderImage, Callback, Color, Rectangle
from kivy.graphics.opengl import GL_BLEND, glDisable, glEnable
from kivy.graphics.scissor_instructions import ScissorPop, ScissorPush
from kivy.graphics.stencil_instructions import StencilPop, StencilPush, StencilUnUse, StencilUse
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

RGBA = tuple[float, float, float, float]

INK: RGBA = (0.10, 0.11, 0.13, 1)
PAPER: RGBA = (0.97, 0.97, 0.95, 1)
PANEL: RGBA = (0.90, 0.91, 0.92, 1)
ACCENT: RGBA = (0.07, 0.36, 0.60, 1)
GO: RGBA = (0.12, 0.55, 0.25, 1)
WARN: RGBA = (0.85, 0.55, 0.05, 1)
FAULT: RGBA = (0.78, 0.12, 0.12, 1)
MUTED: RGBA = (0.45, 0.47, 0.50, 1)
WHITE: RGBA = (1, 1, 1, 1)
FAINT: RGBA = (0.7, 0.7, 0.7, 0.2)  # scroll bars
LEVEL: dict[str, RGBA] = {"ok": GO, "warn": WARN, "fault": FAULT}


class Scale:
    """Panel pixels to window pixels for one screen area."""

    def __init__(self, width: float, height: float) -> None:
        self.factor = max(min(width / 800, height / 480), 0.5)

    def __call__(self, px: float) -> float:
        return px * self.factor


def _blend_on(*_: Any) -> None:
    glEnable(GL_BLEND)


def opaque_while(is_opaque: Callable[[], bool]) -> tuple[Callback, Callback]:
    """Two instructions to put around an opaque fill: blending off between them.

    Kivy blends everything it draws; for an opaque fill the result is the same without,
    and software GL (Mesa's llvmpipe) then writes the pixels instead of reading each one
    back to mix it. `is_opaque` is asked at every frame (a colour can change).
    """

    def off(*_: Any) -> None:
        if is_opaque():
            glDisable(GL_BLEND)

    return Callback(off), Callback(_blend_on)


def paint(widget: Any, rgba: RGBA) -> None:
    """A solid background that follows the widget's size and position."""
    color = Color(*rgba)
    rect = Rectangle(pos=widget.pos, size=widget.size)
    off, on = opaque_while(lambda: color.a >= 1)
    for instruction in (off, color, rect, on):
        widget.canvas.before.add(instruction)
    widget._bg_color = color

    def follow(w: Any, _value: Any) -> None:
        rect.pos, rect.size = w.pos, w.size

    widget.bind(pos=follow, size=follow)


def recolour(widget: Any, rgba: RGBA) -> None:
    widget._bg_color.rgba = rgba


def flat_background(button: Any) -> None:
    """A button's flat background (no image) drawn without blending: see `opaque_while`.

    Kivy's rule draws it as Color and BorderImage at the start of the button's canvas.
    """
    kids = [k for k in button.canvas.children if not isinstance(k, BindTexture)]
    at = next((i for i, k in enumerate(kids) if isinstance(k, BorderImage)), -1)
    if at < 1 or not isinstance(kids[at - 1], Color):
        return  # not the rule we know: leave it blended
    color, image = kids[at - 1], kids[at]

    def flat() -> bool:
        source = button.disabled_image if button.disabled else button.state_image
        return not source and button.background_color[3] >= 1

    off, on = opaque_while(flat)
    children = button.canvas.children
    # (a BorderImage's BindTexture sits just before it in the canvas)
    button.canvas.insert(children.index(image) + 1, on)
    button.canvas.insert(children.index(color), off)


def ink_only(label: Any) -> None:
    """Draw only the part of a label's texture that holds its text.

    A label's texture is as wide as its box (`text_size`, so that it can shorten and
    align its text), mostly transparent pixels that Kivy's rule blends on every frame.
    This replaces the rule's Rectangle (the text, last on the canvas) with one
    drawing just the columns with text in them, in the same place, pixel for pixel.
    """
    rule = label.canvas.children[-1] if label.canvas.children else None
    if not isinstance(rule, Rectangle):
        return  # not the rule we know: leave it whole
    ink = Rectangle()
    label.canvas.remove(rule)  # (it takes its BindTexture with it)
    label.canvas.add(ink)  # (and `add` puts one before it; `insert` gets them backwards)

    def place(*_: Any) -> None:
        texture = label.texture
        if texture is None:
            ink.texture, ink.size = None, (0, 0)
            return
        tw, th = texture.size
        x0, w = 0, tw
        # The laid out text's own width (padding included), and 2 pixels each side
        # for glyphs reaching past their advance.
        used = int(label._label._internal_size[0]) + 4
        if used < tw and label.halign in ("left", "center", "right"):
            w = used
            x0 = {"left": 0, "center": (tw - used) // 2, "right": tw - used}[label.halign]
        ink.texture = texture.get_region(x0, 0, w, th) if w < tw else texture
        ink.size = (w, th)
        # Where the rule put it: centred (`center_x` may not have caught up with a
        # new size yet when `size` is dispatched).
        cx, cy = label.x + label.width / 2.0, label.y + label.height / 2.0
        ink.pos = (int(cx - tw / 2.0) + x0, int(cy - th / 2.0))

    label.bind(texture=place, pos=place, size=place)
    place()


class Panel(BoxLayout):
    """A BoxLayout with a background colour.

    PAPER is the colour the window is cleared to (`app.open_window`), and the PAPER
    panels are the screens' roots, so they paint nothing: with software GL every layer
    over the whole screen costs milliseconds a frame.
    """

    def __init__(self, rgba: RGBA = PAPER, **kw: Any) -> None:
        super().__init__(**kw)
        if rgba != PAPER:
            paint(self, rgba)


class Text(Label):
    """A label that wraps or shortens inside its box, aligned as asked."""

    def __init__(
        self,
        text: str = "",
        *,
        size_px: float,
        color: RGBA = INK,
        bg: RGBA | None = None,
        halign: str = "left",
        valign: str = "middle",
        bold: bool = False,
        shorten: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(
            text=text,
            font_size=size_px,
            color=color,
            halign=halign,
            valign=valign,
            bold=bold,
            shorten=shorten,
            shorten_from="right",
            **kw,
        )
        if valign == "middle":
            # Only as tall as the text: Kivy centres the texture in the box anyway, and
            # a box-sized texture is mostly transparent pixels to blend on every frame.
            self.bind(width=lambda w, width: setattr(w, "text_size", (width, None)))
        else:
            self.bind(size=lambda w, s: setattr(w, "text_size", s))
        if bg is not None:
            paint(self, bg)
        ink_only(self)


class Key(Button):
    """A touch key: big text, flat colour; `action` runs on release, as a finger does."""

    def __init__(
        self,
        text: str,
        action: Callable[[], None] | None,
        *,
        size_px: float,
        bg: RGBA = ACCENT,
        color: RGBA = WHITE,
        **kw: Any,
    ) -> None:
        super().__init__(
            text=text,
            font_size=size_px,
            background_normal="",
            background_down="",
            background_color=bg,
            color=color,
            halign="center",
            valign="middle",
            **kw,
        )
        self.bind(width=lambda w, width: setattr(w, "text_size", (width * 0.94, None)))
        flat_background(self)
        ink_only(self)
        if action is not None:
            self.bind(on_release=lambda *_: action())


class ClipScroll(ScrollView):
    """A ScrollView that costs less per frame, for screens drawn by software GL.

    It clips with a scissor rectangle instead of Kivy's stencil, which clears a buffer
    the size of the window and fills the view twice on every frame (a rotated window
    keeps the stencil: the scissor is in window pixels). Its scroll bar keeps one faint
    colour: Kivy's fade after each change of the list animates the colour for half a
    second, and every frame of that is a full redraw, in the way of the next scan.
    """

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("bar_color", FAINT)
        kw.setdefault("bar_inactive_color", FAINT)
        super().__init__(**kw)
        from kivy.core.window import Window

        if Window is None or Window.rotation:
            return
        # StencilView's rule: push (or un-use), the view's rectangle, use (or pop).
        stencil = []
        for group, start, end in (
            (self.canvas.before, StencilPush, StencilUse),
            (self.canvas.after, StencilUnUse, StencilPop),
        ):
            kids = list(group.children)
            first = next((i for i, k in enumerate(kids) if isinstance(k, start)), -1)
            last = next((i for i, k in enumerate(kids) if isinstance(k, end)), -1)
            if not 0 <= first < last <= first + 3:
                return  # not the rule we know: keep Kivy's stencil
            # (a Rectangle takes its BindTexture with it when removed)
            rule = [k for k in kids[first : last + 1] if not isinstance(k, BindTexture)]
            stencil += [(group, k) for k in rule]
        for group, k in stencil:
            group.remove(k)
        self._clip = ScissorPush()
        self.canvas.before.insert(0, self._clip)
        self.canvas.after.insert(0, ScissorPop())
        self.bind(pos=self._follow, size=self._follow)
        self._follow()

    def _bind_inactive_bar_color(self, *_: Any) -> None:
        pass  # Kivy's hook that starts the fade (see the class docstring)

    def _follow(self, *_: Any) -> None:
        x, y = self.to_window(*self.pos)
        self._clip.pos = (round(x), round(y))
        self._clip.size = (round(self.width), round(self.height))
