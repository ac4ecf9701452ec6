"""`collector` command line. Bad input exits 2 with one line on stderr, no traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from appliance.errors import ApplianceError, BadInput
from collector.db import DEFAULT_URL, open_database
from collector.errors import CollectorInput

PROG = "collector"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other bad-input message (argparse would add the usage).
        where = self.prog.removeprefix(PROG).strip()
        self.exit(2, f"{PROG}: {where + ': ' if where else ''}{message}\n")


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.service import setup_logging
    from collector.service import BrokerAddress, Collector, Settings

    if args.batch < 1:
        raise CollectorInput(f"--batch {args.batch}: must be at least 1")
    settings = Settings(BrokerAddress.parse(args.broker), client_id=args.id, batch_size=args.batch)
    engine = open_database(args.db)
    setup_logging()

    async def main() -> None:
        task = asyncio.create_task(Collector(engine, settings).run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    engine.dispose()
    return 0


def cmd_report_sales(args: argparse.Namespace) -> int:
    from collector.reports import (
        DIMENSIONS,
        FORMATS,
        currencies,
        parse_day,
        render_sales,
        sales_report,
    )

    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    # Checked before the database is opened: bad input writes nothing, not even a new file.
    if args.by not in DIMENSIONS:
        raise CollectorInput(f"--by {args.by!r}: choose one of {', '.join(DIMENSIONS)}")
    if args.format not in FORMATS:
        raise CollectorInput(f"--format {args.format!r}: choose one of {', '.join(FORMATS)}")
    engine = open_database(args.db)
    rows = sales_report(engine, args.by, start=start, end=end)
    print(render_sales(rows, args.format, args.by, currencies(engine)))
    return 0


def cmd_report_low_stock(args: argparse.Namespace) -> int:
    from collector.stock import levels

    rows = levels(open_database(args.db), below=args.below, store=args.store)
    if args.json:
        print(json.dumps([{"store": r.store, "sku": r.sku, "stock": r.level} for r in rows]))
    else:
        for r in rows:
            print(f"{r.store}\t{r.sku}\t{r.level}")
    return 0


def cmd_stock_receive(args: argparse.Namespace) -> int:
    from collector.stock import check_move, receive

    check_move(args.store, args.sku, args.qty, "receive")
    level = receive(open_database(args.db), args.store, args.sku, args.qty)
    print(f"{args.store} {args.sku}: {level}")
    return 0


def cmd_stock_count(args: argparse.Namespace) -> int:
    from collector.stock import check_move, count

    check_move(args.store, args.sku, args.qty, "count")
    level = count(open_database(args.db), args.store, args.sku, args.qty)
    print(f"{args.store} {args.sku}: {level}")
    return 0


def cmd_fleet_status(args: argparse.Namespace) -> int:
    from collector.reports import fleet_status, render_fleet

    print(render_fleet(fleet_status(open_database(args.db)), args.json))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="The central collector and its reports.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_: str,
        within: argparse._SubParsersAction[_Parser] = sub,
    ) -> argparse.ArgumentParser:
        c = within.add_parser(name, help=help_, description=help_)
        c.set_defaults(func=func)
        if name not in ("report", "stock", "fleet"):
            c.add_argument("--db", default=DEFAULT_URL, help="database URL (%(default)s)")
        return c

    r = command("run", cmd_run, "ingest what the appliances report over MQTT")
    r.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="broker URL")
    r.add_argument("--id", default="collector-1", help="MQTT client id: fixed per process")
    r.add_argument("--batch", type=int, default=256, help="messages per transaction, at most")

    rep = command("report", lambda a: _usage(rep), "reports")
    rep_sub = rep.add_subparsers(dest="sub", metavar="REPORT", parser_class=_Parser)
    s = command("sales", cmd_report_sales, "sales totals per group", rep_sub)
    s.add_argument("--by", required=True, help="customer, assistant, region, store, product, day")
    s.add_argument("--from", dest="start", help="first day (YYYY-MM-DD)")
    s.add_argument("--to", dest="end", help="last day (YYYY-MM-DD)")
    s.add_argument("--format", default="table", help="table, csv or json")
    low = command("low-stock", cmd_report_low_stock, "stock levels under a threshold", rep_sub)
    low.add_argument("--below", type=int, default=1, help="list levels under this (%(default)s)")
    low.add_argument("--store")
    low.add_argument("--json", action="store_true")

    st = command("stock", lambda a: _usage(st), "stock across outlets")
    st_sub = st.add_subparsers(dest="sub", metavar="ACTION", parser_class=_Parser)
    for name, func, what in (
        ("receive", cmd_stock_receive, "a delivery: add QTY to the level"),
        ("count", cmd_stock_count, "a stock count: the level becomes QTY"),
    ):
        c = command(name, func, what, st_sub)
        c.add_argument("--store", required=True)
        c.add_argument("--sku", required=True)
        c.add_argument("--qty", type=int, required=True)

    fl = command("fleet", lambda a: _usage(fl), "the appliances")
    fl_sub = fl.add_subparsers(dest="sub", metavar="ACTION", parser_class=_Parser)
    f = command("status", cmd_fleet_status, "one row per device", fl_sub)
    f.add_argument("--json", action="store_true")
    return p


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BadInput as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except ApplianceError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
