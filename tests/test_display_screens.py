"""The screens under a real X server (Xvfb), driven as a finger would: keys pressed on the
till, scans through the simulated serial scanner; then what is on screen is checked, in
the widget tree and in the pixels read back from the window."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from appliance.config import Config, parse_config
from appliance.display import DisplayError
from appliance.drivers.printer import SimPrinter
from appliance.loyalty.customers import (
    CustomerSummary,
    Enrolment,
    EnrolResult,
    ExpiringPoints,
    Purchase,
    Reward,
)
from appliance.sales.catalog import parse_catalog_csv
from appliance.store import Store
from demo.day import demo_catalog_text
from protocol.cards import loyalty_card
from tests.conftest import config_text

CARD = "2900000000018"  # account 00000001, first issue
YAOURT = "3760123450096"  # D5, Yaourt nature ×4


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A private Xvfb for this module; missing Xvfb fails under CI, skips elsewhere."""
    from appliance.display.xvfb import Xvfb

    try:
        x = Xvfb()
    except DisplayError as e:
        # `make test` installs Xvfb (make sysdeps): missing, the screen tests fail.
        pytest.fail(f"Xvfb is needed for the screen tests (run `make test`): {e}")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = x.display
    try:
        yield x.display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        x.close()


def make_config(tmp_path: Path, display: str) -> Config:
    data = tmp_path / "data"
    cfg = parse_config(config_text(data, display), "test")
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(parse_catalog_csv(demo_catalog_text(), 2, "demo.csv"))
    return cfg


class FakeLoyalty:
    """The collector's answers, as a test wants them."""

    def __init__(self) -> None:
        self.enrolled: list[Enrolment] = []

    async def summary(self, card: str) -> CustomerSummary:
        found = loyalty_card(card)
        assert found is not None, f"the kiosk asked with {card!r}, not a scanned card"
        return CustomerSummary(
            account=found.account,
            first_name="Zoé",
            balance=1234,
            purchases=(Purchase("2026-11-20", 1280, 12),),
            rewards=(Reward("Free baguette", 1300), Reward("Coffee", 1000)),
            expiring=(ExpiringPoints(200, "2026-12-31"),),
        )

    async def enrol(self, form: Enrolment) -> EnrolResult:
        self.enrolled.append(form)
        return EnrolResult(True, "Your card is ready at the till.", account="00000042")


def texts(widget: Any) -> list[str]:
    """Every piece of text in the widget tree, as drawn."""
    found = [widget.text] if getattr(widget, "text", "") else []
    for child in widget.children:
        found += texts(child)
    return found


def find(widget: Any, start: str, key: bool = False) -> Any:
    for w in widget.walk():
        if key and not hasattr(w, "trigger_action"):
            continue
        if isinstance(getattr(w, "text", None), str) and w.text.startswith(start):
            return w
    raise AssertionError(f"nothing on screen starts with {start!r}: {texts(widget)}")


def region(image: Image.Image, widget: Any) -> Image.Image:
    """The part of the window picture where `widget` is drawn (Kivy's y goes up)."""
    x, y = widget.to_window(*widget.pos)
    w, h = widget.size
    top = image.height - (y + h)
    return image.crop((int(x), int(top), int(x + w), int(top + h)))


def ink(image: Image.Image, near: tuple[int, int, int], tol: int = 40) -> int:
    """How many pixels are close to colour `near` (text, a lamp)."""
    raw = image.convert("RGB").tobytes()
    r, g, b = near
    return sum(
        1
        for i in range(0, len(raw), 3)
        if abs(raw[i] - r) <= tol and abs(raw[i + 1] - g) <= tol and abs(raw[i + 2] - b) <= tol
    )


class Harness:
    def __init__(self, unit: Any, screens: Any, window: Any) -> None:
        self.unit, self.screens, self.window = unit, screens, window
        self.now = 1000.0
        screens.ctx.clock = lambda: self.now

    async def settle(self) -> None:
        from appliance.display.snapshot import frames

        await self.screens.ctx.settle()
        await frames(2)

    async def press(self, start: str) -> None:
        """A finger on the key whose text starts with `start`."""
        key = find(self.screens.root, start, key=True)
        key.trigger_action(0)
        await self.settle()

    async def scan(self, code: str) -> None:
        from appliance.replay import scan_through_scanner

        outcome = await scan_through_scanner(self.unit, code)
        assert outcome.rejected is None or code == CARD, outcome
        await self.settle()

    def picture(self) -> Image.Image:
        from appliance.display.snapshot import grab

        return grab(self.window)

    def shown(self) -> list[str]:
        return texts(self.screens.root)


