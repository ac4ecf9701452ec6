"""The controller: the one place where the pure till meets the store and the hardware.

The touch screen, `appliance replay` and `appliance demo` all call `Controller.handle`
with the same operations (the scenario events of the contract), so what a test replays
is what a finger does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appliance.drivers.drawer import Drawer
from appliance.drivers.scanner import Scan
from appliance.events import Event, EventSink
from appliance.loyalty.authoriser import LoyaltyAuthoriser, LoyaltyRefused, LoyaltyUnavailable
from appliance.sales.catalog import Catalog
from appliance.sales.pins import PinRefused
from appliance.sales.reports import shift_report
from appliance.sales.till import NeedsSupervisor, Rejected, Till, TillLoyalty, TillSettings
from appliance.store import DuplicateSaleError, Store, StoreError
from protocol.errors import BadInput, Error
from protocol.money import parse_major
from protocol.record import Draft, Record, ShiftReport
from protocol.text import printable

log = logging.getLogger("appliance.controller")
# What may still be done while a completed sale waits to be saved (nothing that sells).
_WHILE_UNSAVED = frozenset({"login", "logout", "approve", "cancel"})
# Scan outcomes kept for whoever waits on them; older ones go (nobody waits under `run`).
SCAN_OUTCOMES_KEPT = 64


@dataclass(frozen=True)
class Outcome:
    """What one operation did: a committed record, a rejection, or neither (basket change)."""

    op: str
    record: Record | None = None
    rejected: str | None = None
    detail: Any = None

    def report_line(self) -> dict[str, Any] | None:
        """The JSON line `appliance replay` prints for this outcome, if any."""
        if self.rejected is not None:
            return {"rejected": self.op, "reason": self.rejected}
        if self.record is not None and self.record.kind in ("sale", "refund"):
            r = self.record
            return {
                "sale_id": r.sale_id,
                "receipt_no": r.receipt_no,
                "total": r.total,
                "change": r.change,
            }
        return None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadInput(f"{name} must be a whole number")
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"{name} {value!r} is not a whole number") from None


def _percent(value: Any) -> str:
    # Scenario numbers arrive as strings (json parse_float=str), so 12.5 stays exact.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadInput("percent must be a number")
    return str(value)


class Controller:
    """Turns operations into till calls, commits what completes, drives drawer and printer."""

    def __init__(
        self,
        till: Till,
        store: Store,
        drawer: Drawer,
        *,
        exponent: int,
        on_event: EventSink,
        wake_printer: Callable[[], None] = lambda: None,
        wake_outbox: Callable[[], None] = lambda: None,
        loyalty: LoyaltyAuthoriser | None = None,
        save_pins: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.till = till
        self.store = store
        self.drawer = drawer
        self.exponent = exponent
        self._emit = on_event
        self._wake_printer = wake_printer
        self._wake_outbox = wake_outbox
        # Items that sold out (sku -> name), for the screen beside the basket.
        self.stock_out: dict[str, str] = {}
        # A catalog or settings that arrived while a sale was open wait for its end.
        self._pending_catalog: Catalog | None = None
        self._pending_settings: TillSettings | None = None
        # Outcomes of scans that came in through the scanner, for whoever waits on them
        # (replay, the bench). The scanner itself does not wait, and under `appliance run`
        # nobody reads them: only the newest SCAN_OUTCOMES_KEPT are kept.
        self.scan_outcomes: asyncio.Queue[Outcome] = asyncio.Queue(SCAN_OUTCOMES_KEPT)
        self._lock = asyncio.Lock()
        self._kicks: set[asyncio.Task[None]] = set()
        # Completed sales the store could not take yet, with their drawer kick, in order.
        self._unsaved: list[tuple[Draft, str | None]] = []
        # Asks the collector about cards and points; None: always the offline rules.
        self.loyalty = loyalty
        # The last scan still being worked on (a card waits for its balance): later scans
        # queue behind it, so outcomes arrive in the order the codes were read.
        self._scan_tail: asyncio.Task[None] | None = None
        # Why the till takes nothing (a journal that fails its integrity check), or None.
        self.out_of_service: str | None = None
        # Keeps the wrong-PIN counts and locks across a restart (the device state); what
        # it last kept, so only a change is written.
        self._save_pins = save_pins
        self._pins_saved = till.pins.to_doc()

    # -- the scanner path -------------------------------------------------------------
    def on_scan(self, scan: Scan) -> None:
        """A good read from the scanner: an item goes in the basket, a card to loyalty.

        Never waits: a card's balance is asked in a task, and whatever is read meanwhile
        queues behind it."""
        if scan.loyalty is None and (self._scan_tail is None or self._scan_tail.done()):
            self._scanned(self._scan_item(scan))
            return
        self._after_tail(self._scan_later(scan))

    def on_scan_rejected(self, reason: str) -> None:
        """The scanner read something that is not a barcode (noise, half line, bad check)."""
        outcome = Outcome("scan", rejected=reason)
        if self._scan_tail is None or self._scan_tail.done():
            self._scanned(outcome)
            return

        async def rejected() -> Outcome:
            return outcome

        self._after_tail(rejected())

    def _after_tail(self, work: Coroutine[Any, Any, Outcome]) -> None:
        previous = self._scan_tail

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            self._scanned(await work)

        self._scan_tail = asyncio.create_task(run(), name="scan")

    def _scanned(self, outcome: Outcome) -> None:
        if self.scan_outcomes.full():
            self.scan_outcomes.get_nowait()  # the oldest: nobody waited for it
        self.scan_outcomes.put_nowait(outcome)

    async def _scan_later(self, scan: Scan) -> Outcome:
        if scan.loyalty is not None and self.out_of_service is not None:
            return Outcome("scan", rejected=self._out_of_service_reason())
        return self._scan_item(scan) if scan.loyalty is None else await self._scan_card(scan)

    def _scan_item(self, scan: Scan) -> Outcome:
        if self.out_of_service is not None:
            return Outcome("scan", rejected=self._out_of_service_reason())
        if self._unsaved:
            self.retry_unsaved()
            if self._unsaved:
                return Outcome("scan", rejected=self._unsaved_reason())
        try:
            line = self.till.scan_item(scan.code)
        except Rejected as e:
            log.info("scan refused", extra={"code": scan.code, "reason": e.reason})
            return Outcome("scan", rejected=e.reason)
        return Outcome("scan", detail={"line": line})

    async def _scan_card(self, scan: Scan) -> Outcome:
        assert scan.loyalty is not None
        account = scan.loyalty.account
        balance: int | None = None
        first_name: str | None = None
        offline = True
        if self.loyalty is not None and self.till.view().staff is not None:
            try:
                # The full code goes along, so the collector refuses a replaced (blocked) card.
                found = await self.loyalty.balance(scan.code)
                balance, first_name, offline = found.balance, found.first_name, False
            except LoyaltyRefused as e:
                log.info("card refused", extra={"account": account, "reason": e.reason})
                return Outcome("scan", rejected=e.reason)
            except LoyaltyUnavailable as e:
                log.info("card taken offline", extra={"account": account, "why": str(e)})
        async with self._lock:
            try:
                self.till.attach_loyalty(account, balance, offline, first_name, scan.code)
            except Rejected as e:
                log.info("card refused", extra={"account": account, "reason": e.reason})
                return Outcome("scan", rejected=e.reason)
        loyalty = self.till.view().loyalty
        return Outcome(
            "scan",
            detail={
                "loyalty": account,
                "balance": loyalty.balance if loyalty else None,
                "offline": loyalty.offline if loyalty else offline,
            },
        )

    # -- operations -----------------------------------------------------------------------
    async def handle(self, event: Mapping[str, Any]) -> Outcome:
        """Carry out one operation (a scenario event). Never raises on bad input."""
        op = event.get("op")
        if not isinstance(op, str):
            return Outcome(str(op), rejected="event has no op")
        async with self._lock:
            if self.out_of_service is not None:
                return Outcome(op, rejected=self._out_of_service_reason())
            if self._unsaved:
                self.retry_unsaved()
            if self._unsaved and op not in _WHILE_UNSAVED:
                # A completed sale the journal would not take is only in memory: taking
                # more would put more at risk. Nothing new until it is saved.
                return Outcome(op, rejected=self._unsaved_reason())
            try:
                return await self._dispatch(op, event)
            except (Rejected, BadInput) as e:
                reason = e.reason if isinstance(e, Rejected) else str(e)
                log.info("operation refused", extra={"op": op, "reason": reason})
                # A screen takes a cashier to the approval panel with what needs one.
                detail = {"needs": "supervisor"} if isinstance(e, NeedsSupervisor) else None
                return Outcome(op, rejected=reason, detail=detail)
            finally:
                self._swap_pending()

    # -- remote changes (MQTT commands) ------------------------------------------------------
    def replace_catalog(self, catalog: Catalog) -> bool:
        """Sell from `catalog`: now when no sale is open (True), else right after the sale."""
        self._pending_catalog = catalog
        return self._swap_pending()

    def replace_settings(self, settings: TillSettings) -> bool:
        """New till settings (rounding, tax mode, loyalty): now, or right after the sale."""
        self._pending_settings = settings
        return self._swap_pending()

    def put_out_of_service(self, reason: str) -> None:
        """Take nothing more (every operation and scan is refused with `reason`): the
        journal cannot be trusted to keep what the till would sell. Only a restart with a
        sound journal brings the till back."""
        if self.out_of_service is None:
            self.out_of_service = reason
            log.error("till out of service", extra={"reason": reason})
            self._emit(Event("till.out_of_service", {"reason": reason}))

    def _unsaved_reason(self) -> str:
        n = len(self._unsaved)
        return (
            f"{n} completed sale{'s' if n > 1 else ''} could not be saved to the journal "
            "yet (see the store fault); no new sale until they are"
        )

    def _out_of_service_reason(self) -> str:
        return f"the till is out of service: {self.out_of_service}"

    @property
    def warnings(self) -> list[str]:
        """What the assistant should see beside the basket (TillView has no place for it)."""
        stock = [f"{name} ({sku}) is out of stock" for sku, name in self.stock_out.items()]
        if self.out_of_service is not None:
            return [self._out_of_service_reason(), *stock]
        return stock

    def restocked(self, skus: set[str]) -> None:
        """Items got stock again: their sold-out warnings go."""
        for sku in skus:
            self.stock_out.pop(sku, None)

    def _swap_pending(self) -> bool:
        if self._pending_catalog is None and self._pending_settings is None:
            return True
        if self.till.view().state != "idle":
            return False
        if self._pending_catalog is not None:
            self.till.catalog, self._pending_catalog = self._pending_catalog, None
            self._emit(Event("catalog.replaced", {"items": len(self.till.catalog)}))
        if self._pending_settings is not None:
            self.till.settings, self._pending_settings = self._pending_settings, None
        return True

    def _count_stock(self, record: Record) -> None:
        # Stock is advisory: counted after the sale is durable, never blocking it. A crash
        # between the two miscounts one sale until the next stock command.
        deltas: dict[str, int] = {}
        for line in record.lines:
            deltas[line.sku] = deltas.get(line.sku, 0) - line.qty
        if not deltas:
            return
        try:
            levels = self.store.catalog.adjust_stock(deltas)
        except Error as e:
            log.warning("stock not counted", extra={"seq": record.seq, "error": str(e)})
            return
        for sku, level in levels.items():
            if deltas[sku] < 0 and level <= 0 < level - deltas[sku]:
                name = next(li.name for li in record.lines if li.sku == sku)
                self._emit(Event("stock.out", {"sku": sku, "name": name}))
                self.stock_out[sku] = name
            elif level > 0:
                self.restocked({sku})

    async def _dispatch(self, op: str, ev: Mapping[str, Any]) -> Outcome:
        till = self.till
        match op:
            case "login":
                with self._pin_try():
                    till.login(str(ev.get("staff", "")), _opt_str(ev.get("pin")))
            case "logout":
                held = till.view().loyalty
                till.logout()
                self._release(held)
            case "approve":
                staff, unlock = str(ev.get("staff", "")), _opt_str(ev.get("unlock"))
                with self._pin_try():
                    till.approve(staff, _opt_str(ev.get("pin")), unlock=unlock)
                if unlock is not None:
                    self._emit(Event("staff.unlocked", {"staff": unlock, "by": staff}))
            case "key":
                till.key(str(ev.get("sku", "")), _int(ev.get("qty", 1), "qty"))
            case "qty":
                till.set_qty(_int(ev.get("qty"), "qty"))
            case "discount":
                pct = _percent(ev.get("percent"))
                if ev.get("scope", "line") == "basket":
                    till.discount_basket(pct)
                elif ev.get("scope", "line") == "line":
                    line = ev.get("line")
                    till.discount_line(pct, None if line is None else _int(line, "line"))
                else:
                    raise BadInput(f"discount scope {ev.get('scope')!r} is not line or basket")
            case "price":
                till.override_price(
                    _int(ev.get("line"), "line"),
                    parse_major(str(ev.get("price", "")), self.exponent),
                )
            case "void_line":
                till.void_line(_int(ev.get("line"), "line"))
            case "redeem":
                return await self._redeem(_int(ev.get("points"), "points"))
            case "cancel":
                held = till.view().loyalty
                till.cancel()
                self._release(held)
            case "tender":
                return await self._tender(ev)
            case "refund":
                return await self._refund(ev)
            case "no_sale":
                draft = till.no_sale(printable(str(ev.get("reason", ""))))
                return await self._commit(op, draft, kick=f"no sale: {draft.reason}")
            case "shift_close":
                draft = till.shift_close(self.store.since_last_shift_close())
                return await self._commit(op, draft)
            case "scan":
                raise BadInput("scans come through the scanner")  # replay routes them there
            case _:
                raise BadInput(f"unknown op {op!r}")
        return Outcome(op)

    @contextlib.contextmanager
    def _pin_try(self) -> Iterator[None]:
        """Around a login or approval: a counted wrong PIN and a lock are events (the
        fleet sees them), a refusal for a wait says until when on this till's clock, and
        what changed in the counts is kept for the next start."""
        try:
            yield
        except PinRefused as e:
            if e.counted:
                self._emit(
                    Event(
                        "staff.pin_failed",
                        {
                            "staff": e.staff,
                            "op": e.op,
                            "failures": e.failures,
                            "till_failures": e.till_failures,
                            "retry_in": e.retry_in,
                        },
                    )
                )
                if e.locked:
                    self._emit(Event("staff.locked", {"staff": e.staff, "failures": e.failures}))
            if e.retry_in is not None:
                until = datetime.now().astimezone() + timedelta(seconds=e.retry_in)
                raise Rejected(e.op, e.said_at(f"{until:%H:%M:%S}")) from e
            raise
        finally:
            self._keep_pins()

    def _keep_pins(self) -> None:
        doc = self.till.pins.to_doc()
        if self._save_pins is None or doc == self._pins_saved:
            return
        try:
            self._save_pins(doc)
        except StoreError as e:
            # The counts still hold in memory; only a restart before the next save loses them.
            log.error("wrong-PIN counts not saved", extra={"error": str(e)})
            return
        self._pins_saved = doc

    async def _redeem(self, points: int) -> Outcome:
        """Online, the collector holds the points first (exactly one of two tills spending
        the same points gets them); offline, the till's cap applies."""
        till = self.till
        card = till.view().loyalty
        if card is None or card.offline or self.loyalty is None:
            till.redeem(points)
            return Outcome("redeem", detail={"offline": card.offline if card else None})
        if card.reservation is not None:
            raise Rejected(
                "redeem", "points are already redeemed on this sale; cancel it to change them"
            )
        till.check_redeem(points)  # nothing is reserved for a redeem the till would refuse
        if card.card is None:  # the collector holds points only for a scanned card
            raise Rejected("redeem", "scan the loyalty card again to redeem its points")
        try:
            hold = await self.loyalty.reserve(card.card, points, sale_id=till.sale_ref())
        except LoyaltyRefused as e:
            raise Rejected("redeem", e.reason) from e
        except LoyaltyUnavailable as e:
            # The collector went away since the card was read: offline rules from here on.
            log.info("redeem taken offline", extra={"account": card.account, "why": str(e)})
            till.attach_loyalty(card.account, None, True, card.first_name, card.card)
            till.redeem(points)
            return Outcome("redeem", detail={"offline": True})
        try:
            till.redeem(points, reservation=hold.reservation)
        except Rejected:
            self.loyalty.release_later(card.account, hold.reservation)
            raise
        return Outcome("redeem", detail={"reservation": hold.reservation, "balance": hold.balance})

    def _release(self, card: TillLoyalty | None) -> None:
        if card is not None and card.reservation is not None and self.loyalty is not None:
            self.loyalty.release_later(card.account, card.reservation)

    async def _tender(self, ev: Mapping[str, Any]) -> Outcome:
        kind = ev.get("type")
        if kind not in ("cash", "card"):
            raise BadInput(f"tender type {kind!r} is not cash or card")
        raw = ev.get("amount")
        amount = None if raw is None else parse_major(str(raw), self.exponent)
        if amount is not None and amount <= 0:
            raise BadInput("tender amount must be more than zero")
        ref = ev.get("ref")
        draft = self.till.tender(kind, amount, None if ref is None else printable(str(ref)))
        if draft is None:
            return Outcome("tender")
        cash = any(t.type == "cash" and t.amount for t in draft.tenders)
        outcome = await self._commit("tender", draft, kick="cash sale" if cash else None)
        part = draft.loyalty
        if part is not None and part.reservation and self.loyalty is not None:
            # The hold now waits for the record (which may queue in the outbox a while).
            self.loyalty.commit_later(part.account, part.reservation, draft.sale_id)
        return outcome

    async def _refund(self, ev: Mapping[str, Any]) -> Outcome:
        receipt_no = str(ev.get("receipt_no", ""))
        lines = ev.get("lines")
        if not isinstance(lines, list) or not all(isinstance(n, int) for n in lines):
            raise BadInput("refund lines must be a list of line numbers")
        original = self.store.by_receipt_no(receipt_no)
        if original is None:
            raise BadInput(f"no receipt {receipt_no!r} in this till's journal")
        draft = self.till.refund(original, lines, self.store.refunded_lines(original.sale_id))
        cash = any(t.type == "cash" and t.amount for t in draft.tenders)
        return await self._commit("refund", draft, kick="cash refund" if cash else None)

    async def _commit(self, op: str, draft: Draft, kick: str | None = None) -> Outcome:
        # The till has closed the sale and the customer has paid: the draft must reach the
        # journal. If the store fails (disk full, I/O error) it waits here, in order, and
        # every later commit (and `retry_unsaved`) tries again first.
        self._unsaved.append((draft, kick))
        saved = self.retry_unsaved()
        if draft.sale_id not in saved:
            return Outcome(
                op,
                rejected="the sale is complete but NOT yet saved (the journal cannot be "
                "written); it is kept and saved as soon as the store recovers",
                detail={"unsaved": len(self._unsaved)},
            )
        return Outcome(op, record=saved[draft.sale_id])

    @property
    def kicks_pending(self) -> int:
        """Drawer kicks asked for and not done yet (one pulse, 0.2 s, at a time)."""
        return len(self._kicks)

    @property
    def unsaved(self) -> int:
        """Completed sales waiting for the store (a screen shows this as a fault)."""
        return len(self._unsaved)

    def retry_unsaved(self) -> dict[str, Record]:
        """Write what waits for the store, oldest first; the records saved, by sale_id."""
        saved: dict[str, Record] = {}
        while self._unsaved:
            draft, kick = self._unsaved[0]
            try:
                record = self.store.append(draft, print_receipt=True)
            except DuplicateSaleError:
                self._unsaved.pop(0)  # it did get in (an earlier try): nothing twice
                continue
            except StoreError as e:
                log.error("sale not saved", extra={"sale_id": draft.sale_id, "error": str(e)})
                self._emit(Event("store.fault", {"error": str(e), "unsaved": len(self._unsaved)}))
                break
            self._unsaved.pop(0)
            saved[draft.sale_id] = record
            self._after_commit(record, kick)
        return saved

    def _after_commit(self, record: Record, kick: str | None) -> None:
        # The record is durable; everything after it is best effort and must never lose
        # or repeat the sale.
        self._emit(Event("sale.committed", {"seq": record.seq, "kind": record.kind}))
        self._wake_printer()
        self._wake_outbox()
        if record.kind in ("sale", "refund"):
            self._count_stock(record)
        if kick is not None:
            # The pulse takes a fifth of a second: the till takes the next scan meanwhile.
            task = asyncio.create_task(self._kick(kick, record.seq))
            self._kicks.add(task)
            task.add_done_callback(self._kicks.discard)

    async def _kick(self, reason: str, seq: int) -> None:
        try:
            await self.drawer.kick(reason)
        except Error as e:  # DrawerError or worse: seen and shown, never fatal
            self._emit(Event("drawer.fault", {"reason": str(e), "seq": seq}))

    async def scans_done(self) -> None:
        """Wait until every scan read so far has been dealt with (a card's balance asked
        and the card put on the sale, or refused)."""
        while self._scan_tail is not None and not self._scan_tail.done():
            await asyncio.wait([self._scan_tail])

    async def settle(self) -> None:
        """Wait for drawer kicks and scans still under way (before stopping)."""
        if self._scan_tail is not None:
            await asyncio.wait([self._scan_tail])
        if self._kicks:
            await asyncio.gather(*self._kicks, return_exceptions=True)

    async def reprint(self, receipt_no: str) -> Outcome:
        """A copy of a receipt, printed marked COPY. Restricted like a refund: a
        supervisor at the till, or a supervisor's one-shot approval (used up here).
        Not a scenario operation; never raises on bad input."""
        async with self._lock:
            try:
                return self._reprint(receipt_no.strip())
            except (Rejected, BadInput) as e:
                reason = e.reason if isinstance(e, Rejected) else str(e)
                log.info("operation refused", extra={"op": "reprint", "reason": reason})
                return Outcome("reprint", rejected=reason)

    def _reprint(self, receipt_no: str) -> Outcome:
        original = self.store.by_receipt_no(receipt_no) if receipt_no else None
        if original is None:
            raise BadInput(f"no receipt {receipt_no!r} in this till's journal")
        staff = self.till.view().staff
        approved_by = self.till.authorise("reprint")
        try:
            job = self.store.print_jobs.add_copy(original.seq)
        except StoreError as e:
            # The approval is spent: the copy is not, so nothing was printed twice.
            log.error("copy not queued", extra={"receipt_no": receipt_no, "error": str(e)})
            raise BadInput(f"the copy could not be queued ({e}); try again") from e
        self._wake_printer()  # as after a sale: print it now, not at the next poll
        detail: dict[str, Any] = {
            "receipt_no": receipt_no,
            "seq": original.seq,
            "job_id": job,
            "staff": staff.id if staff is not None else None,
        }
        if approved_by is not None:
            detail["approved_by"] = approved_by
        self._emit(Event("receipt.reprinted", detail))
        return Outcome("reprint", detail=detail)

    async def clear_unprinted(self, job_ids: Sequence[int]) -> Outcome:
        """Take receipts off the not-printed list without printing them (`held` print jobs
        become `dismissed`): the customers have gone and nobody asked for a copy.
        Restricted like a reprint. Not a scenario operation; never raises on bad input."""
        async with self._lock:
            try:
                return self._clear_unprinted(list(job_ids))
            except (Rejected, BadInput) as e:
                reason = e.reason if isinstance(e, Rejected) else str(e)
                log.info("operation refused", extra={"op": "clear_unprinted", "reason": reason})
                return Outcome("clear_unprinted", rejected=reason)

    def _clear_unprinted(self, job_ids: list[int]) -> Outcome:
        if not job_ids or not all(isinstance(j, int) and not isinstance(j, bool) for j in job_ids):
            raise BadInput("no receipt to clear: the not-printed list is empty")
        staff = self.till.view().staff
        approved_by = self.till.authorise("clear_unprinted")
        try:
            cleared = self.store.print_jobs.dismiss(job_ids)
        except StoreError as e:
            log.error("not-printed list not cleared", extra={"error": str(e)})
            raise BadInput(f"the list could not be cleared ({e}); try again") from e
        detail: dict[str, Any] = {
            "count": cleared,
            "staff": staff.id if staff is not None else None,
        }
        if approved_by is not None:
            detail["approved_by"] = approved_by
        self._emit(Event("receipt.unprinted_cleared", detail))
        return Outcome("clear_unprinted", detail=detail)

    def x_report(self) -> ShiftReport:
        """The running shift's figures (X report): read-only."""
        return shift_report(self.store.since_last_shift_close(), self.exponent)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
