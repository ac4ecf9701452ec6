"""The protocol: what crosses between a unit and the collector, defined once.

Both `appliance` (the unit) and `collector` import this package; it imports neither.
It holds the wire messages and their limits (`messages`), the sale record (`record`),
the journal's hash chain and signatures (`chain`), the contract's money rules and
currency exponents (`money`), loyalty card numbers (`cards`), the one wire timestamp
(`timestamps`), broker addresses and TLS (`broker`), the JSON log format (`logs`) and
what both command lines share (`commandline`, `errors`).
"""
