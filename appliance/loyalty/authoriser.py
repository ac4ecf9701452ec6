"""The till's side of loyalty: questions to the collector over MQTT, answered by `corr`.

The collector holds every balance (docs/loyalty.md). The till asks it on
`loyalty/request` and waits a short, configured time for `loyalty/response` with the
same `corr`; past that the till carries on under the offline rules (earn flagged, redeem
capped). A request that goes unanswered is sent again with the *same* corr, so the
collector's idempotency key (`hold:<device>:<corr>`) turns a retried reserve into the
same hold, never a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from appliance.errors import ApplianceError
from appliance.loyalty.customers import (
    CustomerSummary,
    Enrolment,
    EnrolResult,
    ExpiringPoints,
    Purchase,
    Reward,
)
from protocol.cards import loyalty_card
from protocol.errors import Error
from protocol.messages import (
    LoyaltyEnrolment,
    LoyaltyRequest,
    LoyaltyResponse,
    WireError,
    decode,
    encode,
)

log = logging.getLogger("appliance.loyalty")

DEFAULT_TIMEOUT = 1.5
LINK_POLL = 0.02  # seconds between looks at a link that has not connected yet
# How many times a request goes out within its timeout (the first send included).
SENDS = 2
# Enrolment seals personal data and allocates an account: give it longer than a balance.
ENROL_TIMEOUT = 6.0
# How long a form that went unanswered keeps its corr: the same details sent again in that
# time are the same request, so an enrolment the collector made after the kiosk gave up
# is the one returned, not a second account (the collector's key is `enrol:<device>:<corr>`).
ENROL_RETRY_WINDOW = 600.0


class LoyaltyError(ApplianceError):
    """A loyalty question to the collector did not get a usable answer."""


class LoyaltyUnavailable(LoyaltyError):
    """No answer in time (link down, collector away or failing): use the offline rules."""


class LoyaltyRefused(LoyaltyError):
    """The collector answered no: a blocked card, not enough points, an unknown hold."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoyaltyChannel(Protocol):
    """What the authoriser needs from the MQTT link (MqttLink is one)."""

    @property
    def connected(self) -> bool: ...

    async def send_loyalty(self, request: LoyaltyRequest) -> None:
        """Publish `request` (sealed with the device key: the collector answers nothing else)."""
        ...


@dataclass(frozen=True)
class CardBalance:
    """A card's points available now (balance less active holds) and the holder's first name."""

    account: str
    balance: int
    first_name: str | None


@dataclass(frozen=True)
class Hold:
    """Points the collector reserved for this till's open sale; `balance` is what is left."""

    reservation: str
    points: int
    balance: int | None