@asynccontextmanager
async def screens_running(
    cfg: Config, names: list[str], loyalty: Any = None
) -> AsyncIterator[Harness]:
    from appliance.display.app import Screens, build_app, open_window
    from appliance.display.snapshot import frames
    from appliance.service import open_unit

    d = cfg.display
    window = open_window(cfg, d.width, d.height)
    async with open_unit(cfg, simulate=True) as unit:
        assert await unit.scanner_connected()
        screens = Screens(unit, names, loyalty=loyalty, width=d.width, height=d.height)
        app = build_app(screens)
        task = asyncio.ensure_future(app.async_run(async_lib="asyncio"))
        try:
            await frames(3)
            yield Harness(unit, screens, window)
        finally:
            screens.detach()
            app.stop()
            await asyncio.gather(task, return_exceptions=True)


def fr_config(tmp_path: Path) -> Config:
    # two 800×480 panels side by side in one window
    extra = '[display]\nlocale = "fr_FR"\nscreens = ["till", "customer"]\nwidth = 1600\n'
    extra += 'favourites = ["B1", "B2", "D3"]\n'
    return make_config(tmp_path, extra)


async def test_a_sale_on_the_till_shows_on_both_screens(x_display: str, tmp_path: Path) -> None:
    cfg = fr_config(tmp_path)
    async with screens_running(cfg, ["till", "customer"]) as h:
        assert h.screens.till.panel == "login"
        assert "PIN  " in h.shown()
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        assert h.unit.till.view().staff is not None
        await h.press("Baguette tradition")  # a favourite, from the product grid
        await h.scan(YAOURT)  # through the serial scanner's real read path
        await h.press("Qty")
        await h.press("3")
        await h.press("OK")
        view = h.unit.till.view()
        assert [(ln.name, ln.qty) for ln in view.lines] == [
            ("Baguette tradition", 1),
            ("Yaourt nature ×4", 3),
        ]
        shown = h.shown()
        # 1,20 + 3 × 1,65 = 6,15 €, in French format, on both screens
        assert "Total  6,15\xa0€" in shown
        assert h.screens.customer.frame.phase == "basket"
        customer = texts(h.screens.customer)
        assert "3 × Yaourt nature ×4" in customer and "Total  6,15\xa0€" in customer
        image = h.picture()
        total = find(h.screens.customer, "Total  6,15")
        assert ink(region(image, total), (26, 28, 33)) > 500  # the big total is drawn

        await h.press("Pay 6,15")
        assert h.screens.till.panel == "tender"
        await h.press("10,00\xa0€")  # a quick cash key
        assert h.screens.till.panel == "change"
        assert "3,85\xa0€" in h.shown()
        sale = h.unit.store.by_seq(h.unit.store.last_seq())
        assert sale is not None and sale.total == 615 and sale.change == 385
        assert h.screens.customer.frame.phase == "thanks"
        assert "Your change  3,85\xa0€" in texts(h.screens.customer)
        image = h.picture()
        big = find(h.screens.till, "3,85")
        assert big.font_size >= 80 and ink(region(image, big), (26, 28, 33)) > 1500
        # The thank-you gives way to the idle screen (no basket, no name) after a while.
        h.now += 60
        h.screens.tick()
        await h.settle()
        assert h.screens.customer.frame.phase == "idle"
        assert not any("€" in t for t in texts(h.screens.customer))


async def test_faults_are_shown_with_what_to_do(x_display: str, tmp_path: Path) -> None:
    cfg = fr_config(tmp_path)
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        h.unit.printer.paper_out()
        await h.press("Baguette tradition")
        await h.press("Pay")
        await h.press("Exact")
        # the print queue meets the empty roll and says so
        for _ in range(200):
            if h.unit.print_queue.state == "paper_out":
                break
            await asyncio.sleep(0.02)
        assert h.unit.sim_scanner is not None
        h.unit.sim_scanner.unplug()
        for _ in range(200):
            if h.unit.scanner is not None and h.unit.scanner.state == "unplugged":
                break
            await asyncio.sleep(0.02)
        h.screens.ctx.changed()
        await h.settle()
        till = h.screens.till
        assert till.lamps["printer"].text.startswith("Printer out of paper")
        assert till.lamps["scanner"].text == "Scanner unplugged"
        assert "Load a new roll" in till.notice.text
        image = h.picture()
        red = (199, 31, 31)
        assert ink(region(image, till.lamps["printer"]), red) > 0.5 * (
            till.lamps["printer"].width * till.lamps["printer"].height
        )
        assert ink(region(image, till.lamps["drawer"]), red) == 0


