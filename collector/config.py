"""The collector's configuration: one TOML file (`--config FILE`), as strict as the unit's.

Sections: `[database]`, `[keys]`, `[mqtt]` with `[mqtt.tls]`, `[ingest]`, `[cluster]`,
`[loyalty]` (with `tiers`, `[loyalty.rates]`, `[[loyalty.rewards]]` and
`[loyalty.requests]`), `[privacy]`,
`[api]` and `[log]`;
every key has a default, so no file at all is a valid configuration. Unknown keys, wrong
types and bad values are bad input (`ConfigError`, exit 2): one line naming the file and
the key, and nothing is started or written.

Where a value comes from, strongest first: a command-line flag (`--db`, `--broker`,
`--keys`, `--id`, `--batch`, `--tls-ca`, `--tls-cert`, `--tls-key`, `--host`, `--port`), then the
environment (`ENVIRONMENT`), then the file, then the defaults. The master key itself
(`COLLECTOR_MASTER_KEY`, base64) is not configuration: it is read where it is used
(collector.customers.privacy) and never copied into these structs. A file written for
the earlier loyalty-only `--config` (`[loyalty]`, `[privacy]`) is a valid file as it is.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from collector.db import DEFAULT_URL
from collector.errors import CollectorInput
from collector.keys import ENV as KEYS_ENV
from collector.keys import MASTER_KEY, default_dir
from protocol.broker import BrokerAddress, BrokerUrlError
from protocol.commandline import read_input
from protocol.money import exponent

# Environment variables that override a key of the file (and yield to a flag).
ENVIRONMENT = {
    KEYS_ENV: "keys.dir",
    "COLLECTOR_MASTER_KEY_FILE": "privacy.master_key_file",
    "COLLECTOR_LOG_LEVEL": "log.level",
}
# Where collectors before the keys directory made the master key: in the working
# directory. Found there, it is refused rather than replaced (collector.customers.privacy).
LEGACY_MASTER_KEY_FILE = "collector-master.key"


class ConfigError(CollectorInput):
    """The collector's configuration file is missing, unreadable or wrong, or a flag or
    environment variable that overrides it is."""


class DatabaseSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[database]`: `url` is `sqlite:///FILE` or `postgresql+psycopg://USER@HOST/DB`."""

    url: str = DEFAULT_URL


class KeysSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[keys]`: the directory of the collector's secrets (collector.keys); empty: beside
    a SQLite database, else /var/lib/collector/keys."""

    dir: str = ""


class TlsSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[mqtt.tls]` for an `mqtts://` broker: the CA that signed its certificate (the
    system's CAs when empty), and our client certificate and key when it asks for one."""

    ca: str = ""
    cert: str = ""
    key: str = ""


class MqttSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[mqtt]`: the broker, and the client id that keeps this collector's session (one
    fixed id per process: QoS 1 sales queue under it while the collector is down)."""

    url: str = "mqtt://127.0.0.1:1883"
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] = "collector-1"
    tls: TlsSection = msgspec.field(default_factory=TlsSection)


class IngestSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[ingest]`: at most `batch` messages per transaction, taken for up to `window`
    seconds after the first one."""

    batch: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 256
    window: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.005


class ClusterSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[cluster]`: several collectors on one database (collector/members.py). Each
    writes a heartbeat every `heartbeat` seconds; one not seen for `stale` seconds is
    taken for dead and its broker session cleared."""

    heartbeat: Annotated[float, msgspec.Meta(gt=0, le=600)] = 5.0
    stale: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 30.0


class Tier(msgspec.Struct, forbid_unknown_fields=True):
    """Earning is multiplied by `multiplier` once the last 12 months' spend (base currency,
    minor units) reaches `spend`."""

    name: str
    spend: Annotated[int, msgspec.Meta(ge=0)]
    multiplier: str = "1"


class Reward(msgspec.Struct, forbid_unknown_fields=True):
    """`[[loyalty.rewards]]`: what `points` buy, as the kiosk shows it."""

    points: Annotated[int, msgspec.Meta(gt=0)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


def default_rewards() -> list[Reward]:
    return [
        Reward(250, "A free hot drink"),
        Reward(600, "A breakfast box"),
        Reward(1500, "10% off a whole shop"),
        Reward(3000, "A picnic hamper"),
    ]


class RequestsSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[loyalty.requests]`: how `loyalty/request`s are shared out (collector.loyalty.fair).
    Each device may send `rate` a second (`burst` at once); beyond that it is answered
    "too many requests" (as many refusals as that, then nothing). At most `per_device`
    wait per device (then its oldest goes) and `total` in all (then the oldest of the
    longest queue goes); devices are served in turn. A request that waited `max_wait`
    seconds is dropped unanswered (the till gave up at 1.5 s). Drops are logged at most
    once per `log_interval` seconds per device."""

    per_device: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 32
    total: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 4096
    rate: Annotated[float, msgspec.Meta(gt=0, le=100_000)] = 20.0
    burst: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 40
    max_wait: Annotated[float, msgspec.Meta(gt=0, le=600)] = 2.0
    log_interval: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 10.0


class LoyaltySection(msgspec.Struct, forbid_unknown_fields=True):
    """`[loyalty]`: the points rules (collector.loyalty.rules applies them). Points are
    valued in `base_currency`; a sale in another currency is converted with `rates`
    (base units per one unit of it)."""

    base_currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"
    points_per_unit: Annotated[int, msgspec.Meta(ge=0)] = 1
    point_value: Annotated[int, msgspec.Meta(ge=0)] = 1
    expiry_months: Annotated[int, msgspec.Meta(ge=0)] = 24  # 0: points never expire
    reservation_ttl: Annotated[float, msgspec.Meta(gt=0)] = 300.0  # seconds
    # After the till says the sale completed, the hold waits this long for its record.
    commit_ttl: Annotated[float, msgspec.Meta(gt=0)] = 7 * 24 * 3600.0
    tiers: list[Tier] = msgspec.field(default_factory=list)
    rates: dict[str, str] = msgspec.field(default_factory=dict)
    rewards: list[Reward] = msgspec.field(default_factory=default_rewards)
    requests: RequestsSection = msgspec.field(default_factory=RequestsSection)


class PrivacySection(msgspec.Struct, forbid_unknown_fields=True):
    """`[privacy]`: the file of the master key that seals personal data (base64 of 32
    bytes; made, mode 0600, by the first customer import or enrolment); empty: `master.key`
    in the keys directory."""

    master_key_file: str = ""


class ApiSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[api]`: where `collector api` serves the web shop channel."""

    host: Annotated[str, msgspec.Meta(min_length=1)] = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8080


class LogSection(msgspec.Struct, forbid_unknown_fields=True):
    """`[log]`: the level of the JSON log lines on stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"


class CollectorConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Everything the collector is told (see the module's docstring)."""

    database: DatabaseSection = msgspec.field(default_factory=DatabaseSection)
    keys: KeysSection = msgspec.field(default_factory=KeysSection)
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)
    ingest: IngestSection = msgspec.field(default_factory=IngestSection)
    cluster: ClusterSection = msgspec.field(default_factory=ClusterSection)
    loyalty: LoyaltySection = msgspec.field(default_factory=LoyaltySection)
    privacy: PrivacySection = msgspec.field(default_factory=PrivacySection)
    api: ApiSection = msgspec.field(default_factory=ApiSection)
    log: LogSection = msgspec.field(default_factory=LogSection)


def load_config(
    path: str | Path | None,
    *,
    flags: Mapping[str, tuple[str, object]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> CollectorConfig:
    """The configuration from the file at `path` (none: the defaults), overridden by the
    environment (`ENVIRONMENT`; `environ` defaults to os.environ) and by `flags`, which
    map a key (`ingest.batch`) to the flag that set it and its value (`("--batch", 64)`).
    ConfigError names the file and key, the variable or the flag that is wrong."""
    raw: dict[str, Any] = {}
    if path is not None:
        text = read_input(path, "collector config file", ConfigError)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    given: dict[str, str] = {}  # key -> the variable or flag that overrode it
    env = os.environ if environ is None else environ
    for variable, key in ENVIRONMENT.items():
        if env.get(variable):
            _put(raw, key, env[variable])
            given[key] = variable
    for key, (flag, value) in (flags or {}).items():
        _put(raw, key, value)
        given[key] = flag

    def where(key: str) -> str:
        """How a message names `key`: the flag or variable that set it, else FILE: key."""
        if key in given:
            return given[key]
        return ": ".join(str(p) for p in (path, key) if p) or "the configuration"

    try:
        cfg = msgspec.convert(raw, CollectorConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), where)) from exc
    _check(cfg, where)
    # Resolved once, here: every part of the collector reads the same places.
    if not cfg.keys.dir:
        cfg.keys.dir = str(default_dir(cfg.database.url))
    if not cfg.privacy.master_key_file:
        cfg.privacy.master_key_file = str(Path(cfg.keys.dir) / MASTER_KEY)
    return cfg


def _put(raw: dict[str, Any], key: str, value: object) -> None:
    """Set dotted `key` in the parsed TOML, making the tables on the way. Where the file
    has something else than a table on the way, it stays, to be refused as it is."""
    *tables, leaf = key.split(".")
    node = raw
    for name in tables:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            return
    node[leaf] = value


def _explain(message: str, where: Callable[[str], str]) -> str:
    """msgspec's `reason - at `$.a.b`` as `FILE: a.b: reason`; an unknown key named, with
    the keys its table takes."""
    m = re.search(r" - at `\$\.?([^`]*)`$", message)
    key, reason = (m.group(1), message[: m.start()]) if m else ("", message)
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", reason)
    if unknown:
        table = _type_at(key)
        keys = [f.encode_name for f in getattr(table, "fields", ())]
        reason = f"unknown key; {f'[{key}]' if key else 'the file'} takes {', '.join(keys)}"
        key = f"{key}.{unknown.group(1)}" if key else unknown.group(1)
    elif reason.startswith("Invalid enum value"):
        choices = getattr(_type_at(key), "values", ())
        reason += f"; choose one of {', '.join(map(str, choices))}"
    return f"{where(key)}: {reason}"


def _type_at(key: str) -> msgspec.inspect.Type | None:
    """What the configuration takes at dotted `key` (`loyalty.tiers[0]`), as msgspec
    describes it; None when there is no such key."""
    info: Any = msgspec.inspect.type_info(CollectorConfig)
    for part in re.findall(r"[^.\[\]]+|\[[^\]]*\]", key):
        if part.startswith("["):  # a list's item or a table's value
            info = getattr(info, "item_type", None) or getattr(info, "value_type", None)
        elif isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), None)
        else:
            return None
    return info


