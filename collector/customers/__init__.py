"""Customers: the CRM's master data, kept apart from the points they hold.

`accounts` (account numbers and the account row every change locks first),
`master_data` (the CSV import, the checks a customer's details pass, a customer's
profile), `cards` (first and replacement cards, older issues blocked), `consent`
(marketing consent per channel, with time and source), `enrolment` (a new customer at
a kiosk) and `privacy` (personal data sealed per customer; GDPR export and erase).
The loyalty ledger builds on these; nothing here knows about points.
"""
