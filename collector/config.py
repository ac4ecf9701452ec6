"""The collector's configuration file (`--config FILE`, TOML): `[loyalty]` and `[privacy]`.

Strict like the unit's: unknown keys and wrong types are bad input (`ConfigError`, exit
2), with one line naming the file and the key.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated

import msgspec

from collector.errors import CollectorInput
from protocol.commandline import read_input
from protocol.money import exponent


class ConfigError(CollectorInput):
    """The collector's configuration file is missing, unreadable or wrong."""


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


class PrivacySection(msgspec.Struct, forbid_unknown_fields=True):
    """`[privacy]`: where the master key that seals personal data is kept."""

    master_key_file: str = ""


class CollectorConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The collector's optional TOML (`--config FILE`): `[loyalty]` and `[privacy]`."""

    loyalty: LoyaltySection = msgspec.field(default_factory=LoyaltySection)
    privacy: PrivacySection = msgspec.field(default_factory=PrivacySection)


def load_config(path: str | None) -> CollectorConfig:
    """The config at `path` (defaults when None); ConfigError naming the mistake."""
    if path is None:
        return CollectorConfig()
    text = read_input(path, "collector config file", ConfigError)
    try:
        cfg = msgspec.convert(tomllib.loads(text), CollectorConfig)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for currency, rate in {cfg.loyalty.base_currency: "1", **cfg.loyalty.rates}.items():
        try:
            exponent(currency)
            if Decimal(rate) <= 0:
                raise InvalidOperation
        except ValueError as exc:
            raise ConfigError(f"{path}: currency {currency!r} is not ISO 4217") from exc
        except InvalidOperation as exc:
            raise ConfigError(f"{path}: rate {rate!r} of {currency} is not a number > 0") from exc
    for tier in cfg.loyalty.tiers:
        try:
            if Fraction(tier.multiplier) < 0:
                raise ValueError
        except ValueError as exc:
            raise ConfigError(
                f"{path}: tier {tier.name!r} multiplier {tier.multiplier!r} is not a number ≥ 0"
            ) from exc
    return cfg