class LoyaltyAuthoriser:
    """Asks the collector about cards and points for one till.

    `balance`, `reserve` wait at most `timeout` seconds and raise `LoyaltyUnavailable` or
    `LoyaltyRefused`; `release_later` and `commit_later` are best effort in the background
    (a hold also expires by itself), and `settle()` waits for them. `deliver(payload)` is
    fed every `loyalty/response` by the link. Also the screens' `LoyaltyLookup`.
    """

    def __init__(
        self,
        device: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        channel: LoyaltyChannel | None = None,
        new_corr: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.device = device
        self.timeout = timeout
        self.channel = channel
        self._new_corr = new_corr
        self._waiting: dict[str, asyncio.Future[LoyaltyResponse]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.sent = 0  # publishes, resends included (tests and the bench read it)
        self._seen_online = False
        # Forms sent but not answered: SHA-256 of their details -> (corr, kept until).
        self._unanswered: dict[str, tuple[str, float]] = {}

    @property
    def online(self) -> bool:
        up = self.channel is not None and self.channel.connected
        self._seen_online |= up
        return up

    async def _link_up(self, deadline: float) -> bool:
        """Whether the link is up. Right after start-up it may be moments from its first
        session, so wait for it within the deadline; once it has been up, a down link means
        offline at once (the customer does not wait for a broker that is away)."""
        loop = asyncio.get_running_loop()
        while not self.online:
            if self._seen_online or self.channel is None or loop.time() >= deadline:
                return False
            await asyncio.sleep(LINK_POLL)
        return True

    # -- the wire ------------------------------------------------------------------------
    def deliver(self, payload: bytes) -> None:
        """A `loyalty/response` arrived; wakes whoever waits on its corr (late ones drop)."""
        try:
            response = decode(payload, LoyaltyResponse)
        except WireError as e:
            log.warning("loyalty response refused", extra={"error": str(e)})
            return
        future = self._waiting.get(response.corr)
        if future is not None and not future.done():
            future.set_result(response)

    async def ask(self, request: LoyaltyRequest, timeout: float | None = None) -> LoyaltyResponse:
        """Send `request` (again, same corr, if it goes unanswered) and return the answer.

        LoyaltyUnavailable when the link is down or nothing comes within `timeout` (default
        the authoriser's), or the collector says it could not answer; LoyaltyRefused when
        it answers no.
        """
        loop = asyncio.get_running_loop()
        timeout = timeout or self.timeout
        deadline = loop.time() + timeout
        channel = self.channel
        if channel is None or not await self._link_up(deadline):
            raise LoyaltyUnavailable("the till is not connected to the collector")
        future: asyncio.Future[LoyaltyResponse] = loop.create_future()
        self._waiting[request.corr] = future
        try:
            async with asyncio.timeout_at(deadline):
                for attempt in range(SENDS):
                    await channel.send_loyalty(request)
                    self.sent += 1
                    last = attempt == SENDS - 1
                    wait = None if last else max(deadline - loop.time(), 0) / (SENDS - attempt)
                    with contextlib.suppress(TimeoutError):
                        response = await asyncio.wait_for(asyncio.shield(future), wait)
                        break
        except TimeoutError:
            raise LoyaltyUnavailable(
                f"the collector did not answer {request.op} within {timeout:g} s"
            ) from None
        except Error as e:  # the link's own error: not connected, publish failed
            raise LoyaltyUnavailable(f"the {request.op} request could not be sent: {e}") from e
        finally:
            self._waiting.pop(request.corr, None)
        if response.unavailable:
            raise LoyaltyUnavailable(response.error or "the collector could not answer")
        if not response.ok:
            raise LoyaltyRefused(response.error or f"the collector refused {request.op}")
        return response

    def _request(self, op: str, account: str, **fields: object) -> LoyaltyRequest:
        return LoyaltyRequest(corr=self._new_corr(), op=op, account=account, **fields)  # type: ignore[arg-type]

    def _by_card(self, op: str, card: str, **fields: object) -> LoyaltyRequest:
        """A request naming the scanned card (the collector answers no bare account)."""
        found = loyalty_card(card)
        if found is None:
            raise LoyaltyRefused(f"{card[:20]!r} is not a loyalty card number")
        return self._request(op, found.account, card=found.code, **fields)

    # -- questions -----------------------------------------------------------------------
    async def balance(self, card: str) -> CardBalance:
        """Points available on the scanned `card`'s account (a replaced, blocked card is
        refused)."""
        request = self._by_card("balance", card)
        response = await self.ask(request)
        return CardBalance(request.account, int(response.balance or 0), response.first_name)

    async def reserve(self, card: str, points: int, *, sale_id: str | None = None) -> Hold:
        """Hold `points` of the scanned `card`'s account for this till's open sale;
        LoyaltyRefused when fewer are available (or another till got them first)."""
        response = await self.ask(self._by_card("reserve", card, points=points, sale_id=sale_id))
        if not response.reservation:
            raise LoyaltyUnavailable("the collector answered reserve without a reservation id")
        return Hold(response.reservation, points, response.balance)

    def release_later(self, account: str, reservation: str) -> None:
        """The sale was cancelled: let the points go (best effort; the hold expires anyway)."""
        self._later(self._request("release", account, reservation=reservation))

    def commit_later(self, account: str, reservation: str, sale_id: str) -> None:
        """The sale is committed: keep the hold until its record reaches the collector."""
        self._later(self._request("commit", account, reservation=reservation, sale_id=sale_id))

    def _later(self, request: LoyaltyRequest) -> None:
        async def send() -> None:
            try:
                await self.ask(request)
            except LoyaltyError as e:
                log.info(
                    "loyalty request not answered",
                    extra={"op": request.op, "reservation": request.reservation, "error": str(e)},
                )

        task = asyncio.create_task(send(), name=f"loyalty-{request.op}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for background releases and commits (before the link stops)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout or self.timeout * 2)

    # -- the screens' LoyaltyLookup -----------------------------------------------------------
    async def summary(self, card: str) -> CustomerSummary:
        """What the kiosk shows for the scanned `card`: first name, balance, last purchases,
        rewards within reach, points expiring soon. Offline (or no answer): the account
        only, flagged offline."""
        request = self._by_card("summary", card)
        account = request.account
        try:
            r = await self.ask(request)
        except LoyaltyUnavailable:
            return CustomerSummary(account=account, offline=True)
        except LoyaltyRefused:
            return CustomerSummary(account=account)
        return CustomerSummary(
            account=account,
            first_name=r.first_name,
            balance=int(r.balance or 0),
            purchases=tuple(
                Purchase(p.date, p.total, p.points, store=p.store, currency=p.currency)
                for p in r.purchases or ()
            ),
            rewards=tuple(Reward(w.title, w.points) for w in r.rewards or ()),
            expiring=tuple(ExpiringPoints(e.points, e.on) for e in r.expiring or ()),
        )

    async def enrol(self, form: Enrolment) -> EnrolResult:
        """A new customer made by the collector (account number, card, consent recorded
        with this device as the source). Offline: the form is not kept here (personal
        data waits on no countertop unit); the customer is asked to try again or ask at
        the till."""
        details = LoyaltyEnrolment(
            first_names=form.first_names,
            surname=form.surname,
            email=form.email,
            consent={"email": form.consent},  # the one channel the form asks about
        )
        # Only a digest of the details is kept, and only while the retry window lasts.
        fingerprint = hashlib.sha256(encode(details)).hexdigest()
        now = asyncio.get_running_loop().time()
        self._unanswered = {k: v for k, v in self._unanswered.items() if v[1] > now}
        corr = self._unanswered[fingerprint][0] if fingerprint in self._unanswered else None
        request = LoyaltyRequest(
            corr=corr or self._new_corr(), op="enrol", account="", enrolment=details
        )
        try:
            r = await self.ask(request, timeout=max(self.timeout, ENROL_TIMEOUT))
        except LoyaltyUnavailable as e:
            log.info("enrolment not answered", extra={"error": str(e)})
            self._unanswered[fingerprint] = (request.corr, now + ENROL_RETRY_WINDOW)
            return EnrolResult(
                ok=False,
                message="We cannot register you right now. Please try again in a moment, "
                "or ask at the till.",
            )
        except LoyaltyRefused as e:
            self._unanswered.pop(fingerprint, None)
            return EnrolResult(ok=False, message=f"We could not register you: {e.reason}.")
        self._unanswered.pop(fingerprint, None)
        if not r.account or not r.card:
            return EnrolResult(ok=False, message="Please ask at the till to join.")
        return EnrolResult(
            ok=True,
            message=f"Your card number is {r.card}. Scan it at the till to collect points.",
            account=r.account,
            card=r.card,
        )
