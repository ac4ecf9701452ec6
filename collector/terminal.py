"""How the collector's commands print a table on the terminal: rich's layout as plain
text (no colour codes, 120 columns), so the output is the same on a pipe as on a tty."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table


def as_text(table: Table) -> str:
    """`table` rendered as plain text, without the trailing newline."""
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(table)
    return out.getvalue().rstrip("\n")
