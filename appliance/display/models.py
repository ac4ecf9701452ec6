"""What the customer display and the kiosk show, decided without Kivy.

The Kivy screens only draw these; the decisions (which phase, when to go back to the
start screen, what to forget) are plain code with a clock passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from appliance.loyalty.customers import CustomerSummary
from appliance.sales.till import TillLine, TillView
from protocol.record import Record

CustomerPhase = Literal["idle", "basket", "thanks"]


@dataclass(frozen=True)
class CustomerFrame:
    """One state of the customer display."""

    phase: CustomerPhase
    lines: tuple[TillLine, ...] = ()
    total: int = 0
    paid: int = 0
    due: int = 0
    change: int = 0
    customer: CustomerSummary | None = None
    earned: int | None = None  # points earned on the sale just finished


@dataclass
class CustomerModel:
    """Turns the till's view and finished sales into what the customer sees.

    After a sale the thank-you (with the change) stays up for `thanks_for` seconds, or
    until the next item goes in; then the idle screen with logo and promotions.
    """

    thanks_for: float = 8.0
    _finished: Record | None = None
    _finished_at: float = 0.0
    _customer: CustomerSummary | None = field(default=None)

    def sale_finished(self, record: Record, now: float) -> None:
        if record.kind == "sale":
            self._finished, self._finished_at = record, now

    def frame(self, view: TillView, now: float) -> CustomerFrame:
        loyalty = view.loyalty
        customer: CustomerSummary | None = None
        if loyalty is not None:
            # The till asked the collector when the card was scanned: its answer (name,
            # balance) is on the sale already, so the display asks nothing more. The same
            # card read again offline has no name: the one this sale greeted with stays.
            known = self._customer
            name = known.first_name if known and known.account == loyalty.account else None
            customer = CustomerSummary(
                loyalty.account,
                first_name=loyalty.first_name or name,
                balance=loyalty.balance,
                offline=loyalty.offline,
            )
        if view.state != "idle":
            if customer is not None:
                self._customer = customer  # for the thank-you, once the sale is gone
            self._finished = None
            return CustomerFrame(
                "basket",
                view.lines,
                view.total,
                view.paid,
                view.due,
                customer=customer,
            )
        rec = self._finished
        if rec is not None and now - self._finished_at < self.thanks_for:
            lo = rec.loyalty
            return CustomerFrame(
                "thanks",
                total=rec.total,
                paid=sum(t.amount for t in rec.tenders),
                change=rec.change,
                customer=self._customer if lo else None,
                earned=lo.earned if lo else None,
            )
        # Nobody's name stays on a screen the next customer can see.
        self._finished, self._customer = None, None
        return CustomerFrame("idle")


KioskPhase = Literal["start", "customer", "enrol", "message"]


@dataclass
class KioskSession:
    """One customer at the kiosk, forgotten entirely on timeout or when they finish."""

    timeout: float = 30.0
    phase: KioskPhase = "start"
    customer: CustomerSummary | None = None
    message: str = ""
    _last: float = 0.0

    def show(self, customer: CustomerSummary, now: float) -> None:
        self.phase, self.customer, self.message, self._last = "customer", customer, "", now

    def enrol(self, now: float) -> None:
        self.phase, self.customer, self.message, self._last = "enrol", None, "", now

    def tell(self, message: str, now: float) -> None:
        self.phase, self.customer, self.message, self._last = "message", None, message, now

    def touch(self, now: float) -> None:
        self._last = now

    def tick(self, now: float) -> bool:
        """Back to the start once idle for `timeout`; True when that just happened."""
        if self.phase != "start" and now - self._last >= self.timeout:
            self.reset()
            return True
        return False

    def reset(self) -> None:
        self.phase, self.customer, self.message = "start", None, ""


def quick_cash(due: int, exponent: int) -> list[int]:
    """Note amounts a customer is likely to hand over for `due` (minor units), up to three."""
    unit = 10**exponent
    out: list[int] = []
    for note in (5, 10, 20, 50, 100):
        step = note * unit
        amount = ((due + step - 1) // step) * step
        if amount > due and amount not in out:
            out.append(amount)
    return out[:3]
