"""The exception roots. Each subsystem raises its own subclass, `from` the library error."""

from __future__ import annotations

from pathlib import Path


class ApplianceError(Exception):
    """Something went wrong; the message says what happened and what to do."""


class BadInput(ApplianceError):
    """Input we refuse (a file, an option, a row, a payload). Commands exit 2 on it.

    The message is one line naming what is wrong and where, e.g.
    ``catalog.csv:17: price "1,2x" is not a number``.
    """


def read_input(
    path: str | Path, what: str, error: type[BadInput] = BadInput, encoding: str = "utf-8"
) -> str:
    """The text of a file a person handed us; `error` with one line when it is missing or
    unreadable (`catalog.csv: no such catalog file`)."""
    p = Path(path)
    try:
        return p.read_text(encoding=encoding)
    except FileNotFoundError as e:
        raise error(f"{p}: no such {what}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{p}: cannot read: {e}") from e
