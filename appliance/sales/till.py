"""The state machine of one till: basket, tenders, approvals, refunds. Pure: no I/O.

Every operation either does all it says or raises `Rejected(op, reason)` having changed
nothing: each one checks everything first and only then mutates. Operations that
complete something return a draft journal record (CONTRACT, without seq, receipt_no,
prev_hash, hash, sig) for the controller to commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from appliance.sales import barcode as bc
from appliance.sales.catalog import Catalog, Item
from appliance.sales.pins import PinGuard, PinPolicy
from appliance.sales.pricing import (
    LineInput,
    Percent,
    PricedBasket,
    PricingError,
    cash_due,
    parse_percent,
    price_basket,
    sort_rates,
    tax_row,
)
from appliance.sales.reports import shift_report
from appliance.sales.staff import Person, Rejected, Roster, WrongPin
from protocol.cards import loyalty_card
from protocol.money import format_minor
from protocol.record import (
    SCHEMA,
    Draft,
    Kind,
    Line,
    LoyaltyPart,
    Record,
    TaxRow,
    Tender,
    TenderType,
)
from protocol.timestamps import utc_stamp

__all__ = [
    "NeedsSupervisor", "Rejected", "Till", "TillLine", "TillLoyalty", "TillSettings", "TillView",
]  # fmt: skip

MAX_QTY = 9999
MAX_REASON = 200
_PAN = re.compile(r"^[0-9]{13,19}$")
_ACCOUNT = re.compile(r"^[0-9]{8}$")

State = Literal["idle", "open", "tendering"]


class NeedsSupervisor(Rejected):
    """Refused because it needs a supervisor: at the till, or their one-shot approval first
    (a screen takes the cashier to the approval panel with the operation)."""


@dataclass(frozen=True)
class TillSettings:
    """What a till needs from the config."""

    device: str
    store: str
    region: str
    currency: str
    exponent: int
    prices_include_tax: bool
    cash_rounding: int
    points_per_unit: int
    point_value: int
    offline_redeem_cap: int
    # Percent off a line, or off the basket, a cashier gives without a supervisor.
    cashier_discount_max: int = 10


@dataclass(frozen=True)
class TillLine:
    """A basket line as shown: voided lines keep their number and are shown struck."""

    number: int
    sku: str
    name: str
    qty: int
    unit_price: int
    discount: int
    total: int
    voided: bool


@dataclass(frozen=True)
class TillLoyalty:
    """The loyalty card on the sale: balance is None when the collector was not asked.
    `reservation` is the collector's hold on the points this sale redeems (online).
    `card`: the scanned card number, which the collector's questions name."""

    account: str
    balance: int | None
    offline: bool
    first_name: str | None = None
    reservation: str | None = None
    card: str | None = None


@dataclass(frozen=True)
class TillView:
    """Everything a screen shows about the till right now."""

    staff: Person | None
    state: State
    lines: tuple[TillLine, ...]
    subtotal: int  # sum of unit_price × qty of the live lines
    discount: int  # line and basket discounts
    tax: int
    total: int
    paid: int
    due: int
    cash_due: int
    change: int  # of the last completed sale, until the next one starts
    loyalty: TillLoyalty | None
    tenders: tuple[Tender, ...]
    approval: str | None = None  # the supervisor whose one-shot approval is waiting
    locked: frozenset[str] = frozenset()  # ids locked after wrong PINs (a supervisor unlocks)


@dataclass
class _Line:
    number: int
    item: Item
    qty: int
    unit_price: int
    percent: Fraction | None = None
    voided: bool = False


@dataclass
class _Sale:
    lines: list[_Line] = field(default_factory=list)
    basket_percent: Fraction | None = None
    tenders: list[Tender] = field(default_factory=list)
    loyalty: TillLoyalty | None = None
    approved_by: list[str] = field(default_factory=list)
    # Given out before completion when the collector must know the sale (a reservation).
    sale_id: str | None = None

    @property
    def live(self) -> list[_Line]:
        return [line for line in self.lines if not line.voided]

    @property
    def started(self) -> bool:
        return bool(self.lines) or self.loyalty is not None

    @property
    def paid(self) -> int:
        return sum(t.amount for t in self.tenders)

    @property
    def redeemed(self) -> int:
        return sum(t.points or 0 for t in self.tenders if t.type == "points")