def _check(cfg: CollectorConfig, where: Callable[[str], str]) -> None:
    """What the types cannot say: URLs that parse, currencies that exist, numbers > 0."""
    try:
        url = make_url(cfg.database.url)
    except ArgumentError as exc:
        raise ConfigError(f"{where('database.url')} {cfg.database.url!r}: {exc}") from exc
    # The same rule open_database applies, checked here to name the file and key.
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{where('database.url')} {cfg.database.url!r} is neither sqlite:///FILE "
            "nor postgresql+psycopg://…"
        )
    try:
        BrokerAddress.parse(cfg.mqtt.url, where("mqtt.url"))
    except BrokerUrlError as exc:
        raise ConfigError(str(exc)) from exc
    if cfg.cluster.stale < 2 * cfg.cluster.heartbeat:
        raise ConfigError(
            f"{where('cluster.stale')}: {cfg.cluster.stale:g} s is less than two heartbeats "
            f"({cfg.cluster.heartbeat:g} s each): a running collector would be taken for dead"
        )
    lo = cfg.loyalty
    if lo.requests.total < lo.requests.per_device:
        raise ConfigError(
            f"{where('loyalty.requests.total')}: {lo.requests.total} is less than "
            f"per_device ({lo.requests.per_device}): one device could not fill its own queue"
        )
    try:
        exponent(lo.base_currency)
    except ValueError as exc:
        raise ConfigError(
            f"{where('loyalty.base_currency')}: {lo.base_currency!r} is not an ISO 4217 currency"
        ) from exc
    for currency, rate in lo.rates.items():
        key = f"loyalty.rates.{currency}"
        try:
            exponent(currency)
        except ValueError as exc:
            raise ConfigError(f"{where(key)}: {currency!r} is not an ISO 4217 currency") from exc
        try:
            if not Decimal(rate).is_finite() or Decimal(rate) <= 0:
                raise InvalidOperation
        except InvalidOperation as exc:
            raise ConfigError(f"{where(key)}: rate {rate!r} is not a number > 0") from exc
    for n, tier in enumerate(lo.tiers):
        try:
            if Fraction(tier.multiplier) < 0:
                raise ValueError
        except (ValueError, ZeroDivisionError) as exc:
            raise ConfigError(
                f"{where(f'loyalty.tiers[{n}].multiplier')}: {tier.multiplier!r} of tier "
                f"{tier.name!r} is not a number ≥ 0"
            ) from exc
