"""The web shop channel: an HTTP API on the same ledger (`collector api --db URL --port N`).

Each channel has its own API key (`collector channel add NAME` prints it once; only its
SHA-256 is stored: the key is 256 random bits, so a plain hash is enough). Requests carry
it as `Authorization: Bearer KEY` (or `X-API-Key`). Earn and redeem need an
`Idempotency-Key` header: the ledger key is `web:<channel>:<Idempotency-Key>`, so a retry
returns the first answer and never counts twice; the same key with another body is 409.

    GET  /v1/accounts/{account}                      -> {"account","balance","available"}
    POST /v1/accounts/{account}/earn   {"amount","currency"} | {"points"}
    POST /v1/accounts/{account}/redeem {"points"}
         -> {"account","points","balance","replayed"}

The OpenAPI document it serves (`/openapi.json`, kept in docs/webshop-openapi.json)
names every answer a route gives and its body; docs/webshop.md.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at
# definition time, and they name dependencies local to create_app.
import hashlib
import json
import re
import secrets
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.customers.accounts import ACCOUNT_PATTERN
from collector.errors import CollectorInput
from collector.loyalty.book import Change
from collector.loyalty.ledger import Ledger
from collector.loyalty.rules import LoyaltyRefused
from collector.models import LoyaltyChannel
from protocol.limits import MAX_MINOR, MAX_POINTS
from protocol.timestamps import utc_stamp

_NAME = re.compile(r"^[a-z0-9-]{1,32}$")
_IDEM = re.compile(r"^[\x21-\x7e]{1,128}$")


class ChannelInput(CollectorInput):
    """A channel name we refuse."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_channel(engine: Engine, name: str) -> str:
    """Make channel `name` and return its new API key (shown once, stored hashed)."""
    if not _NAME.match(name):
        raise ChannelInput(f"channel name {name[:40]!r} is not [a-z0-9-]{{1,32}}")
    key = f"{name}.{secrets.token_urlsafe(32)}"
    try:
        with Session(engine) as s, s.begin():
            s.add(LoyaltyChannel(name=name, key_hash=_digest(key), created_at=utc_stamp()))
    except IntegrityError as exc:
        raise ChannelInput(f"channel {name} exists already; pick another name") from exc
    return key


def revoke_channel(engine: Engine, name: str) -> str:
    """Revoke channel `name`: its key is refused from the next request on. Returns when
    it was revoked (now, or the first time when it already was); the name stays taken."""
    with Session(engine) as s, s.begin():
        found = s.scalar(
            select(LoyaltyChannel).where(LoyaltyChannel.name == name).with_for_update()
        )
        if found is None:
            raise ChannelInput(f"there is no channel {name[:40]!r} (`collector channel list`)")
        if found.revoked_at is None:
            found.revoked_at = utc_stamp()
        return found.revoked_at


def list_channels(engine: Engine) -> list[dict[str, str | None]]:
    """Every channel, by name: when it was made and, if it was, revoked (never its key)."""
    with Session(engine) as s:
        rows = s.scalars(select(LoyaltyChannel).order_by(LoyaltyChannel.name))
        return [
            {"name": c.name, "created_at": c.created_at, "revoked_at": c.revoked_at} for c in rows
        ]


# The largest request body: earn and redeem bodies are under 300 bytes. Bigger ones are
# refused (413) before they are read, with or without a key: three 100 MB POSTs without a
# key took the process from 100 to 685 MB when FastAPI read them whole first.
MAX_BODY = 16 * 1024


