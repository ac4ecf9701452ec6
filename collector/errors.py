"""The collector's exceptions: one root, and a BadInput branch for what operators give us."""

from __future__ import annotations

from protocol.errors import BadInput, Error


class CollectorError(Error):
    """The collector could not do what was asked; the message says why and what to do."""


class CollectorInput(CollectorError, BadInput):
    """A database URL, option or file we refuse. Commands exit 2 on it."""
