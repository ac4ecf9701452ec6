"""Money and numbers as people in the shop's locale read them (`1 234,56 €`, `£0.05`)."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal

from protocol.errors import BadInput


class LocaleError(BadInput):
    """`[display] locale` names no locale we know."""


class MoneyText:
    """Formats integer minor units in the configured currency and locale.

    Decimal from the integer (never a float), so what is shown is exactly what is charged.
    """

    def __init__(self, currency: str, exponent: int, locale: str) -> None:
        try:
            self.locale = Locale.parse(locale)
        except (UnknownLocaleError, ValueError) as e:
            raise LocaleError(
                f"display.locale: {locale!r} is not a locale (use e.g. fr_FR, en_GB, de_CH)"
            ) from e
        self.currency = currency
        self.exponent = exponent

    def __call__(self, minor: int) -> str:
        return str(
            format_currency(
                Decimal(minor).scaleb(-self.exponent), self.currency, locale=self.locale
            )
        )

    def number(self, value: int) -> str:
        """A whole number with the locale's grouping (points balances)."""
        return str(format_decimal(value, locale=self.locale))
