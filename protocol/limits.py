"""The limits both sides keep, defined once: the unit refuses what the collector would
(and the other way round), so nothing passes at one end to be refused at the other."""

from __future__ import annotations

# The largest amount anything may be, in minor units (a price, a tender, a line, a
# rounding step's multiple): 100,000,000.00 in a two-decimal currency. Far beyond a shop,
# and sums of millions of them stay exact in a 64-bit database column.
MAX_MINOR = 10**10
# The most points one request, sale or adjustment may move (sums stay inside BIGINT).
MAX_POINTS = 10**12
# The most units of one item a stock level may count, either way (a level goes below 0
# when sales outrun the count). Far beyond a shop; a level and its moves stay inside the
# 64-bit integer of both sides' databases (a level of 2**63 crashed the unit's `cmd/stock`).
MAX_STOCK = 10**9
# The largest cash rounding step, in minor units (CHF rounds to 5, SEK to 100).
MAX_CASH_ROUNDING = 1000
# The most points a customer earns per whole currency unit paid.
MAX_POINTS_PER_UNIT = 1000

# Text limits. The unit refuses longer values where they come in (a catalog, its config);
# the collector's columns are this wide, and it stores a longer value from an older unit
# cut to fit (the raw record keeps it whole): a legal record is never dead-lettered, so a
# unit's reporting never sticks at one seq.
MAX_SKU = 64
MAX_ITEM_TEXT = 200  # an item's name or category
MAX_REGION = 64
MAX_STAFF = 64
MAX_RECEIPT_NO = 128
MAX_VERSION = 64
