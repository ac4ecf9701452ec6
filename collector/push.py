"""`collector push {catalog,prices,stock,config}`: a catalog CSV, a prices CSV (`sku,price`,
major units as in the catalog), a stock CSV (`sku,stock`) or a TOML config patch, signed
(collector.outgoing.Signer) and sent to one device, a store or the fleet; then each
addressed unit's `cmd/{name}/result` is awaited and reported.

Who is addressed comes from the devices the collector knows (`devices`): one device, every
device of a store, or every device. The command goes once, on the device's, the store's or
the fleet's command topic, QoS 1: a unit that is off gets it from its persistent session
when it comes back (within the command's week), and acts on it once. Results come on each
device's own prefix; the push waits `--wait` seconds for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiomqtt
import msgspec
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.enrolment import device_verifier
from collector.errors import CollectorInput
from collector.models import Device
from collector.outgoing import Signer
from protocol.broker import BrokerAddress
from protocol.catalogfile import (
    CatalogError,
    parse_catalog_csv,
    parse_prices_csv,
    parse_stock_csv,
)
from protocol.chain import PublicKeyError
from protocol.envelope import EnvelopeError, Verifier
from protocol.messages import (
    CommandResult,
    WireError,
    device_topic,
    fleet_cmd_topic,
    from_body,
    parse_device_topic,
    store_cmd_topic,
)
from protocol.money import exponent as currency_exponent

log = logging.getLogger("collector.push")
Kind = Literal["catalog", "prices", "stock", "config"]
KINDS: tuple[Kind, ...] = ("catalog", "prices", "stock", "config")


class PushError(CollectorInput):
    """A push that cannot be made: a bad file, nobody addressed (exit 2, nothing sent)."""


@dataclass(frozen=True)
class Target:
    """Whom a push is for: `device` D, `store` S or the whole `fleet`."""

    scope: Literal["device", "store", "fleet"]
    name: str = ""

    def topic(self, kind: Kind, devices: list[tuple[str, str]]) -> str:
        if self.scope == "device":
            store, device = devices[0]
            return device_topic(store, device, f"cmd/{kind}")
        if self.scope == "store":
            return store_cmd_topic(self.name, kind)
        return fleet_cmd_topic(kind)


@dataclass(frozen=True)
class Answer:
    """One addressed unit's result: `ok`, or why not (`error`); no answer is not ok."""

    device: str
    ok: bool
    error: str | None

    def line(self) -> str:
        return f"{self.device}: ok" if self.ok else f"{self.device}: {self.error}"


def addressed(engine: Engine, target: Target) -> list[tuple[str, str]]:
    """(store, device) of every device `target` names; PushError when there is none."""
    query = select(Device.store, Device.id).order_by(Device.store, Device.id)
    if target.scope == "device":
        query = query.where(Device.id == target.name)
    elif target.scope == "store":
        query = query.where(Device.store == target.name)
    with Session(engine) as s:
        found = [(str(store), str(dev)) for store, dev in s.execute(query)]
    if not found:
        what = {"device": "device", "store": "store", "fleet": "fleet"}[target.scope]
        raise PushError(
            f"no {what}{' ' + target.name if target.name else ''} known to this collector "
            "(a unit is known once it has reported); is --db right?"
        )
    return found


def result_verifiers(engine: Engine, devices: list[tuple[str, str]]) -> dict[str, Verifier]:
    """What opens each addressed device's result: its journal key (a result is sealed by
    the unit, so another client on the broker cannot report a push done)."""
    ids = [device for _store, device in devices]
    with Session(engine) as s:
        rows = s.execute(select(Device.id, Device.public_key).where(Device.id.in_(ids)))
        keys = {str(device): str(pem) for device, pem in rows if pem}
    found: dict[str, Verifier] = {}
    for device, pem in keys.items():
        with contextlib.suppress(PublicKeyError):  # only a valid key is ever registered
            found[device] = device_verifier(pem)
    return found


def command_args(kind: Kind, text: str, source: str, currency: str) -> dict[str, Any]:
    """The command's `args` from the file's text; PushError naming the file and line."""
    try:
        exp = currency_exponent(currency)
    except ValueError as exc:
        raise PushError(f"--currency {currency!r}: {exc}") from exc
    try:
        if kind == "catalog":
            items = parse_catalog_csv(text, exp, source)
            return {
                "items": [
                    {
                        "sku": i.sku,
                        "barcode": i.barcode,
                        "name": i.name,
                        "price": i.price,
                        "tax_rate": i.tax_rate,
                        "category": i.category,
                        "stock": i.stock,
                    }
                    for i in items
                ]
            }
        if kind == "prices":
            return {
                "prices": [{"sku": s, "price": p} for s, p in parse_prices_csv(text, exp, source)]
            }
        if kind == "stock":
            return {"levels": [{"sku": s, "stock": n} for s, n in parse_stock_csv(text, source)]}
    except CatalogError as exc:
        raise PushError(str(exc)) from exc
    try:
        patch = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PushError(f"{source}: not valid TOML: {exc}") from exc
    if not patch or not all(isinstance(v, dict) for v in patch.values()):
        raise PushError(f"{source}: a config patch is tables of keys ([store], [loyalty], …)")
    return {"patch": patch}


async def push(
    broker: BrokerAddress,
    signer: Signer,
    target: Target,
    devices: list[tuple[str, str]],
    kind: Kind,
    args: dict[str, Any],
    *,
    wait: float,
    verifiers: Mapping[str, Verifier],
    tls: Any = None,
) -> list[Answer]:
    """Send the command once and gather the addressed units' results (see the module)."""
    corr = f"push-{uuid.uuid4().hex[:16]}"
    topic = target.topic(kind, devices)
    payload = signer.seal(topic, msgspec.json.encode({"schema": 1, "corr": corr, "args": args}))
    waiting = {device for _store, device in devices}
    answers: dict[str, Answer] = {}
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"collector-push-{uuid.uuid4().hex[:12]}",
        tls_context=tls,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        timeout=max(10.0, wait),
    ) as client:
        await client.subscribe(f"pos/v1/+/+/cmd/{kind}/result", qos=1)
        await client.publish(topic, payload, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                async for msg in client.messages:
                    got = _answer(str(msg.topic), msg.payload, corr, waiting, verifiers)
                    if got is not None:
                        answers[got.device] = got
                    if waiting <= answers.keys():
                        break
    return [
        answers.get(device) or Answer(device, False, f"no answer within {wait:g} s")
        for _store, device in devices
    ]


def _answer(
    topic: str, payload: object, corr: str, waiting: set[str], verifiers: Mapping[str, Verifier]
) -> Answer | None:
    """The result on `topic`, when it is one of ours, sealed by its device."""
    try:
        _store, device, _leaf = parse_device_topic(topic)
        verifier = verifiers.get(device)
        if verifier is None or device not in waiting:
            return None
        raw = payload if isinstance(payload, bytes) else b""
        result = from_body(verifier.open(raw, topic).body, CommandResult)
    except (WireError, EnvelopeError) as exc:
        log.warning("result on %s not taken: %s", topic[:120], exc)
        return None
    if result.corr != corr:
        return None
    return Answer(device, result.ok, None if result.ok else (result.error or "refused"))


def render(answers: list[Answer], as_json: bool) -> str:
    if as_json:
        return "\n".join(
            json.dumps({"device": a.device, "ok": a.ok, "error": a.error}) for a in answers
        )
    return "\n".join(a.line() for a in answers)
