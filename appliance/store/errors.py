"""The store's exceptions: one root, and a BadInput branch for files we cannot use."""

from __future__ import annotations

from appliance.errors import ApplianceError
from protocol.errors import BadInput


class StoreError(ApplianceError):
    """The local store could not do what was asked; the message says why and what to do."""


class StoreFileError(StoreError, BadInput):
    """A store file (journal.db, device.key, state.json) is corrupt, foreign or too new.

    It is left exactly as it was found: these files are the shop's records and the
    device's identity, so we never repair or replace them behind anyone's back.
    """


class DuplicateSaleError(StoreError):
    """A draft whose sale_id is already in the journal (e.g. a retried commit)."""
