"""The limits both sides keep, defined once: the unit refuses what the collector would
(and the other way round), so nothing passes at one end to be refused at the other."""

from __future__ import annotations

# The largest amount anything may be, in minor units (a price, a tender, a line, a
# rounding step's multiple): 100,000,000.00 in a two-decimal currency. Far beyond a shop,
# and sums of millions of them stay exact in a 64-bit database column.
MAX_MINOR = 10**10
# The most points one request, sale or adjustment may move (sums stay inside BIGINT).
MAX_POINTS = 10**12
# The largest cash rounding step, in minor units (CHF rounds to 5, SEK to 100).
MAX_CASH_ROUNDING = 1000
# The most points a customer earns per whole currency unit paid.
MAX_POINTS_PER_UNIT = 1000
