"""The exception roots. Each subsystem raises its own subclass, `from` the library error."""


class ApplianceError(Exception):
    """Something went wrong; the message says what happened and what to do."""


class BadInput(ApplianceError):
    """Input we refuse (a file, an option, a row, a payload). Commands exit 2 on it.

    The message is one line naming what is wrong and where, e.g.
    ``catalog.csv:17: price "1,2x" is not a number``.
    """