class BodyLimit:
    """ASGI middleware: a request whose body is over `limit` bytes gets 413 and is not
    read on. Content-Length is checked first; a chunked body is counted as it comes. The
    body (at most `limit`) is read here, then handed to the app. (Neither Starlette nor
    uvicorn has a body limit of its own.)"""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            await self._too_large(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: only a disconnect comes

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": f"the request body is over {self.limit} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# JSON Schema calls 1.0 an integer (a number with no fraction); these bodies do not, and
# the document can only say so in words.
_WHOLE = "written as a whole number: 1.0 or 1e3 is refused"


class EarnMoney(BaseModel):
    """Points on money paid, by the chain's rules and the customer's tier. Strict, as
    every body here: `"2"`, `true` or `1.0` are not whole numbers."""

    model_config = ConfigDict(strict=True, extra="forbid")

    amount: int = Field(
        ge=1, le=MAX_MINOR, description=f"paid, in minor units of currency, {_WHOLE}"
    )
    currency: str = Field(
        pattern=r"^[A-Z]{3}$", description="ISO 4217: the base currency or one with a rate"
    )
    order: str | None = Field(default=None, max_length=128)


class EarnPoints(BaseModel):
    """Points outright (a goodwill gesture, a migration)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    points: int = Field(ge=1, le=MAX_POINTS, description=_WHOLE)
    order: str | None = Field(default=None, max_length=128)


def _earn_kind(body: Any) -> str:
    return "points" if isinstance(body, dict) and "points" in body else "money"


# One or the other, never both: the tag picks the model, so a bad body is told what is
# wrong with the one it meant (not every error of both), and the schema says `oneOf`.
EarnBody = Annotated[
    Annotated[EarnMoney, Tag("money")] | Annotated[EarnPoints, Tag("points")],
    Discriminator(_earn_kind),
]


class RedeemBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    points: int = Field(ge=1, le=MAX_POINTS, description=_WHOLE)
    order: str | None = Field(default=None, max_length=128)


# Answers say exactly what they hold: the schema forbids other fields, and so tests catch
# one that creeps in (an echo of the input).
_OUT = ConfigDict(extra="forbid")


class BalanceOut(BaseModel):
    model_config = _OUT

    account: str
    balance: int = Field(description="points on the account")
    available: int = Field(description="the balance less what tills hold for open sales")


class ChangeOut(BaseModel):
    model_config = _OUT

    account: str
    points: int = Field(description="what this request moved: negative for a redeem")
    balance: int = Field(description="the balance after it")
    replayed: bool = Field(description="true when this Idempotency-Key was seen before")


class Problem(BaseModel):
    """What 400, 401, 409 and 413 answer: one line saying why."""

    model_config = _OUT

    detail: str


class FieldError(BaseModel):
    model_config = _OUT

    loc: list[str | int] = Field(description='where: ["body", …], ["path", "account"], …')
    msg: str


class Invalid(BaseModel):
    """What 422 answers: each thing wrong with the request and where (never the input)."""

    model_config = _OUT

    detail: list[FieldError]


def _invalid(msg: str, *loc: str) -> RequestValidationError:
    """A 422 of our own (a currency without a rate, …) in the shape a bad field gets."""
    return RequestValidationError([{"loc": loc, "msg": msg}])


def _responses(*, body: bool, conflict: str | None = None) -> dict[int | str, dict[str, Any]]:
    """What a route may answer besides 200, for the OpenAPI document: FastAPI names only
    what it sees itself. 413 comes from BodyLimit, before FastAPI sees the request; 400 is
    FastAPI's own answer to a body it cannot decode as text, raised inside its handler."""
    out: dict[int | str, dict[str, Any]] = {
        401: {
            "model": Problem,
            "description": "No API key, an unknown one, or a revoked channel's",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
        },
        413: {"model": Problem, "description": f"The request body is over {MAX_BODY} bytes"},
        422: {"model": Invalid, "description": "A bad account, header or body"},
    }
    if body:
        out[400] = {"model": Problem, "description": "The body cannot be decoded as text"}
    if conflict:
        out[409] = {"model": Problem, "description": conflict}
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


_CONFLICT = "This Idempotency-Key was used with another request"


def create_app(engine: Engine, ledger: Ledger) -> FastAPI:
    """The FastAPI app over `ledger` (synchronous handlers run in FastAPI's thread pool)."""
    app = FastAPI(title="Loyalty API", version="1")
    app.add_middleware(BodyLimit)
    currencies = sorted({ledger.settings.base_currency, *ledger.settings.rates})

    def openapi() -> dict[str, Any]:
        # Which currencies earn is configuration ([loyalty] base_currency and rates), not
        # a type: FastAPI's document gets them named, so it says what this server takes.
        if app.openapi_schema is None:
            doc = FastAPI.openapi(app)
            doc["components"]["schemas"]["EarnMoney"]["properties"]["currency"]["enum"] = currencies
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend it

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, and a NaN in it made that answer a 500.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    bearer = HTTPBearer(
        scheme_name="channelKey", description="`Authorization: Bearer KEY`", auto_error=False
    )
    api_key = APIKeyHeader(
        name="X-API-Key",
        scheme_name="channelKeyHeader",
        description="the key alone",
        auto_error=False,
    )

    def channel(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        x_api_key: Annotated[str | None, Depends(api_key)],
    ) -> str:
        key = x_api_key or (credentials.credentials if credentials else "")
        if key:
            with Session(engine) as s:
                found = s.scalar(
                    select(LoyaltyChannel).where(LoyaltyChannel.key_hash == _digest(key))
                )
            if found is not None and found.revoked_at is None:
                return found.name
        raise HTTPException(
            401,
            "a valid channel API key is needed (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )

    Channel = Annotated[str, Depends(channel)]
    Account = Annotated[str, Path(pattern=ACCOUNT_PATTERN, description="8 digits")]
    Idem = Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=_IDEM.pattern,
            description="1-128 visible ASCII characters, one per change: a retry with "
            "the same key and body returns the first answer",
        ),
    ]

    def answer(account: str, change: Change, fingerprint: str) -> ChangeOut:
        if change.replayed and change.detail.get("request") != fingerprint:
            raise HTTPException(409, "this Idempotency-Key was used with another request")
        return ChangeOut(
            account=account,
            points=change.points,
            balance=change.balance,
            replayed=change.replayed,
        )

    def fingerprint(account: str, op: str, body: dict[str, Any]) -> str:
        text = json.dumps([account, op, body], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @app.get("/v1/accounts/{account}", responses=_responses(body=False))
    def balance(account: Account, who: Channel) -> BalanceOut:
        """The account's balance, and what of it is available to redeem."""
        try:
            b = ledger.balance(account)
        except CollectorInput as exc:  # an account we refuse
            raise _invalid(str(exc), "path", "account") from exc
        return BalanceOut(account=account, balance=b.balance, available=b.available)

    @app.post("/v1/accounts/{account}/earn", responses=_responses(body=True, conflict=_CONFLICT))
    def earn(account: Account, body: EarnBody, who: Channel, key: Idem) -> ChangeOut:
        """Credit points: on money paid (`amount`, `currency`) or outright (`points`)."""
        # The fingerprint of the one body model there was before: a retry of a request
        # made before the split still matches its first answer.
        shape = {"amount": None, "currency": None, "points": None, "order": None}
        fp = fingerprint(account, "earn", shape | body.model_dump())
        detail = {"request": fp, "order": body.order}
        ledger_key = f"web:{who}:{key}"
        try:
            if isinstance(body, EarnPoints):
                change = ledger.earn(
                    account, body.points, ledger_key, source=f"web:{who}", detail=detail
                )
            else:
                change = ledger.earn_money(
                    account,
                    body.amount,
                    body.currency,
                    ledger_key,
                    source=f"web:{who}",
                    detail=detail,
                )
        except CollectorInput as exc:  # a currency without a rate, too many points
            raise _invalid(str(exc), "body") from exc
        return answer(account, change, fp)

    @app.post(
        "/v1/accounts/{account}/redeem",
        responses=_responses(
            body=True, conflict=f"{_CONFLICT}, or more points than the account has available"
        ),
    )
    def redeem(account: Account, body: RedeemBody, who: Channel, key: Idem) -> ChangeOut:
        """Spend points, at most what is available."""
        fp = fingerprint(account, "redeem", body.model_dump())
        try:
            change = ledger.redeem(
                account,
                body.points,
                f"web:{who}:{key}",
                source=f"web:{who}",
                detail={"request": fp, "order": body.order},
            )
        except CollectorInput as exc:  # an account or points we refuse
            raise _invalid(str(exc), "body") from exc
        except LoyaltyRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        return answer(account, change, fp)

    return app
