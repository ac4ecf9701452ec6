"""The `appliance demo` command, added to the unit's command line by the
`appliance.commands` entry point. Nothing heavy is imported until it runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocol.errors import BadInput


def run(args: argparse.Namespace) -> int:
    try:
        from demo.day import run_demo
    except ImportError as e:  # a unit installed without the collector's packages
        raise BadInput(
            f"the demo runs a collector too, whose packages are not installed ({e}); "
            "install pos-appliance[demo]"
        ) from e
    return run_demo(Path(args.out), headless=args.headless)


def add_command(command: Callable[..., Any]) -> None:
    """Register `demo` through the command line's own `command(name, func, help)`."""
    sp = command("demo", run, "run a scripted trading day on simulated hardware")
    sp.add_argument("--headless", action="store_true", help="no screens (the only mode for now)")
    sp.add_argument("--out", default="demo-out", metavar="DIR", help="where to write the results")
