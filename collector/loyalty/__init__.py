"""Loyalty: the collector is the authority on every points balance.

`rules` (pure: earn, tiers, rounding, expiry, refunds in proportion), `book` (lots,
spends, reversals, holds and the ledger rows, inside a caller's transaction),
`settlement` (an ingested sale record's points, in the sale's own transaction),
`ledger` (the facade the rest of the collector uses) and `requests` (the answers to
the tills' and kiosks' `loyalty/request`s). See docs/loyalty.md.
"""