async def test_a_till_out_of_service_says_why_and_takes_nothing(
    x_display: str, tmp_path: Path
) -> None:
    cfg = fr_config(tmp_path)
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        h.unit.controller.put_out_of_service("journal.db fails SQLite's integrity check (x)")
        await h.press("Baguette tradition")
        h.screens.ctx.changed()
        await h.settle()
        till = h.screens.till
        assert "the till is out of service: journal.db fails" in till.notice.text
        assert h.unit.till.view().lines == ()
        image = h.picture()
        image.save(tmp_path / "out-of-service.png")
        red = (199, 31, 31)
        assert ink(region(image, till.notice), red) > 0.3 * till.notice.width * till.notice.height


async def test_refund_by_receipt_number_and_no_sale(x_display: str, tmp_path: Path) -> None:
    cfg = fr_config(tmp_path)
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        await h.press("Baguette tradition")
        await h.press("Croissant au beurre")
        await h.press("Pay")
        await h.press("Exact")
        sale = h.unit.store.by_seq(h.unit.store.last_seq())
        assert sale is not None
        await h.press("Next customer")
        await h.press("More")
        await h.press("Refund")
        from kivy.uix.textinput import TextInput

        # a keyboard-wedge scanner types the receipt's barcode into the field, then Enter
        field = next(w for w in h.screens.till.walk() if isinstance(w, TextInput))
        field.text = sale.receipt_no
        field.dispatch("on_text_validate")
        await h.settle()
        assert f"Receipt {sale.receipt_no}  ·  2,30\xa0€" in h.shown()
        await h.press("2. 1 × Croissant")
        await h.press("Refund lines 2")
        refund = h.unit.store.by_seq(h.unit.store.last_seq())
        assert refund is not None and refund.kind == "refund" and refund.total == -110
        assert "Give back to the customer" in h.shown() and "1,10\xa0€" in h.shown()
        await h.press("Next customer")
        await h.press("More")
        await h.press("No sale")
        await h.press("Float check")
        record = h.unit.store.by_seq(h.unit.store.last_seq())
        assert record is not None and record.kind == "no_sale"
        assert record.reason == "Float check"
        await h.press("More")
        await h.press("X report")
        assert any("X REPORT" in t for t in h.shown())


async def test_kiosk_shows_one_customer_then_forgets_them(x_display: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, '[display]\nscreens = ["kiosk"]\nkiosk_timeout = 20.0\n')
    loyalty = FakeLoyalty()
    async with screens_running(cfg, ["kiosk"], loyalty) as h:
        assert "Scan your loyalty card" in h.shown()
        await h.scan(CARD)
        shown = h.shown()
        assert "Hello Zoé" in shown and "1,234 points" in shown
        assert "Coffee: yours now!" in shown and "Free baguette: 66 more points" in shown
        assert "200 points expire on 2026-12-31" in shown
        assert any(t.startswith("2026-11-20   €12.80") for t in shown)
        # The lists stack at the top of their panels, one line high each, not spread out.
        head, row = find(h.screens.root, "Your last purchases"), find(h.screens.root, "2026-11-20")
        assert row.height < 40 and head.y - row.top < 5
        reward = find(h.screens.root, "Coffee: yours now!")
        assert reward.height == row.height and reward.top > h.screens.kiosk.height / 3
        image = h.picture()
        hello = find(h.screens.root, "Hello Zoé")
        assert ink(region(image, hello), (255, 255, 255)) > 200  # white text on the banner
        h.now += 19
        h.screens.tick()
        assert "Hello Zoé" in h.shown()
        h.now += 2
        h.screens.tick()
        await h.settle()
        shown = h.shown()
        assert "Scan your loyalty card" in shown
        assert not any("Zoé" in t or "1,234" in t for t in shown)
        assert h.screens.kiosk.session.customer is None
        # Enrolment: terms are required; the marketing opt-in is the customer's choice.
        await h.press("No card yet?")
        from kivy.uix.textinput import TextInput

        for key, value in (("first_names", "Zoé"), ("surname", "Lefèvre")):
            h.screens.kiosk.fields[key].text = value
        await h.press("Join")
        assert "please accept the terms" in " ".join(h.shown())
        assert loyalty.enrolled == []
        await h.press("OK")
        await h.press("No card yet?")
        fields = [w for w in h.screens.root.walk() if isinstance(w, TextInput)]
        assert all(f.text == "" for f in fields)  # nothing left from the last person
        h.screens.kiosk.fields["first_names"].text = "Zoé"
        h.screens.kiosk.fields["surname"].text = "Lefèvre"
        h.screens.kiosk.ticks["terms"].active = True
        await h.press("Join")
        assert loyalty.enrolled[0].consent is False and loyalty.enrolled[0].terms_accepted
        assert any("Welcome, Zoé! Your account is 00000042" in t for t in h.shown())


