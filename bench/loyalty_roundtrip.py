"""Loyalty authorisation round trip: card scanned to balance shown, with 100 tills.

`python -m bench loyalty-rt [--tills 100] [--rounds 20] [--think 1.0] [--quick]
[--broker plain,tls] [--modes steady,burst]`.

One Mosquitto and one `collector run` process on SQLite, its ledger holding points for
every card. `--broker` says which Mosquitto (bench/brokers.py), one after the other in
the same run: `plain` (tests/broker.py, the default), `tls` (the one `collector fleet
broker-config` writes: every till enrolled with its certificate, every client on
mqtts:// with one, the ACL). 99 simulated tills (each its own MQTT client and the
till's own `LoyaltyAuthoriser`, in this process) and one real unit (`open_unit`, cards
read through the simulated serial scanner, timed from the scan to the controller's
outcome carrying the balance) ask balances:

- steady: each till scans a card every `think` seconds on average (uniform 0..2×think),
  far more often than a real counter does;
- burst: every till scans at the same instant, `rounds` times.

Baseline on the same broker with the same clients and load: a bare aiomqtt QoS 1
request → an echo client that answers at once (no database) → response. With both
brokers, the TLS figures are also given against the plain ones. Results go to
bench/results/loyalty_roundtrip.json; target p99 under 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from appliance.loyalty.authoriser import LoyaltyAuthoriser
from bench.brokers import BASELINE, BenchBroker, broker_kinds, open_broker
from protocol.cards import make_loyalty_card
from protocol.envelope import Verifier
from protocol.messages import LoyaltyRequest, LoyaltyResponse, decode, encode
from tests.records import enrol, seal_as

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "loyalty_roundtrip.json"
TARGET_MS = 30.0
MODES = ("steady", "burst")
UNIT = "bench-unit"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(pct(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def collector_verifier() -> Verifier:
    """The verifier for the collector's key, which the tests' conftest makes (importing it
    sets COLLECTOR_KEYS for the collector process too)."""
    from tests.conftest import COLLECTOR_KEYS

    return Verifier(COLLECTOR_KEYS.signing_key().public_key())


def modes(text: str) -> list[str]:
    found = [m for m in MODES if m in text.split(",")]
    if not found or len(found) != len(text.split(",")):
        raise argparse.ArgumentTypeError(f"{text!r}: give steady, burst or both")
    return found


def till_id(n: int) -> tuple[str, str]:
    """Simulated till n: its device id and its store."""
    return f"bench-{n:03d}", f"s{n % 10:03d}"


class BenchTill:
    """A simulated till: an MQTT client carrying the till's own LoyaltyAuthoriser,
    connecting as itself (its own certificate on TLS)."""

    def __init__(
        self, broker: BenchBroker, n: int, timeout: float, kind: str = "bench", who: str = ""
    ) -> None:
        self.device = f"{kind}-{n:03d}"
        self.account = f"{n + 1:08d}"
        self.card = make_loyalty_card(self.account, 0)
        self.client = broker.client(who or self.device, self.device)
        self.topic = f"pos/v1/s{n % 10:03d}/{self.device}/loyalty/"
        self.authoriser = LoyaltyAuthoriser(self.device, timeout=timeout, channel=self)
        self.connected = False

    async def send_loyalty(self, request: LoyaltyRequest) -> None:
        # Sealed with the simulated till's key, as MqttLink seals with the unit's.
        topic = self.topic + "request"
        await self.client.publish(topic, seal_as(self.device, topic, request), qos=1)

    async def open(self, stack: contextlib.AsyncExitStack) -> None:
        await stack.enter_async_context(self.client)
        await self.client.subscribe(self.topic + "response", qos=1)
        self.connected = True

    async def listen(self) -> None:
        # As the unit's MqttLink does: only an answer the collector signed is taken.
        verifier = collector_verifier()
        async for msg in self.client.messages:
            opened = verifier.open(msg.payload, str(msg.topic))  # type: ignore[arg-type]
            self.authoriser.deliver(encode(opened.body))

    async def ask(self) -> None:
        found = await self.authoriser.balance(self.card)
        assert found.balance > 0, found


class EchoTill(BenchTill):
    """The baseline: the same request and response, answered by a bare echo client (both
    with the bench's baseline certificate on TLS: the ACL keeps devices off `echo/…`)."""

    def __init__(self, broker: BenchBroker, n: int, timeout: float) -> None:
        super().__init__(broker, n, timeout, kind="echo", who=BASELINE)
        self.topic = f"echo/{self.device}/"
        self.waiting: dict[str, asyncio.Future[LoyaltyResponse]] = {}

    async def listen(self) -> None:
        async for msg in self.client.messages:
            resp = decode(msg.payload, LoyaltyResponse)  # type: ignore[arg-type]
            fut = self.waiting.pop(resp.corr, None)
            if fut is not None:
                fut.set_result(resp)

    async def ask(self) -> None:
        corr = os.urandom(8).hex()
        fut: asyncio.Future[LoyaltyResponse] = asyncio.get_running_loop().create_future()
        self.waiting[corr] = fut
        req = LoyaltyRequest(corr=corr, op="balance", account=self.account, card=self.card)
        # Bare: the baseline is the broker's QoS 1 round trip, nothing of ours.
        await self.client.publish(self.topic + "request", encode(req), qos=1)
        await asyncio.wait_for(fut, 5)


async def echo(broker: BenchBroker) -> None:
    async with broker.client(BASELINE, "echo") as c, asyncio.TaskGroup() as tg:
        await c.subscribe("echo/+/request", qos=1)
        async for msg in c.messages:
            req = decode(msg.payload, LoyaltyRequest)  # type: ignore[arg-type]
            resp = LoyaltyResponse(corr=req.corr, ok=True, balance=1000, first_name="Jane")
            topic = str(msg.topic)[: -len("request")] + "response"
            # Answered concurrently, as the collector does (a QoS 1 publish awaits its PUBACK).
            tg.create_task(c.publish(topic, encode(resp), qos=1))


async def load(
    asks: list[Callable[[], Awaitable[None]]], rounds: int, think: float, burst: bool
) -> list[float]:
    """Each ask `rounds` times: all at once per round (burst) or with random think time."""
    samples: list[float] = []

    async def timed(ask: Callable[[], Awaitable[None]]) -> None:
        t = time.perf_counter()
        await ask()
        samples.append(time.perf_counter() - t)

    if burst:
        for _ in range(rounds):
            await asyncio.gather(*(timed(a) for a in asks))
            await asyncio.sleep(0.2)
        return samples

    async def till(ask: Callable[[], Awaitable[None]]) -> None:
        for _ in range(rounds):
            await asyncio.sleep(random.uniform(0, 2 * think))
            await timed(ask)

    await asyncio.gather(*(till(a) for a in asks))
    return samples


async def real_unit(broker: BenchBroker, work: Path, timeout: float) -> Any:
    """A whole unit (open_unit, simulated drivers) reporting to the broker."""
    from appliance.config import parse_config
    from appliance.service import open_unit
    from appliance.store import Store
    from tests.conftest import config_text

    extra = broker.unit_mqtt(UNIT)
    text = config_text(work / "unit", extra=extra).replace('id = "till-01"', f'id = "{UNIT}"')
    cfg = parse_config(text, "bench.toml")
    cfg.loyalty.timeout = timeout
    Store.open(cfg.data_dir, cfg.device.id).close()
    return open_unit(cfg, simulate=True)


async def run_on(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The round trips on one broker kind: a fresh collector database, broker and
    `collector run` process of its own."""
    from appliance.controller import Outcome
    from appliance.replay import scan_through_scanner
    from collector.db import open_database
    from collector.loyalty.ledger import Ledger

    collector_verifier()  # the collector's key, in COLLECTOR_KEYS before it starts
    work = Path(tempfile.mkdtemp(prefix=f"bench-loyalty-rt-{kind}-"))
    os.chmod(work, 0o755)  # Mosquitto, dropped to its own user, reads the broker's files here
    db = work / "collector.db"
    engine = open_database(f"sqlite:///{db}")
    ledger = Ledger(engine)
    for n in range(args.tills + 1):
        ledger.earn(f"{n + 1:08d}", 1000, f"bench:{n}", source="bench")
    # The collector answers only enrolled devices: the bench tills and the real unit.
    t = time.perf_counter()
    devices = [till_id(n) for n in range(args.tills - 1)] + [(UNIT, "s001")]
    broker = open_broker(kind, work, engine, devices)
    # Their keys, as if each bench till's birth had been ingested (the unit sends its own).
    enrol(engine, *devices[:-1], keys=True)
    engine.dispose()
    print(f"{kind}: {len(devices)} devices enrolled, broker up in {time.perf_counter() - t:.1f} s")
    log = open(work / "collector.log", "ab")  # noqa: SIM115 - lives with the process
    collector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "run",
            "--db",
            f"sqlite:///{db}",
            *broker.collector_flags(),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    out: dict[str, Any] = {"broker": broker.url}
    try:
        async with contextlib.AsyncExitStack() as stack:
            tills = [BenchTill(broker, n, args.timeout) for n in range(args.tills - 1)]
            echoes = [EchoTill(broker, n, args.timeout) for n in range(args.tills)]
            for till in tills + echoes:
                await till.open(stack)
            listeners = [asyncio.create_task(till.listen()) for till in tills + echoes]
            listeners.append(asyncio.create_task(echo(broker)))
            # The collector is up once it answers.
            for _ in range(100):
                with contextlib.suppress(Exception):
                    await tills[0].ask()
                    break
                await asyncio.sleep(0.2)
            unit = await stack.enter_async_context(await real_unit(broker, work, args.timeout))
            assert await unit.scanner_connected()
            await unit.controller.handle({"op": "login", "staff": "ana"})
            card = make_loyalty_card(f"{args.tills:08d}", 0)
            unit_samples: list[float] = []

            async def unit_ask() -> None:
                t = time.perf_counter()
                outcome: Outcome = await scan_through_scanner(unit, card)
                unit_samples.append(time.perf_counter() - t)
                assert outcome.detail and outcome.detail["offline"] is False, outcome
                await unit.controller.handle({"op": "cancel"})

            await unit_ask()  # warm
            unit_samples.clear()
            asks = [till.ask for till in tills]
            for mode in args.modes:
                burst = mode == "burst"
                unit_samples.clear()
                samples = await load([*asks, unit_ask], args.rounds, args.think, burst)
                out[mode] = {
                    "all_tills": summary(samples),
                    "real_unit_scan_to_balance": summary(unit_samples),
                    "baseline_bare_qos1": summary(
                        await load([e.ask for e in echoes], args.rounds, args.think, burst)
                    ),
                }
                print(kind, mode, json.dumps(out[mode]), flush=True)
            # Publishes by the simulated tills, resends (same corr) included.
            out["requests_sent"] = sum(till.authoriser.sent for till in tills)
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    finally:
        collector.terminate()
        collector.wait(15)
        broker.close()
    return out


def against(tls: dict[str, Any], plain: dict[str, Any], modes: list[str]) -> dict[str, Any]:
    """TLS over plain, per mode and figure: p50 and p99 ratios."""
    return {
        mode: {
            part: {
                q: round(tls[mode][part][q] / plain[mode][part][q], 2)
                for q in ("p50_ms", "p99_ms")
                if plain[mode][part][q]
            }
            for part in plain[mode]
        }
        for mode in modes
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"tills": args.tills, "rounds": args.rounds, "think_s": args.think}
    for kind in args.broker:
        out[kind] = await run_on(kind, args)
    if "plain" in out and "tls" in out:
        out["tls_against_plain"] = against(out["tls"], out["plain"], args.modes)
    out["target_p99_ms"] = TARGET_MS
    return out


def arguments(p: argparse.ArgumentParser, brokers: str = "plain") -> None:
    """The load's options, which `python -m bench trust` shares (`brokers` by default)."""
    p.add_argument("--tills", type=int, default=100)
    p.add_argument("--think", type=float, default=1.0, help="mean seconds between scans")
    p.add_argument("--timeout", type=float, default=5.0, help="the tills' answer timeout")
    p.add_argument(
        "--broker",
        type=broker_kinds,
        default=broker_kinds(brokers),
        help=f"plain, tls or plain,tls (one after the other, in this run); default {brokers}",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench loyalty-rt", description=__doc__)
    arguments(p)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--modes", type=modes, default=list(MODES), help="steady, burst or both")
    p.add_argument("--quick", action="store_true", help="5 rounds, 0.3 s think time")
    args = p.parse_args(argv)
    if args.tills < 2:
        p.error("--tills: at least 2 (the simulated tills and the whole unit)")
    if args.quick:
        args.rounds, args.think = 5, 0.3
    out = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
