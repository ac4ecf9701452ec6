"""The exception roots both sides share. Each subsystem raises its own subclass, `from`
the library's error; the unit's root is `appliance.errors.ApplianceError`, the
collector's `collector.errors.CollectorError`."""

from __future__ import annotations


class Error(Exception):
    """Something went wrong; the message says what happened and what to do."""


class BadInput(Error):
    """Input we refuse (a file, an option, a row, a payload). Commands exit 2 on it.

    The message is one line naming what is wrong and where, e.g.
    ``catalog.csv:17: price "1,2x" is not a number``.
    """
