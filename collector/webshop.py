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
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at
# definition time, and they name dependencies local to create_app.
import hashlib
import json
import re
import secrets
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class EarnBody(BaseModel):
    """Points on money paid (by the chain's rules and the customer's tier), or outright.
    Strict: `"2"`, `true` or `1.0` are not points."""

    model_config = ConfigDict(strict=True, extra="forbid")

    amount: int | None = Field(default=None, ge=1, le=MAX_MINOR)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    order: str | None = Field(default=None, max_length=128)


class RedeemBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    points: int = Field(ge=1, le=MAX_POINTS)
    order: str | None = Field(default=None, max_length=128)


def create_app(engine: Engine, ledger: Ledger) -> FastAPI:
    """The FastAPI app over `ledger` (synchronous handlers run in FastAPI's thread pool)."""
    app = FastAPI(title="Loyalty API", version="1")
    app.add_middleware(BodyLimit)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, and a NaN in it made that answer a 500.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    def channel(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> str:
        key = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
        if key:
            with Session(engine) as s:
                found = s.scalar(
                    select(LoyaltyChannel).where(LoyaltyChannel.key_hash == _digest(key))
                )
            if found is not None and found.revoked_at is None:
                return found.name
        raise HTTPException(401, "a valid channel API key is needed (Authorization: Bearer …)")

    Channel = Annotated[str, Depends(channel)]

    def idem(idempotency_key: Annotated[str | None, Header()] = None) -> str:
        if not idempotency_key or not _IDEM.match(idempotency_key):
            raise HTTPException(422, "an Idempotency-Key header (1-128 visible ASCII) is needed")
        return idempotency_key

    Idem = Annotated[str, Depends(idem)]

    def answer(account: str, change: Change, fingerprint: str) -> dict[str, Any]:
        if change.replayed and change.detail.get("request") != fingerprint:
            raise HTTPException(409, "this Idempotency-Key was used with another request")
        return {
            "account": account,
            "points": change.points,
            "balance": change.balance,
            "replayed": change.replayed,
        }

    def fingerprint(account: str, op: str, body: BaseModel) -> str:
        text = json.dumps([account, op, body.model_dump()], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @app.get("/v1/accounts/{account}")
    def balance(account: str, who: Channel) -> dict[str, Any]:
        try:
            b = ledger.balance(account)
        except CollectorInput as exc:  # an account, amount or currency we refuse
            raise HTTPException(422, str(exc)) from exc
        return {"account": account, "balance": b.balance, "available": b.available}

    @app.post("/v1/accounts/{account}/earn")
    def earn(account: str, body: EarnBody, who: Channel, key: Idem) -> dict[str, Any]:
        fp = fingerprint(account, "earn", body)
        detail = {"request": fp, "order": body.order}
        ledger_key = f"web:{who}:{key}"
        try:
            if body.points is not None and body.amount is None:
                change = ledger.earn(
                    account, body.points, ledger_key, source=f"web:{who}", detail=detail
                )
            elif body.amount is not None and body.currency and body.points is None:
                change = ledger.earn_money(
                    account,
                    body.amount,
                    body.currency,
                    ledger_key,
                    source=f"web:{who}",
                    detail=detail,
                )
            else:
                raise HTTPException(422, 'send either {"amount", "currency"} or {"points"}')
        except CollectorInput as exc:  # an account, amount or currency we refuse
            raise HTTPException(422, str(exc)) from exc
        return answer(account, change, fp)

    @app.post("/v1/accounts/{account}/redeem")
    def redeem(account: str, body: RedeemBody, who: Channel, key: Idem) -> dict[str, Any]:
        fp = fingerprint(account, "redeem", body)
        try:
            change = ledger.redeem(
                account,
                body.points,
                f"web:{who}:{key}",
                source=f"web:{who}",
                detail={"request": fp, "order": body.order},
            )
        except CollectorInput as exc:  # an account, amount or currency we refuse
            raise HTTPException(422, str(exc)) from exc
        except LoyaltyRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        return answer(account, change, fp)

    return app
