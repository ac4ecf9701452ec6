"""The unit's exception root. Each subsystem raises its own subclass, `from` the library
error; refused input is `protocol.errors.BadInput` (commands exit 2 on it)."""

from __future__ import annotations

from protocol.errors import Error


class ApplianceError(Error):
    """Something went wrong on the unit; the message says what happened and what to do."""
