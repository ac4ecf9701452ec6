"""What the `appliance` and `collector` commands share: one-line errors, exit codes and
reading the files people hand them.

Exit 0 on success, 2 on bad input (one line on stderr naming what and where, no
traceback), 1 when something else failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from protocol.errors import BadInput, Error


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad option is one line (`collector: report sales: …`), no usage."""

    def error(self, message: str) -> NoReturn:
        prog, _, where = self.prog.partition(" ")
        self.exit(2, f"{prog}: {where + ': ' if where else ''}{message}\n")


def usage(parser: argparse.ArgumentParser) -> int:
    """A command group called without an action: its help, and exit 2."""
    parser.print_help(sys.stderr)
    return 2


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the chosen command's `func`, and turn our errors into exit codes."""
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        return usage(parser)
    prog = parser.prog
    try:
        return int(args.func(args))
    except BadInput as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except Error as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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
