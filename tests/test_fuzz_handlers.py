"""A fuzz test for every MQTT handler on both sides, each at its real entry point, with
payloads from tests/fuzzing.py (random bytes, JSON of wrong shapes, deep nesting, huge
and odd numbers, odd unicode, wrong types, and mostly one-field mutations of valid
messages of the protocol package's own types). The properties are in
tests/fuzz_targets.py; `python -m bench fuzz` runs the same ones for longer.

The handlers, and where each is reached:

Unit (a real `open_unit`, its MQTT link connected to a real Mosquitto):
- `appliance.mqtt.client.MqttLink._take`: every message the link reads: `ack` (to
  `OutboxPublisher.ack`), `loyalty/response` (to `LoyaltyAuthoriser.deliver`), the three
  `cmd/…` topics (queued for `_command_worker`), anything else.
- `appliance.mqtt.commands.Commands.handle`: what `_command_worker` calls for each queued
  command, and the encoding of its result: `catalog`, `prices`, `stock`, `config`,
  `resend` and unknown names, from the device, store and fleet topics.
- `appliance.loyalty.authoriser.LoyaltyAuthoriser.deliver`, through the broker, behind
  `balance`, `reserve`, `summary`, `enrol` and `ask` (release, commit).

Collector (a real SQLite database; the replies through the real broker):
- `collector.ingest.batches.Ingestor.ingest`: status (the birth and its key), telemetry,
  events and unknown leaves, of the enrolled device and of new ones; what
  `collector.ingest.worker` runs per batch. After each, `collector.fleet.fleet_status`
  and `render_fleet` (table and JSON) over what was stored.
- the same for `sales`: records of the enrolled device, perturbed and signed again with
  its key, so they get past the chain check to `collector.ingest.bulk`, the loyalty
  settlement and stock.
- `collector.service.Collector._answer_one` with `collector.loyalty.requests.Answers`:
  `loyalty/request` (balance, reserve, release, commit, summary, enrol).
- `collector.service.Collector._consume`: it routes by topic and passes the payload on
  through `_payload`, fuzzed with whatever aiomqtt may hand over.

Each property: the handler never raises, logs nothing at ERROR (both sides' sign of
their own bug), a refusal says why, and refused input changes nothing.

Bounded for `make test` by the settings below (about 25 s on a quiet machine).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, seed, settings

from tests.broker import Broker
from tests.fuzz_targets import TARGETS, CollectorUnderFuzz, UnitUnderFuzz

# Examples per handler in `make test`, by what one costs (a loyalty round trip through the
# broker is ten times a command): about 25 s for the module on a quiet machine, where
# `python -m bench fuzz` runs thousands. Not derandomized, so each run tries new inputs;
# the seed is printed with a failure (FUZZ_SEED=N runs those inputs again), and so is the
# blob that reproduces the failing example itself.
SEED = int(os.environ.get("FUZZ_SEED") or random.getrandbits(32))
FUZZ = settings(
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP, DEAR = settings(FUZZ, max_examples=500), settings(FUZZ, max_examples=120)
MIDDLING = settings(FUZZ, max_examples=200)


def _check(target: Any, harness: Any, args: tuple[Any, ...]) -> None:
    note(f"FUZZ_SEED={SEED} runs these inputs again")
    target.check(harness, *args)


@pytest.fixture(scope="module")
def fuzz_broker() -> Iterator[Broker]:
    b = Broker()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def unit(tmp_path_factory: pytest.TempPathFactory, fuzz_broker: Broker) -> Iterator[UnitUnderFuzz]:
    harness = UnitUnderFuzz(tmp_path_factory.mktemp("fuzz-unit"), fuzz_broker)
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture(scope="module")
def collector(
    tmp_path_factory: pytest.TempPathFactory, fuzz_broker: Broker
) -> Iterator[CollectorUnderFuzz]:
    harness = CollectorUnderFuzz(tmp_path_factory.mktemp("fuzz-collector"), fuzz_broker)
    try:
        yield harness
    finally:
        harness.close()


def _target(name_start: str) -> Any:
    (target,) = [t for name, t in TARGETS.items() if name.startswith(name_start)]
    return target


TAKE = _target("unit: MqttLink._take")
COMMAND = _target("unit: Commands.handle")
DELIVER = _target("unit: LoyaltyAuthoriser.deliver")
INGEST = _target("collector: Ingestor.ingest (status")
SALES = _target("collector: Ingestor.ingest (sales")
ANSWER = _target("collector: Collector._answer_one")
CONSUME = _target("collector: Collector._consume")


def test_every_target_is_tested_here() -> None:
    assert {t.name for t in (TAKE, COMMAND, DELIVER, INGEST, SALES, ANSWER, CONSUME)} == set(
        TARGETS
    )


@CHEAP
@seed(SEED)
@given(TAKE.inputs)
def test_unit_link_takes_any_message(unit: UnitUnderFuzz, args: tuple[Any, ...]) -> None:
    _check(TAKE, unit, args)


@CHEAP
@seed(SEED)
@given(COMMAND.inputs)
def test_unit_commands_refuse_with_a_reason_and_change_nothing(
    unit: UnitUnderFuzz, args: tuple[Any, ...]
) -> None:
    _check(COMMAND, unit, args)


@DEAR
@seed(SEED)
@given(DELIVER.inputs)
def test_unit_loyalty_questions_take_any_answer(unit: UnitUnderFuzz, args: tuple[Any, ...]) -> None:
    _check(DELIVER, unit, args)


@MIDDLING
@seed(SEED)
@given(INGEST.inputs)
def test_collector_ingests_or_dead_letters_any_device_message(
    collector: CollectorUnderFuzz, args: tuple[Any, ...]
) -> None:
    _check(INGEST, collector, args)


@MIDDLING
@seed(SEED)
@given(SALES.inputs)
def test_collector_ingests_or_dead_letters_any_signed_sale(
    collector: CollectorUnderFuzz, args: tuple[Any, ...]
) -> None:
    _check(SALES, collector, args)


@DEAR
@seed(SEED)
@given(ANSWER.inputs)
def test_collector_answers_any_loyalty_request(
    collector: CollectorUnderFuzz, args: tuple[Any, ...]
) -> None:
    _check(ANSWER, collector, args)


@CHEAP
@seed(SEED)
@given(CONSUME.inputs)
def test_collector_consume_takes_any_payload(
    collector: CollectorUnderFuzz, args: tuple[Any, ...]
) -> None:
    _check(CONSUME, collector, args)