class Till:
    """One till: who is logged in, the open sale, and the records it produces."""

    def __init__(
        self,
        settings: TillSettings,
        catalog: Catalog,
        roster: Roster,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        monotonic: Callable[[], float],
        pins: PinPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._catalog = catalog
        self.roster = roster
        self._clock = clock
        self._new_id = new_id
        # Seconds that only go forward (time.monotonic), for the waits after wrong PINs.
        self._monotonic = monotonic
        self.pins = PinGuard(pins)
        self._staff: Person | None = None
        self._approval: Person | None = None
        self._sale = _Sale()
        self._last_change = 0

    # -- catalog -----------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        # Swapping prices under an open basket would change lines the customer has seen.
        if self._sale.started:
            raise Rejected("catalog", "a sale is open; finish or cancel it before a new catalog")
        self._catalog = catalog

    # -- guards --------------------------------------------------------------------------
    def _need_staff(self, op: str) -> Person:
        if self._staff is None:
            raise Rejected(op, "nobody is logged in; log in first")
        return self._staff

    def _need_basket_change(self, op: str) -> None:
        self._need_staff(op)
        if self._sale.tenders:
            raise Rejected(op, "payment has started; the basket cannot change now (cancel?)")

    def _need_idle(self, op: str) -> None:
        if self._sale.started:
            raise Rejected(op, "a sale is open; finish or cancel it first")

    def _restricted(self, op: str, what: str | None = None) -> Person | None:
        """The approval this op will use (None when a supervisor is logged in)."""
        staff = self._need_staff(op)
        if staff.is_supervisor:
            return None
        if self._approval is None:
            raise NeedsSupervisor(op, f"{what or op} needs a supervisor; ask one to approve first")
        return self._approval

    def _note_approval(self, approval: Person | None) -> None:
        """Use up `approval` for a change to the open sale; its record names the approver."""
        who = self._use_approval(approval)
        if who is not None and who not in self._sale.approved_by:
            self._sale.approved_by.append(who)

    def _use_approval(self, approval: Person | None) -> str | None:
        if approval is None:
            return None
        self._approval = None
        return approval.id

    def _line(self, op: str, number: int | None) -> _Line:
        lines = self._sale.lines
        if not lines:
            raise Rejected(op, "the basket is empty")
        if number is None:
            line = lines[-1]
        elif (
            isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(lines)
        ):
            raise Rejected(op, f"there is no line {number}; lines are 1 to {len(lines)}")
        else:
            line = lines[number - 1]
        if line.voided:
            raise Rejected(op, f"line {line.number} is voided")
        return line

    @staticmethod
    def _qty(op: str, qty: int) -> int:
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QTY:
            raise Rejected(op, f"quantity {qty} must be a whole number from 1 to {MAX_QTY}")
        return qty

    @staticmethod
    def _percent(op: str, percent: Percent) -> Fraction:
        try:
            return parse_percent(percent)
        except PricingError as e:
            raise Rejected(op, str(e)) from e

    def _money(self, amount: int) -> str:
        return format_minor(amount, self.settings.exponent)

    # -- staff ---------------------------------------------------------------------------
    def _authenticate(self, op: str, staff: str, pin: str | None) -> Person:
        """The roster's answer, with the wrong-PIN limits around it (appliance.sales.pins):
        a try refused for a wait or a lock is refused before the PIN is looked at; a wrong
        PIN or an unknown id is counted. An open till has no PINs and no limits."""
        roster = self.roster
        if roster.open or not roster.well_formed(staff):
            return roster.authenticate(staff, pin, op)
        now = self._monotonic()
        known = staff if staff in roster else None
        self.pins.check(op, known, now)
        try:
            person = roster.authenticate(staff, pin, op)
        except WrongPin as e:
            raise self.pins.failed(op, known, now, e.reason) from None
        self.pins.succeeded(person.id, person.is_supervisor)
        return person

    def login(self, staff: str, pin: str | None = None) -> Person:
        """Log `staff` in (a new person may take over an idle till)."""
        if self._sale.started:
            raise Rejected("login", "a sale is open; finish or cancel it first")
        person = self._authenticate("login", staff, pin)
        self._staff, self._approval = person, None
        return person

    def logout(self) -> None:
        """Log out; an open basket without payments is cancelled."""
        self._need_staff("logout")
        if self._sale.tenders:
            raise Rejected("logout", "payment has started; finish the sale first")
        self._sale = _Sale()
        self._staff, self._approval = None, None

    def approve(self, staff: str, pin: str | None = None, unlock: str | None = None) -> Person:
        """A supervisor's one-shot approval for the next restricted operation; with
        `unlock`, instead, the supervisor clears that id's wrong PINs and lock (also when
        nobody is logged in: the locked one cannot be)."""
        if unlock is None:
            self._need_staff("approve")
        elif self.roster.open or unlock not in self.roster:
            raise Rejected("approve", f"no staff member {unlock[:40]!r} to unlock")
        elif not self.pins.failures(unlock):
            raise Rejected("approve", f"{unlock} has no wrong PINs to clear")
        person = self._authenticate("approve", staff, pin)
        if not person.is_supervisor:
            raise Rejected("approve", f"{person.id} is not a supervisor")
        if unlock is not None:
            self.pins.unlock(unlock)
        else:
            self._approval = person
        return person

    def authorise(self, op: str) -> str | None:
        """For a restricted operation done outside the till (a receipt's reprint): a
        supervisor is logged in, or a supervisor's approval is waiting and is used up
        now. Returns the approver's id (None: a supervisor is at the till)."""
        return self._use_approval(self._restricted(op))

    # -- basket --------------------------------------------------------------------------
    def _add(self, item: Item, qty: int) -> int:
        if not self._sale.started:
            self._last_change = 0
        number = len(self._sale.lines) + 1
        self._sale.lines.append(_Line(number, item, qty, item.price))
        return number

    def scan_item(self, code: str) -> int:
        """Add one of the item with this barcode; returns its line number."""
        self._need_basket_change("scan")
        try:
            bc.validate(code)
        except bc.BarcodeError as e:
            raise Rejected("scan", str(e)) from e
        if loyalty_card(code) is not None:
            raise Rejected("scan", f"{code} is a loyalty card, not an item; scan it as a card")
        item = self._catalog.by_barcode(code)
        if item is None:
            raise Rejected("scan", f"no item has barcode {code}; key it by SKU")
        return self._add(item, 1)

    def key(self, sku: str, qty: int = 1) -> int:
        """Add `qty` of the item with this SKU; returns its line number."""
        self._need_basket_change("key")
        self._qty("key", qty)
        item = self._catalog.by_sku(sku)
        if item is None:
            raise Rejected("key", f"no item has SKU {sku[:40]!r}")
        return self._add(item, qty)

    def set_qty(self, qty: int) -> None:
        """Change the quantity of the last line."""
        self._need_basket_change("qty")
        line = self._line("qty", None)
        line.qty = self._qty("qty", qty)

    def _discount_approval(self, percent: Fraction) -> Person | None:
        """A cashier gives up to `cashier_discount_max` percent (each line's, the basket's)
        alone; more needs a supervisor at the till or their approval, used up by it."""
        limit = self.settings.cashier_discount_max
        if percent <= limit:
            return None
        return self._restricted("discount", f"a discount over {limit} %")

    def discount_line(self, percent: Percent, line: int | None = None) -> None:
        """A percent off one line (the last by default); replaces its earlier discount."""
        self._need_basket_change("discount")
        target = self._line("discount", line)
        pct = self._percent("discount", percent)
        approval = self._discount_approval(pct)
        target.percent = pct
        self._note_approval(approval)

    def discount_basket(self, percent: Percent) -> None:
        """A percent off the whole basket, spread over the lines; replaces an earlier one."""
        self._need_basket_change("discount")
        if not self._sale.live:
            raise Rejected("discount", "the basket is empty")
        pct = self._percent("discount", percent)
        approval = self._discount_approval(pct)
        self._sale.basket_percent = pct
        self._note_approval(approval)

    def override_price(self, line: int, price: int) -> None:
        """Set a line's unit price (restricted: a supervisor or an approval)."""
        self._need_basket_change("price")
        target = self._line("price", line)
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise Rejected("price", f"price {price} must be a whole number of minor units >= 0")
        approval = self._restricted("price")
        target.unit_price = price
        self._note_approval(approval)

    def void_line(self, number: int) -> None:
        """Void a line: it keeps its number, is shown struck and leaves the sale."""
        self._need_basket_change("void_line")
        self._line("void_line", number).voided = True

    # -- loyalty -------------------------------------------------------------------------
    def attach_loyalty(
        self,
        account: str,
        balance: int | None,
        offline: bool,
        first_name: str | None = None,
        card: str | None = None,
    ) -> None:
        """Put a loyalty card on the sale; `balance` is None when the collector is unreachable.
        The same card again after points were redeemed changes nothing (the redeem stands)."""
        self._need_staff("loyalty")
        if not _ACCOUNT.match(account):
            raise Rejected("loyalty", f"account {account[:20]!r} is not 8 digits")
        if balance is not None and (isinstance(balance, bool) or balance < 0):
            raise Rejected("loyalty", f"balance {balance} cannot be negative")
        if not offline and balance is None:
            raise Rejected("loyalty", "an online card needs its balance")
        current = self._sale.loyalty
        if current is not None and self._sale.redeemed:
            if current.account != account:
                raise Rejected("loyalty", f"points of {current.account} are already redeemed")
            return
        if not self._sale.started:
            self._last_change = 0
        self._sale.loyalty = TillLoyalty(
            account, None if offline else balance, offline, first_name=first_name, card=card
        )

    def sale_ref(self) -> str:
        """The open sale's id, given out early (the collector's hold names it); the
        completed record carries the same id."""
        if self._sale.sale_id is None:
            self._sale.sale_id = self._new_id()
        return self._sale.sale_id

    def redeem(self, points: int, reservation: str | None = None) -> None:
        """Pay with points: `points × point_value` off what is still due, never more.
        `reservation`: the collector's hold on them (online)."""
        money = self.check_redeem(points)
        loyalty = self._sale.loyalty
        if reservation is not None and loyalty is not None:
            self._sale.loyalty = replace(loyalty, reservation=reservation)
        self._sale.tenders.append(Tender(type="points", amount=money, points=points))

    def check_redeem(self, points: int) -> int:
        """Everything `redeem` checks, changing nothing; the money the points are worth."""
        self._need_staff("redeem")
        s = self.settings
        loyalty = self._sale.loyalty
        if loyalty is None:
            raise Rejected("redeem", "no loyalty card on this sale; scan the card first")
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise Rejected("redeem", f"points {points} must be a whole number above 0")
        if s.point_value <= 0:
            raise Rejected("redeem", "points have no money value in this shop")
        if not self._sale.live:
            raise Rejected("redeem", "the basket is empty")
        due = self._priced().total - self._sale.paid
        money = points * s.point_value
        if money > due:
            raise Rejected(
                "redeem",
                f"{points} points are worth {self._money(money)}, more than the "
                f"{self._money(due)} due; redeem at most {due // s.point_value}",
            )
        total_points = self._sale.redeemed + points
        if loyalty.offline and total_points > s.offline_redeem_cap:
            raise Rejected(
                "redeem",
                f"offline a card may redeem at most {s.offline_redeem_cap} points per sale",
            )
        if not loyalty.offline and loyalty.balance is not None and total_points > loyalty.balance:
            raise Rejected("redeem", f"the card has {loyalty.balance} points, not {total_points}")
        return money

    # -- pricing -------------------------------------------------------------------------
    def _priced(self) -> PricedBasket:
        live = self._sale.live
        return price_basket(
            [LineInput(li.unit_price, li.qty, li.item.tax_rate, li.percent) for li in live],
            self._sale.basket_percent,
            self.settings.prices_include_tax,
        )

    # -- payment -------------------------------------------------------------------------
    def tender(self, type: str, amount: int | None = None, ref: str | None = None) -> Draft | None:
        """Take a payment; returns the sale's draft once it is paid, else None."""
        self._need_staff("tender")
        s = self.settings
        if not self._sale.live:
            raise Rejected("tender", "the basket is empty; nothing to pay")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise Rejected("tender", f"amount {amount!r} must be whole minor units")
        priced = self._priced()
        remaining = priced.total - self._sale.paid
        if type == "cash":
            due = cash_due(remaining, s.cash_rounding)
            given = due if amount is None else amount
            if given < 0 or (given == 0 and due > 0):
                raise Rejected("tender", "a cash amount must be more than zero")
            if given % s.cash_rounding:
                raise Rejected(
                    "tender", f"cash comes in multiples of {self._money(s.cash_rounding)}"
                )
            if given < due:
                self._sale.tenders.append(Tender(type="cash", amount=given))
                return None
            if due > 0:
                self._sale.tenders.append(Tender(type="cash", amount=due))
            return self._complete(priced, change=given - due)
        if type == "card":
            if not ref or not ref.strip():
                raise Rejected("tender", "a card payment needs the terminal's reference")
            if _PAN.match(re.sub(r"[\s-]", "", ref)):
                # never keep a card number: PCI DSS keeps it off this device entirely
                raise Rejected("tender", "that looks like a card number; enter the terminal ref")
            if remaining <= 0:
                raise Rejected("tender", "nothing is left to pay by card")
            paying = remaining if amount is None else amount
            if paying <= 0:
                raise Rejected("tender", "a card amount must be more than zero")
            if paying > remaining:
                raise Rejected(
                    "tender",
                    f"card amount {self._money(paying)} is more than the "
                    f"{self._money(remaining)} due (no cashback)",
                )
            self._sale.tenders.append(Tender(type="card", amount=paying, ref=ref.strip()))
            if paying < remaining:
                return None
            return self._complete(priced, change=0)
        raise Rejected("tender", f"tender type {type!r} is not cash or card")

    def cancel(self) -> None:
        """Drop the open sale (cash taken is handed back); refused after a card payment."""
        self._need_staff("cancel")
        if not self._sale.started:
            raise Rejected("cancel", "no sale is open")
        if any(t.type == "card" for t in self._sale.tenders):
            raise Rejected("cancel", "a card was charged; finish the sale and refund it")
        self._sale = _Sale()

    def _draft(self, kind: Kind, staff: Person, **fields: Any) -> Draft:
        s = self.settings
        common: dict[str, Any] = {
            "schema": SCHEMA,
            "sale_id": self._new_id(),
            "kind": kind,
            "device": s.device,
            "store": s.store,
            "region": s.region,
            "staff": staff.id,
            "ts": utc_stamp(self._clock()),
            "currency": s.currency,
            "lines": [],
            "total": 0,
            "tax": [],
            "tenders": [],
            "change": 0,
            "loyalty": None,
            "refund_of": None,
        }
        return Draft(**(common | fields))

    def _complete(self, priced: PricedBasket, change: int) -> Draft:
        s = self.settings
        sale = self._sale
        assert self._staff is not None
        loyalty = None
        if sale.loyalty is not None:
            redeemed = sale.redeemed
            paid = priced.total - redeemed * s.point_value
            earned = max(paid, 0) * s.points_per_unit // 10**s.exponent
            lo = sale.loyalty
            loyalty = LoyaltyPart(
                account=lo.account,
                earned=earned,
                redeemed=redeemed,
                balance=None
                if lo.offline or lo.balance is None
                else lo.balance - redeemed + earned,
                offline=lo.offline,
                reservation=lo.reservation,
            )
        extra: dict[str, Any] = {} if sale.sale_id is None else {"sale_id": sale.sale_id}
        draft = self._draft(
            "sale",
            self._staff,
            **extra,
            lines=[
                Line(
                    sku=li.item.sku,
                    barcode=li.item.barcode,
                    name=li.item.name,
                    qty=li.qty,
                    unit_price=li.unit_price,
                    discount=p.discount,
                    total=p.total,
                    tax_rate=li.item.tax_rate,
                )
                for li, p in zip(sale.live, priced.lines, strict=True)
            ],
            total=priced.total,
            tax=list(priced.tax),
            tenders=list(sale.tenders),
            change=change,
            rounding=sale.paid - priced.total,
            loyalty=loyalty,
            approved_by=",".join(sale.approved_by) or None,
        )
        self._sale = _Sale()
        self._last_change = change
        return draft

    # -- records outside a sale ------------------------------------------------------------
    def no_sale(self, reason: str) -> Draft:
        """Open the drawer without a sale (restricted); the reason is kept."""
        staff = self._need_staff("no_sale")
        self._need_idle("no_sale")
        text = reason.strip()
        if not text:
            raise Rejected("no_sale", "say why the drawer is opened")
        if len(text) > MAX_REASON:
            raise Rejected("no_sale", f"the reason is longer than {MAX_REASON} characters")
        approval = self._restricted("no_sale")
        return self._draft("no_sale", staff, reason=text, approved_by=self._use_approval(approval))

    def shift_close(self, records: Iterable[Record]) -> Draft:
        """Close the shift: a record carrying the Z report of `records` (since the last close)."""
        staff = self._need_staff("shift_close")
        self._need_idle("shift_close")
        return self._draft(
            "shift_close", staff, report=shift_report(records, self.settings.exponent)
        )

    def refund(self, original: Record, lines: list[int], already_refunded: set[int]) -> Draft:
        """Refund whole lines of a sale at what was paid for them, in its own tenders."""
        staff = self._need_staff("refund")
        self._need_idle("refund")
        if original.kind != "sale":
            raise Rejected("refund", f"receipt {original.receipt_no} is not a sale")
        sold = original.lines
        if not lines:
            raise Rejected("refund", "say which lines to refund")
        for n in lines:
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(sold):
                raise Rejected("refund", f"the sale has no line {n}; lines are 1 to {len(sold)}")
            if n in already_refunded:
                raise Rejected("refund", f"line {n} was refunded already")
        if len(set(lines)) != len(lines):
            raise Rejected("refund", "a line is listed twice")
        approval = self._restricted("refund")
        plan = _RefundPlan(original, self.settings)
        prev = {n for n in already_refunded if 1 <= n <= len(sold)}
        chosen = sorted(lines)
        before, after = plan.cumulative(prev), plan.cumulative(prev | set(chosen))
        total = before.money - after.money
        tenders = plan.tenders(before, after)
        loyalty = None
        if original.loyalty is not None:
            loyalty = LoyaltyPart(
                account=original.loyalty.account,
                earned=before.earned - after.earned,
                redeemed=before.points - after.points,
                balance=None,
                # the till did not ask the collector: the record settles it when ingested
                offline=True,
            )
        return self._draft(
            "refund",
            staff,
            lines=[
                Line(
                    sku=li.sku,
                    barcode=li.barcode,
                    name=li.name,
                    qty=-li.qty,
                    unit_price=li.unit_price,
                    discount=-li.discount,
                    total=-li.total,
                    tax_rate=li.tax_rate,
                )
                for li in (sold[n - 1] for n in chosen)
            ],
            tax=[
                TaxRow(
                    rate=rate,
                    base=before.tax[rate][0] - after.tax[rate][0],
                    tax=before.tax[rate][1] - after.tax[rate][1],
                )
                for rate in sort_rates({sold[n - 1].tax_rate for n in chosen})
            ],
            total=total,
            tenders=tenders,
            rounding=sum(t.amount for t in tenders) - total,
            loyalty=loyalty,
            refund_of=original.sale_id,
            refund_lines=chosen,
            original_receipt_no=original.receipt_no,
            approved_by=self._use_approval(approval),
        )

    # -- the screen ----------------------------------------------------------------------
    def view(self) -> TillView:
        """What a screen shows: lines, totals, what is due, tenders, loyalty, state."""
        sale = self._sale
        priced = self._priced()
        shown: list[TillLine] = []
        live = iter(priced.lines)
        for li in sale.lines:
            if li.voided:
                gross = li.unit_price * li.qty
                discount, total = 0, gross
            else:
                p = next(live)
                discount, total = p.discount, p.total
            shown.append(
                TillLine(
                    li.number,
                    li.item.sku,
                    li.item.name,
                    li.qty,
                    li.unit_price,
                    discount,
                    total,
                    li.voided,
                )
            )
        paid = sale.paid
        due = max(priced.total - paid, 0) if sale.live else 0
        state: State = "tendering" if sale.tenders else "open" if sale.started else "idle"
        return TillView(
            staff=self._staff,
            state=state,
            lines=tuple(shown),
            subtotal=priced.gross,
            discount=priced.discount,
            tax=priced.tax_total,
            total=priced.total,
            paid=paid,
            due=due,
            cash_due=cash_due(due, self.settings.cash_rounding),
            change=self._last_change,
            loyalty=sale.loyalty,
            tenders=tuple(sale.tenders),
            approval=None if self._approval is None else self._approval.id,
            locked=self.pins.locked(),
        )


@dataclass(frozen=True)
class _Cumulative:
    """What all refunds of a set of lines add up to (positive numbers)."""

    money: int
    tax: dict[str, tuple[int, int]]  # rate -> (base, tax)
    earned: int
    points: int


class _RefundPlan:
    """Refund figures as differences of cumulative figures, so refunds of every line sum
    exactly to the sale: per-rate tax, tenders and loyalty points all telescope."""

    def __init__(self, original: Record, settings: TillSettings) -> None:
        self.original = original
        self.settings = settings
        self.lines = original.lines
        self.total = original.total
        line_sum = sum(li.total for li in self.lines)
        # Read the tax mode from the record itself: the config may have changed since.
        self.included = self.total == line_sum
        self.recorded_tax = {row.rate: (row.base, row.tax) for row in original.tax}
        self.by_rate: dict[str, set[int]] = {}
        for n, li in enumerate(self.lines, 1):
            self.by_rate.setdefault(li.tax_rate, set()).add(n)
        loyalty = original.loyalty
        self.earned = loyalty.earned if loyalty else 0
        self.points = loyalty.redeemed if loyalty else 0

    def cumulative(self, refunded: set[int]) -> _Cumulative:
        tax: dict[str, tuple[int, int]] = {}
        money = 0
        for rate, numbers in self.by_rate.items():
            mine = numbers & refunded
            amount = sum(self.lines[n - 1].total for n in mine)
            if mine == numbers and rate in self.recorded_tax:
                base, t = self.recorded_tax[rate]
            else:
                row = tax_row(rate, amount, self.included)
                base, t = row.base, row.tax
            tax[rate] = (base, t)
            money += amount if self.included else amount + t
        full = len(refunded) == len(self.lines)
        if full:
            money = self.total
        if self.total > 0:
            earned = self.earned * money // self.total
            points = self.points * money // self.total
        else:
            earned, points = (self.earned, self.points) if full else (0, 0)
        return _Cumulative(money, tax, earned, points)

    def _split(self, c: _Cumulative) -> list[int]:
        """Cumulative refund per original tender: points, then cards, then cash."""
        tenders = self.original.tenders
        full = c.money == self.total and c.points == self.points
        out = [0] * len(tenders)
        points_money = sum(t.amount for t in tenders if t.type == "points")
        # Points go back in proportion (CONTRACT: floor); their money share likewise.
        pm = points_money * c.money // self.total if self.total > 0 else 0
        if full:
            pm = points_money
        rest = c.money - pm
        for i, t in enumerate(tenders):
            if t.type == "points":
                share = min(pm, t.amount)
                out[i], pm = share, pm - share
        for i, t in enumerate(tenders):
            if t.type == "card":
                share = min(rest, t.amount)
                out[i], rest = share, rest - share
        cash = [i for i, t in enumerate(tenders) if t.type == "cash"]
        taken = sum(tenders[i].amount for i in cash)
        # Cash goes back in cash units; the last refund returns exactly what was taken.
        back = taken if full else min(taken, cash_due(rest, self.settings.cash_rounding))
        for i in cash:
            share = min(back, tenders[i].amount)
            out[i], back = share, back - share
        return out

    def tenders(self, before: _Cumulative, after: _Cumulative) -> list[Tender]:
        tenders = self.original.tenders
        old, new = self._split(before), self._split(after)
        # One refund tender per original payment method: (type, ref) -> [amount, ref].
        merged: dict[tuple[TenderType, str], list[Any]] = {}
        order = {"points": 0, "card": 1, "cash": 2}
        for i in sorted(range(len(tenders)), key=lambda i: order.get(tenders[i].type, 3)):
            t = tenders[i]
            row = merged.setdefault((t.type, t.ref or ""), [0, t.ref])
            row[0] -= new[i] - old[i]
        points = before.points - after.points
        if points:
            merged.setdefault(("points", ""), [0, None])
        return [
            Tender(
                type=kind,
                amount=amount,
                ref=ref if kind == "card" else None,
                points=points if kind == "points" else None,
            )
            for (kind, _), (amount, ref) in merged.items()
            if amount or (kind == "points" and points)
        ]
