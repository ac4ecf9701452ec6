"""The appliance's TOML configuration: strict schema, one clear line on any mistake.

Unknown keys and wrong types are bad input (`ConfigError`, exit 2), so a typo in
a shop's config is caught at start and never silently ignored.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from protocol.commandline import read_input
from protocol.errors import BadInput
from protocol.limits import (
    MAX_CASH_ROUNDING,
    MAX_MINOR,
    MAX_POINTS,
    MAX_POINTS_PER_UNIT,
    MAX_REGION,
)
from protocol.money import exponent as currency_exponent
from protocol.text import control_character

_ID = r"^[a-z0-9-]{1,32}$"
DAY = 86_400.0
Ident = Annotated[str, msgspec.Meta(pattern=_ID)]


class ConfigError(BadInput):
    """The configuration file is missing, unreadable or wrong."""


class DeviceSection(msgspec.Struct, forbid_unknown_fields=True):
    id: Ident
    store: Ident
    region: Annotated[str, msgspec.Meta(max_length=MAX_REGION)] = ""


class StoreSection(msgspec.Struct, forbid_unknown_fields=True):
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"
    prices_include_tax: bool = True
    cash_rounding: Annotated[int, msgspec.Meta(ge=1, le=MAX_CASH_ROUNDING)] = 1
    name: str = ""
    address: list[str] = msgspec.field(default_factory=list)
    footer: list[str] = msgspec.field(default_factory=list)
    tax_id: str = ""


class PathsSection(msgspec.Struct, forbid_unknown_fields=True):
    data_dir: str = "/var/lib/appliance"


class TlsSection(msgspec.Struct, forbid_unknown_fields=True):
    ca: str = ""
    cert: str = ""
    key: str = ""


class MqttSection(msgspec.Struct, forbid_unknown_fields=True):
    url: str = ""
    # The collector's Ed25519 public key (PEM file): the unit acts only on acks, answers
    # and commands signed by it (protocol/envelope.py). Required with `url`.
    collector_key: str = ""
    tls: TlsSection | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    # Seconds between telemetry messages, and without ack progress before the outbox
    # publisher sends again from the first unacknowledged record.
    telemetry_interval: Annotated[float, msgspec.Meta(gt=0, le=DAY)] = 30.0
    ack_timeout: Annotated[float, msgspec.Meta(gt=0, le=DAY)] = 15.0
    # QoS 1 journal records in flight at once.
    window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 64


class LoyaltySection(msgspec.Struct, forbid_unknown_fields=True):
    points_per_unit: Annotated[int, msgspec.Meta(ge=0, le=MAX_POINTS_PER_UNIT)] = 1
    point_value: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)] = 1
    offline_redeem_cap: Annotated[int, msgspec.Meta(ge=0, le=MAX_POINTS)] = 0
    # Seconds the till waits for the collector's answer (card balance, reserve) before it
    # carries on under the offline rules: a customer at the counter should not wait long.
    timeout: Annotated[float, msgspec.Meta(gt=0, le=30)] = 1.5


class HardwareSection(msgspec.Struct, forbid_unknown_fields=True):
    printer: str = "dummy"
    scanner: str = ""
    scanner_baud: Annotated[int, msgspec.Meta(gt=0)] = 9600
    drawer_pin: Annotated[int, msgspec.Meta(ge=0, le=27)] = 17
    # BCM pin of the drawer's open switch; None when the drawer has none.
    drawer_sensor_pin: Annotated[int, msgspec.Meta(ge=0, le=27)] | None = None
    # Seconds a drawer may stay open before we report it.
    drawer_open_alarm: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    # Seconds after its sale (or its request, for a copy) that a receipt still prints by
    # itself; an older one (the printer was out that long) is held and listed on the till
    # for a supervised COPY: the customer has gone. At least 30 s, so a burst of receipts
    # after a short fault all print; at most a week, so every job ends somewhere.
    print_max_age: Annotated[float, msgspec.Meta(ge=30, le=7 * DAY)] = 600.0


class JournalSection(msgspec.Struct, forbid_unknown_fields=True):
    # Seconds between SQLite quick checks of the running till's journal (one at start too).
    check_interval: Annotated[float, msgspec.Meta(gt=0, le=7 * DAY)] = 6 * 3600.0


class UpdateSection(msgspec.Struct, forbid_unknown_fields=True):
    pubkey: str = ""


class DisplaySection(msgspec.Struct, forbid_unknown_fields=True):
    width: Annotated[int, msgspec.Meta(ge=320)] = 800
    height: Annotated[int, msgspec.Meta(ge=240)] = 480
    rotation: Literal[0, 90, 180, 270] = 0
    enabled: bool = True
    # Screens side by side in the one window (a second panel extends the X screen).
    screens: list[Literal["till", "customer", "kiosk"]] = msgspec.field(
        default_factory=lambda: ["till"]
    )
    locale: str = "en_GB"  # money and number format on screen (babel locale)
    logo: str = ""  # PNG for the customer display's idle screen
    font: str = ""  # a TTF with € £ and accents; DejaVu Sans when empty
    favourites: list[str] = msgspec.field(default_factory=list)  # SKUs, in order
    kiosk_timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    # A touch keyboard docked at the bottom when a text field (search, receipt number,
    # kiosk enrolment) is touched; off where a real keyboard is plugged in.
    onscreen_keyboard: bool = True


class TillSection(msgspec.Struct, forbid_unknown_fields=True):
    """What a cashier may do alone, and how many wrong PINs the till takes
    (appliance.sales.pins). Local only: a remote config patch cannot loosen them."""

    # Percent off a line, or off the basket, a cashier gives without a supervisor.
    cashier_discount_max: Annotated[int, msgspec.Meta(ge=0, le=100)] = 10
    # Wrong PINs for one id before each further try waits (1 s, doubling).
    pin_tries: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    # Wrong PINs for one id that lock it until a supervisor unlocks it.
    pin_lockout: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    # Wrong PINs at this till (any ids) before each further try there waits.
    pin_till_tries: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    # The longest wait, seconds.
    pin_wait_max: Annotated[float, msgspec.Meta(ge=1, le=DAY)] = 300.0


class StaffMember(msgspec.Struct, forbid_unknown_fields=True):
    """One person who may log in. `pin_hash` comes from `appliance staff hash-pin`."""

    id: Ident
    name: str
    role: Literal["cashier", "supervisor"]
    pin_hash: str


class Config(msgspec.Struct, forbid_unknown_fields=True):
    device: DeviceSection
    store: StoreSection = msgspec.field(default_factory=StoreSection)
    paths: PathsSection = msgspec.field(default_factory=PathsSection)
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)
    loyalty: LoyaltySection = msgspec.field(default_factory=LoyaltySection)
    hardware: HardwareSection = msgspec.field(default_factory=HardwareSection)
    journal: JournalSection = msgspec.field(default_factory=JournalSection)
    update: UpdateSection = msgspec.field(default_factory=UpdateSection)
    display: DisplaySection = msgspec.field(default_factory=DisplaySection)
    till: TillSection = msgspec.field(default_factory=TillSection)
    # With no roster any name logs in as supervisor (bench and first set-up);
    # with one, PINs are checked and roles enforced.
    staff: list[StaffMember] = msgspec.field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir)

    @property
    def exponent(self) -> int:
        return currency_exponent(self.store.currency)


def _where(err: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.device.id`"; turn that into a TOML key path.
    text = str(err)
    m = re.search(r" - at `\$\.?([^`]*)`", text)
    if not m:
        return text
    path = re.sub(r"\[(\d+)\]", r"[\1]", m.group(1))
    return f"{path}: {text[: m.start()]}" if path else text[: m.start()]


def _with_control(value: object, key: str = "") -> tuple[str, str] | None:
    """The first key whose text holds a control character, and which one: no path, name
    or printed line may (a NUL breaks a path, a GS a receipt)."""
    if isinstance(value, str):
        found = control_character(value)
        return None if found is None else (key, found)
    if isinstance(value, dict):
        children = [(f"{key}.{k}" if key else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    else:
        return None
    return next((f for k, v in children if (f := _with_control(v, k)) is not None), None)


def parse_config(text: str, source: str = "config") -> Config:
    """Parse and validate TOML text; raise ConfigError naming the file and key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from e
    try:
        cfg = msgspec.convert(raw, Config, strict=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {_where(e)}") from e
    try:
        currency_exponent(cfg.store.currency)
    except ValueError as e:
        raise ConfigError(f"{source}: store.currency: {e}") from e
    if (found := _with_control(raw)) is not None:
        raise ConfigError(f"{source}: {found[0]}: control character {found[1]} is not allowed")
    ids = [s.id for s in cfg.staff]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{source}: staff: an id appears twice")
    if cfg.mqtt.url and not cfg.mqtt.collector_key:
        raise ConfigError(
            f"{source}: mqtt.collector_key: required with mqtt.url: the collector's public key "
            "(collector.pub from `collector fleet enroll`), so that only it is obeyed"
        )
    return cfg


def load_config(path: str | Path) -> Config:
    """Read a config file; ConfigError when it is missing, unreadable or wrong."""
    return parse_config(read_input(path, "config file", ConfigError), str(path))
