"""The collector's exceptions: one root, and a BadInput branch for what operators give us."""

from __future__ import annotations

from appliance.errors import ApplianceError, BadInput


class CollectorError(ApplianceError):
    """The collector could not do what was asked; the message says why and what to do."""


class CollectorInput(CollectorError, BadInput):
    """A database URL, option or file we refuse. Commands exit 2 on it."""
