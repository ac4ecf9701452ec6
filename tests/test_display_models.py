"""What the screens decide without Kivy: money text, lights, customer phases, kiosk time-out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from appliance.display.formatting import LocaleError, MoneyText
from appliance.display.models import CustomerModel, KioskSession, quick_cash
from appliance.display.status import (
    journal_light,
    network_light,
    printer_light,
    scanner_light,
    worst,
)
from appliance.loyalty.customers import CustomerSummary, Enrolment, OfflineLoyalty
from appliance.sales.till import TillLine, TillLoyalty, TillView
from tests.records import sale


def view(state: str = "idle", lines: int = 0, loyalty: TillLoyalty | None = None) -> TillView:
    shown = tuple(TillLine(n, f"S{n}", f"Item {n}", 1, 100, 0, 100, False) for n in range(lines))
    return TillView(
        staff=None, state=state, lines=shown, subtotal=100 * lines, discount=0, tax=0,
        total=100 * lines, paid=0, due=100 * lines, cash_due=100 * lines, change=0,
        loyalty=loyalty, tenders=(),
    )  # fmt: skip


def test_money_follows_the_locale_exactly() -> None:
    assert MoneyText("EUR", 2, "fr_FR")(123456) == "1\u202f234,56\xa0€"
    assert MoneyText("GBP", 2, "en_GB")(-5) == "-£0.05"
    assert MoneyText("JPY", 0, "ja_JP")(1234) == "￥1,234"
    assert MoneyText("EUR", 2, "en_GB").number(12345) == "12,345"
    with pytest.raises(LocaleError, match=r"display\.locale"):
        MoneyText("EUR", 2, "xx_nowhere")


def test_quick_cash_offers_the_next_notes() -> None:
    assert quick_cash(615, 2) == [1000, 2000, 5000]
    assert quick_cash(1000, 2) == [2000, 5000, 10000]  # exact is its own key
    assert quick_cash(730, 0) == [740, 750, 800]


def test_lights_say_what_to_do() -> None:
    out = printer_light("paper_out", 3)
    assert out.level == "fault" and "(3 waiting)" in out.text and "new roll" in out.advice
    assert printer_light("ok", 0).level == "ok"
    assert scanner_light("unplugged").advice.startswith("Plug the scanner back in")
    offline = network_light(True, False, 12)
    assert offline.text == "Offline (12 to send)" and "kept" in offline.advice
    assert network_light(False, False, 0).level == "ok"
    assert worst([printer_light("ok", 0), offline, printer_light("paper_low", 0)]) == offline
    assert journal_light(None, 0).level == "ok"
    unsaved = journal_light(None, 2)
    assert unsaved.text == "2 sales not saved" and "no new sale" in unsaved.advice
    broken = journal_light("journal.db fails SQLite's integrity check (x)", 0)
    assert broken.level == "fault" and broken.advice.endswith("Use another till.")
    assert worst([journal_light(None, 0), offline, broken]) == offline  # the first fault
    assert worst([broken, offline]) == broken  # the journal comes first in ctx.lights()


def test_customer_display_thanks_then_forgets_the_customer() -> None:
    model = CustomerModel(thanks_for=8)
    card = TillLoyalty("00000001", 40, False, first_name="Zoé")
    basket = model.frame(view("open", 2, card), now=0)
    assert basket.phase == "basket" and basket.customer is not None
    assert basket.customer.first_name == "Zoé" and basket.total == 200
    # the same card read again with the collector away: no name on it, the greeting stays
    again = model.frame(view("open", 2, TillLoyalty("00000001", None, True)), now=0.5)
    assert again.customer is not None and again.customer.first_name == "Zoé"
    assert again.customer.offline and again.customer.balance is None
    loyalty = {"account": "00000001", "earned": 2, "redeemed": 0, "balance": None, "offline": True}
    record = sale(total=200, change=300, tenders=[{"type": "cash", "amount": 500}], loyalty=loyalty)
    model.sale_finished(record, now=1)
    thanks = model.frame(view(), now=2)
    assert (thanks.phase, thanks.change, thanks.earned) == ("thanks", 300, 2)
    assert model.frame(view(), now=9.5).phase == "idle"
    # the next customer's card must not bring back the previous one's name
    other = model.frame(view("open", 1, TillLoyalty("00000002", None, True)), now=10)
    assert other.customer is not None and other.customer.first_name is None


def test_a_new_item_ends_the_thank_you_at_once() -> None:
    model = CustomerModel()
    model.sale_finished(sale(total=1, change=0, tenders=[]), now=0)
    assert model.frame(view("open", 1), now=1).phase == "basket"
    assert model.frame(view(), now=2).phase == "idle"


def test_kiosk_times_out_to_its_start_and_forgets() -> None:
    s = KioskSession(timeout=30)
    s.show(CustomerSummary("00000001", first_name="Zoé"), now=0)
    s.touch(now=20)
    assert not s.tick(now=49) and s.customer is not None
    assert s.tick(now=50) and s.phase == "start" and s.customer is None
    assert not s.tick(now=500)


async def test_offline_loyalty_is_honest() -> None:
    lookup = OfflineLoyalty()
    summary = await lookup.summary("2900000000018")  # account 00000001
    assert summary.account == "00000001"
    assert summary.offline and summary.balance is None and summary.within_reach() == []
    result = await lookup.enrol(Enrolment("Zoé", "Lefèvre", terms_accepted=True))
    assert not result.ok and "offline" in result.message


def test_every_promotion_pushed_is_shown_in_turn(tmp_path: Path) -> None:
    from appliance.display.context import DisplayContext
    from appliance.store import DeviceState

    items: list[Any] = [{"title": f"Offer {n}", "text": f"{n} for 1"} for n in range(1, 10)]
    with DeviceState(tmp_path / "state.json") as state:
        state.put("promotions", {"items": [*items, "not a promotion"]})
    unit: Any = SimpleNamespace(cfg=SimpleNamespace(data_dir=tmp_path))
    ctx = DisplayContext(unit, MoneyText("EUR", 2, "en_GB"), OfflineLoyalty())
    assert [p["title"] for p in ctx.promotions()] == [f"Offer {n}" for n in range(1, 10)]