async def test_a_scan_is_drawn_at_once_in_rows_that_are_reused(
    x_display: str, tmp_path: Path
) -> None:
    cfg = fr_config(tmp_path)
    async with screens_running(cfg, ["till", "customer"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        await h.scan(YAOURT)
        customer, till = h.screens.customer, h.screens.till
        first, till_first = customer.basket.rows[1], till.basket.rows[0]
        drawn: list[list[str]] = []
        h.window.bind(on_flip=lambda *_: drawn.append(texts(customer)))
        assert h.unit.sim_scanner is not None
        h.unit.sim_scanner.scan("3760123450010")  # Baguette tradition, line 2
        for _ in range(500):
            if len(h.unit.till.view().lines) == 2:
                break
            await asyncio.sleep(0.002)
        # The scan was handled in this loop turn; its frame is flipped in the next one,
        # not at the Kivy clock's next frame.
        await asyncio.sleep(0)
        assert drawn and "Baguette tradition" in drawn[-1] and "Total  2,85\xa0€" in drawn[-1]
        await h.settle()
        # A short list on the till starts at the top of its box.
        scroll = till.basket.scroll
        top = scroll.to_window(*scroll.pos)[1] + scroll.height
        assert abs(till_first.to_window(*till_first.pos)[1] + till_first.height - top) <= 1
        for _ in range(9):
            await h.scan("3760123450010")
        # Eleven lines: the last eight shown, in the same eight rows, the first ones counted.
        shown = texts(customer)
        assert "… and 3 more above" in shown and "Yaourt nature ×4" not in shown
        rows = customer.basket.rows
        assert len(rows) == 8 and len(rows) + len(customer.basket.spare) == 8
        assert first in rows.values()
        assert till.basket.rows[0] is till_first and len(till.basket.rows) == 11
        # More lines than the till's list holds: it has scrolled to show the newest one.
        newest = till.basket.rows[-1]
        bottom = scroll.to_window(*scroll.pos)[1]
        middle = newest.to_window(*newest.pos)[1] + newest.height / 2
        assert bottom < middle < bottom + scroll.height
        assert till.basket.rows[0].to_window(*till.basket.rows[0].pos)[1] > bottom + scroll.height
        # The lines scrolled out of the list are clipped: the lamp above it is drawn whole.
        lamp = till.lamps["network"]
        assert scroll.x < lamp.x < scroll.right
        assert ink(region(h.picture(), lamp), (31, 140, 64)) > 0.7 * lamp.width * lamp.height
        # A quantity change rewrites that line's row only; the row stays the same widget.
        last = rows[11]
        await h.press("Qty")
        await h.press("2")
        await h.press("OK")
        assert customer.basket.rows[11] is last and last.total.text == "2,40\xa0€"
        assert "2 × Baguette tradition" in texts(customer)
        # The sale ends: the rows are blanked and kept for the next customer.
        await h.press("Cancel")
        assert customer.frame is not None and customer.frame.phase == "idle"
        assert all(r.name.text == "" for r in customer.basket.spare)
        # The next sale's first line is at the top of the till's list again.
        await h.scan(YAOURT)
        row = till.basket.rows[0]
        assert abs(row.to_window(*row.pos)[1] + row.height - top) <= 1


async def test_a_long_category_pages_and_search_has_a_touch_keyboard(
    x_display: str, tmp_path: Path
) -> None:
    """25 pens in one category: the grid shows ten at a time with "More ›" and "‹ Back",
    every pen reachable by touch; touching the search field docks a keyboard."""
    cfg = make_config(tmp_path, '[display]\nlocale = "fr_FR"\n')
    pens = "\n".join(f"P{n:02d},,Pen {n:02d},1.00,20,Pens,10" for n in range(1, 26))
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        csv = demo_catalog_text().rstrip("\n") + "\n" + pens + "\n"
        store.catalog.replace(parse_catalog_csv(csv, 2, "demo.csv"))
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        await h.press("Pens")
        seen: list[str] = []
        for page in (1, 2, 3):
            names = [t.split("\n")[0] for t in h.shown() if t.startswith("Pen ")]
            assert len(names) == (10 if page < 3 else 5)
            seen += names
            if page < 3:
                assert f"More ›\n{page}/3" in h.shown()
                await h.press("More ›")
        assert sorted(seen) == [f"Pen {n:02d}" for n in range(1, 26)]  # each once
        assert not any(t.startswith("More ›") for t in h.shown())
        await h.press("‹ Back")
        await h.press("Pen 20")
        assert [ln.name for ln in h.unit.till.view().lines] == ["Pen 20"]

        from kivy.core.window import Window
        from kivy.uix.textinput import TextInput
        from kivy.uix.vkeyboard import VKeyboard

        field = next(w for w in h.screens.till.walk() if isinstance(w, TextInput))
        assert not any(isinstance(w, VKeyboard) for w in Window.children)
        field.focus = True
        await h.settle()
        assert any(isinstance(w, VKeyboard) for w in Window.children)


async def test_category_tabs_that_do_not_fit_have_arrows_and_keep_the_choice_in_view(
    x_display: str, tmp_path: Path
) -> None:
    """Fourteen categories on an 800-pixel till: "‹" and "›" appear at the ends of the
    tab row and turn it a page at a time (each dimmed at its end); a tab chosen far to
    the right is still in view after the screen is rebuilt for it."""
    cfg = make_config(tmp_path, "")
    extra = "\n".join(f"X{n:02d},,Thing {n:02d},1.00,20,Aisle {n:02d},5" for n in range(1, 11))
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        csv = demo_catalog_text().rstrip("\n") + "\n" + extra + "\n"
        store.catalog.replace(parse_catalog_csv(csv, 2, "demo.csv"))
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        till = h.screens.till

        def bar() -> tuple[Any, Any, Any]:
            back = next(w for w in till.walk() if getattr(w, "text", None) == "‹")
            ahead = next(w for w in till.walk() if getattr(w, "text", None) == "›")
            tabs = next(w for w in back.parent.children if w not in (back, ahead))
            return back, tabs, ahead

        def in_view(tab: str) -> bool:
            _, tabs, _ = bar()
            key = find(tabs, tab, key=True)
            left = key.to_window(*key.pos)[0]
            start = tabs.to_window(*tabs.pos)[0]
            return start - 1 <= left and left + key.width <= start + tabs.width + 1

        back, tabs, ahead = bar()
        assert back.width > 0 and ahead.width > 0
        assert back.disabled and not ahead.disabled  # at the start
        assert not in_view("Aisle 10")
        ahead.trigger_action(0)
        await h.settle()
        back, tabs, ahead = bar()
        assert tabs.scroll_x > 0 and not back.disabled
        for _ in range(10):  # to the end of the row
            if ahead.disabled:
                break
            ahead.trigger_action(0)
            await h.settle()
        assert ahead.disabled and tabs.scroll_x == 1
        await h.press("Aisle 10")
        assert any(t.startswith("Thing 10") for t in h.shown())
        # Rebuilt for the choice, the row shows the tab chosen, not its start.
        first = till.model.categories(h.unit.till.catalog)[0]
        assert in_view("Aisle 10") and not in_view(first)
        h.window.screenshot(name=str(tmp_path / "tabs.png"))
    shot = sorted(tmp_path.glob("tabs*.png"))
    assert shot, "no screenshot"
    print("screenshot:", shot[-1])


async def test_category_tabs_that_fit_have_no_arrows(x_display: str, tmp_path: Path) -> None:
    """Two categories fit: no "‹" or "›" in the bar (not even a border's sliver)."""
    cfg = make_config(tmp_path, "")
    csv = (
        "sku,barcode,name,price,tax_rate,category\n"
        "A1,,Apple,0.50,5.5,Fruit\nB1,,Bread,1.20,5.5,Bakery\n"
    )
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(parse_catalog_csv(csv, 2, "two.csv"))
    async with screens_running(cfg, ["till"]) as h:
        await h.press("Set-up (supervisor)")
        await h.press("Log in")
        shown = h.shown()
        assert "Fruit" in shown and "Bakery" in shown
        assert "‹" not in shown and "›" not in shown


NAMES = ["Ana", "Bruno", "Chloé", "David", "Élodie", "Farid", "Gaëlle", "Hugo", "Inès"]
NAMES += ["Jules", "Karima", "Léo", "Manon", "Marie", "Nadia"]


def roster_config(
    tmp_path: Path, supervisors: tuple[str, ...] = ("Marie", "Nadia"), extra: str = ""
) -> Config:
    """Fifteen staff (PIN 1234, supervisors 9999), the fifteenth Nadia, a supervisor."""
    from appliance.sales.staff import hash_pin

    pins = {"cashier": hash_pin("1234"), "supervisor": hash_pin("9999")}
    staff = ""
    for n, name in enumerate(NAMES, 1):
        role = "supervisor" if name in supervisors else "cashier"
        staff += f'[[staff]]\nid = "s{n:02d}"\nname = "{name}"\nrole = "{role}"\n'
        staff += f'pin_hash = "{pins[role]}"\n'
    return make_config(tmp_path, '[display]\nlocale = "fr_FR"\n' + extra + staff)


async def log_in_by_touch(h: Harness, name: str, pin: str) -> None:
    """Turn the login panel's pages until `name` shows, touch it, type the PIN, log in."""
    for _ in range(len(NAMES)):
        if name in h.shown():
            break
        await h.press("More ›")
    await h.press(name)
    for digit in pin:
        await h.press(digit)
    await h.press("Log in")


async def test_every_one_of_fifteen_staff_can_log_in_by_touch(
    x_display: str, tmp_path: Path
) -> None:
    cfg = roster_config(tmp_path)
    async with screens_running(cfg, ["till"]) as h:
        shown = h.shown()
        assert [n for n in NAMES if n in shown] == NAMES[:5] and "More ›\n1/3" in shown
        assert "‹ Back" not in shown
        await h.press("More ›")
        assert [n for n in NAMES if n in h.shown()] == NAMES[5:10]
        await h.press("More ›")
        shown = h.shown()
        assert [n for n in NAMES if n in shown] == NAMES[10:] and "‹ Back" in shown
        assert not any(t.startswith("More ›") for t in shown)  # the last page
        await h.press("Nadia")
        for digit in "9999":
            await h.press(digit)
        assert "PIN  ●●●●" in h.shown()
        await h.press("Log in")
        staff = h.unit.till.view().staff
        assert staff is not None and (staff.id, staff.name) == ("s15", "Nadia")
        assert h.screens.till.panel == "sell"
        # The page keys sit at the bottom of the names' column, under the last name.
        await h.press("More…")
        await h.press("Log out")
        assert h.screens.till.panel == "login"
        back, first = find(h.screens.root, "‹ Back", key=True), find(h.screens.root, "Manon")
        assert back.top <= first.y


async def test_line_twenty_of_a_long_sale_is_refunded_by_touch(
    x_display: str, tmp_path: Path
) -> None:
    cfg = roster_config(tmp_path)
    async with screens_running(cfg, ["till"]) as h:
        await log_in_by_touch(h, "Nadia", "9999")
        ctl = h.unit.controller
        skus = ["B1", "B2", "B3", "D1", "D2"] * 3 + ["F1", "W1", "B1", "B2", "D5"]
        for sku in skus:
            await ctl.handle({"op": "key", "sku": sku, "qty": 1})
        sale = (await ctl.handle({"op": "tender", "type": "card", "ref": "T1"})).record
        assert sale is not None and len(sale.lines) == 20
        await h.settle()
        await h.press("Next customer")
        await h.press("More")
        await h.press("Refund")
        from kivy.uix.textinput import TextInput

        field = next(w for w in h.screens.till.walk() if isinstance(w, TextInput))
        field.text = sale.receipt_no
        field.dispatch("on_text_validate")
        await h.settle()
        lines = sorted(int(t.split(".")[0]) for t in h.shown() if t[:2].rstrip(".").isdigit())
        assert lines == list(range(1, 8)) and "More ›\n1/3" in h.shown()
        await h.press("More ›")
        await h.press("More ›")
        shown = h.shown()
        assert any(t.startswith("20. 1 × Yaourt") for t in shown)
        assert not any(t.startswith("1. ") for t in shown)
        await h.press("20. ")
        await h.press("Refund lines 20")
        refund = h.unit.store.by_seq(h.unit.store.last_seq())
        assert refund is not None and refund.kind == "refund"
        assert refund.refund_lines == [20] and refund.total == -sale.lines[19].total
        assert h.screens.till.panel == "change"


async def test_a_cashier_reprints_and_refunds_with_a_supervisors_approval_by_touch(
    x_display: str, tmp_path: Path
) -> None:
    """Ana (a cashier) finds the last receipt on the refund panel; Reprint and Refund each
    go to the approval panel, where Marie (a supervisor) touches her name and types her
    PIN; the copy comes out of the printer marked COPY, the refund names its approver."""
    cfg = roster_config(tmp_path)
    paper = cfg.data_dir / "printer.bin"
    async with screens_running(cfg, ["till"]) as h:
        await log_in_by_touch(h, "Ana", "1234")
        ctl = h.unit.controller
        await ctl.handle({"op": "key", "sku": "B1", "qty": 1})
        await ctl.handle({"op": "key", "sku": "B2", "qty": 1})
        sale = (await ctl.handle({"op": "tender", "type": "card", "ref": "T1"})).record
        assert sale is not None
        assert await h.unit.drain_printer()
        printed = paper.read_bytes()
        await h.settle()
        await h.press("Next customer")
        await h.press("More…")
        await h.press("Refund or reprint")
        await h.press("Last receipt")
        assert f"Receipt {sale.receipt_no}  ·  2,30\xa0€" in h.shown()
        await h.press("Reprint")
        till = h.screens.till
        assert till.panel == "approve"
        assert f"A copy of receipt {sale.receipt_no}" in h.shown()
        assert "Ana" not in h.shown()  # supervisors only
        await h.press("Marie")
        for digit in "9999":
            await h.press(digit)
        await h.press("Approve")
        assert till.panel == "refund"
        assert till.notice.text == f"A copy of receipt {sale.receipt_no} is printing"
        green = ink(region(h.picture(), till.notice), (31, 140, 64))
        assert green > 0.5 * till.notice.width * till.notice.height
        assert await h.unit.drain_printer()
        copy = paper.read_bytes()[len(printed) :]
        assert copy.count(b"COPY") == 2 and b"COPY" not in printed
        assert copy == (cfg.data_dir / "receipts" / f"{sale.receipt_no}-copy-1.bin").read_bytes()
        reprinted = next(e for e in h.unit.events if e.kind == "receipt.reprinted")
        assert reprinted.detail["staff"] == "s01" and reprinted.detail["approved_by"] == "s14"

        await h.press("1. 1 × Baguette")
        await h.press("Refund lines 1")
        assert till.panel == "approve" and h.unit.store.last_seq() == sale.seq
        assert f"Refund of line 1 of receipt {sale.receipt_no}" in h.shown()
        await h.press("Marie")
        for digit in "1111":
            await h.press(digit)
        await h.press("Approve")
        assert till.panel == "approve" and till.notice.text == (
            "wrong PIN for s14; try again (9 more lock s14)"
        )
        for digit in "9999":
            await h.press(digit)
        await h.press("Approve")
        refund = h.unit.store.by_seq(h.unit.store.last_seq())
        assert refund is not None and refund.kind == "refund"
        assert refund.approved_by == "s14" and refund.staff == "s01"
        assert till.panel == "change" and "Give back to the customer" in h.shown()
        assert h.unit.till.view().approval is None  # used up by the refund


async def test_a_name_locked_after_wrong_pins_is_unlocked_by_a_supervisor_by_touch(
    x_display: str, tmp_path: Path
) -> None:
    """Two wrong PINs lock Ana: the notice says so in red and her name is marked; her
    right PIN then goes to the approval panel, not to the till; Marie unlocks her there
    (nobody is logged in) and Ana logs in."""
    cfg = roster_config(tmp_path, extra="[till]\npin_tries = 5\npin_lockout = 2\n")
    async with screens_running(cfg, ["till"]) as h:
        till = h.screens.till
        await log_in_by_touch(h, "Ana", "0000")
        assert till.notice.text == "wrong PIN for s01; try again (1 more lock s01)"
        await log_in_by_touch(h, "Ana", "1111")
        assert till.notice.text == (
            "wrong PIN for s01: s01 is now locked after 2 wrong PINs; a supervisor must unlock it"
        )
        assert "Ana (locked)" in h.shown() and h.unit.till.view().locked == {"s01"}
        image = h.picture()
        image.save(tmp_path / "locked.png")
        red = (199, 31, 31)
        assert ink(region(image, till.notice), red) > 0.3 * till.notice.width * till.notice.height
        await log_in_by_touch(h, "Ana (locked)", "1234")
        assert till.panel == "approve" and h.unit.till.view().staff is None
        assert "Unlock Ana, locked after wrong PINs" in h.shown()
        await h.press("Marie")
        for digit in "9999":
            await h.press(digit)
        await h.press("Approve")
        assert till.panel == "login" and till.notice.text == "s01 can log in again"
        assert "Ana (locked)" not in h.shown()
        await log_in_by_touch(h, "Ana", "1234")
        staff = h.unit.till.view().staff
        assert staff is not None and staff.id == "s01" and till.panel == "sell"
        kinds = [
            (e.kind, e.detail.get("staff")) for e in h.unit.events if e.kind.startswith("staff.")
        ]
        assert kinds == [
            ("staff.pin_failed", "s01"),
            ("staff.pin_failed", "s01"),
            ("staff.locked", "s01"),
            ("staff.unlocked", "s01"),
        ]


async def test_receipts_not_printed_are_listed_and_a_copy_printed_by_touch(
    x_display: str, tmp_path: Path
) -> None:
    """Three receipts the print queue held after an outage (too old to print by
    themselves): the printer lamp says so in amber, More… lists them, and Ana (a cashier)
    touches one: Marie approves, the copy comes out marked COPY, the list shows two."""
    cfg = roster_config(tmp_path)
    paper = cfg.data_dir / "printer.bin"
    async with screens_running(cfg, ["till"]) as h:
        await log_in_by_touch(h, "Ana", "1234")
        ctl, jobs = h.unit.controller, h.unit.store.print_jobs
        assert isinstance(h.unit.printer, SimPrinter)
        h.unit.printer.unplug()
        sold = []
        for ref in ("T1", "T2", "T3"):
            await ctl.handle({"op": "key", "sku": "B1", "qty": 1})
            sale = (await ctl.handle({"op": "tender", "type": "card", "ref": ref})).record
            assert sale is not None
            sold.append(sale.receipt_no)
        # What the queue does once they are older than print_max_age.
        assert jobs.hold([j.job_id for j in jobs.pending()], "older than 600 s") == 3
        h.unit.printer.replug()
        h.unit.print_queue.wake()  # nothing to print: it asks the printer how it is
        for _ in range(200):
            if h.unit.print_queue.state == "ok":
                break
            await asyncio.sleep(0.02)
        await h.press("Next customer")
        till = h.screens.till
        assert till.lamps["printer"].text == "3 not printed"
        assert till.notice.text.startswith("3 not printed: receipts too old to print by")
        lamp = region(h.picture(), till.lamps["printer"])
        amber = (217, 140, 13)  # kit.WARN
        assert ink(lamp, amber) > 0.5 * lamp.width * lamp.height
        h.picture().save(tmp_path / "sell.png")
        await h.press("More…")
        h.picture().save(tmp_path / "more.png")
        await h.press("Not printed (3)")
        assert till.panel == "unprinted" and "3 receipts not printed" in h.shown()
        h.picture().save(tmp_path / "unprinted.png")
        await h.press(sold[1])
        assert till.panel == "approve" and f"A copy of receipt {sold[1]}" in h.shown()
        await h.press("Marie")
        for digit in "9999":
            await h.press(digit)
        await h.press("Approve")
        assert till.panel == "unprinted"
        assert till.notice.text == f"A copy of receipt {sold[1]} is printing"
        assert await h.unit.drain_printer()
        await h.settle()
        assert "2 receipts not printed" in h.shown()
        assert not [t for t in h.shown() if t.startswith(sold[1])]
        assert till.lamps["printer"].text == "2 not printed"
        h.picture().save(tmp_path / "unprinted-after.png")
    out = paper.read_bytes()
    assert out.count(b"\x1dV\x00") == 1  # one cut: the copy, and nothing else
    assert out.count(b"COPY") == 2 and sold[1].encode() in out
