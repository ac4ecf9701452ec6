"""`appliance` command line. Bad input exits 2 with one line on stderr, no traceback."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from appliance import __version__
from appliance.config import Config, load_config
from protocol.commandline import OneLineParser, read_input, run, usage
from protocol.errors import BadInput
from protocol.logs import setup_logging

PROG = "appliance"
# The commands defined here; any other first word (`demo`, `--help`) looks for plugins.
BUILTIN_COMMANDS = frozenset(
    {"run", "replay", "catalog", "receipt", "journal", "display", "release", "staff"}
)


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _journal_path(cfg: Config) -> Path:
    path = cfg.data_dir / "journal.db"
    if not path.exists():
        raise BadInput(f"{path}: no journal here yet (the till has not run with this config)")
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.service import Frontend, run_service, together

    cfg = _config(args)
    setup_logging()
    frontends: list[Frontend] = []
    if cfg.display.enabled:
        # The screens sit on top of the service: it is handed them, never imports them.
        # (No Kivy yet: that comes in when the window opens.)
        from appliance.display.app import serve_display

        frontends.append(serve_display)
    if args.simulate:
        # The screens' twin: scenario events on DATA_DIR/sim-panel.sock (appliance.sim_panel).
        from appliance.sim_panel import serve_sim_panel

        frontends.append(serve_sim_panel)
    frontend = together(*frontends) if frontends else None
    return asyncio.run(
        run_service(cfg, simulate=args.simulate, config_path=Path(args.config), frontend=frontend)
    )


def cmd_replay(args: argparse.Namespace) -> int:
    from appliance.replay import load_scenario, replay

    cfg = _config(args)
    events = load_scenario(args.scenario)
    setup_logging("WARNING")
    return asyncio.run(replay(cfg, events, drain=args.drain, config_path=Path(args.config)))


def cmd_receipt_reprint(args: argparse.Namespace) -> int:
    from appliance.reprint import check_supervisor, reprint

    cfg = _config(args)
    _journal_path(cfg)
    pin = None
    if args.staff is not None and cfg.staff:
        pin = sys.stdin.readline().rstrip("\n")  # never on the command line: ps shows it
    approver = check_supervisor(cfg, args.staff, pin)
    setup_logging("WARNING")
    done = asyncio.run(reprint(cfg, args.receipt_no, wait=args.wait))
    who = f" for {approver}" if approver else ""
    if done.printed:
        print(f"{done.receipt_no}: copy printed{who} (print job {done.job_id})")
        return 0
    print(
        f"{done.receipt_no}: copy queued{who} (print job {done.job_id}) but not printed within "
        f"{args.wait:g} s (printer: {done.printer}); it prints once the printer is back",
        file=sys.stderr,
    )
    return 1


def cmd_receipt_held(args: argparse.Namespace) -> int:
    from appliance.store import Store
    from protocol.money import format_minor

    cfg = _config(args)
    _journal_path(cfg)
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        held = store.print_jobs.held()
    if args.json:
        rows = [
            {
                "receipt_no": h.receipt_no,
                "job_id": h.job_id,
                "copy": h.copy,
                "sold": h.sold,
                "total": h.total,
                "held": h.held,
                "reason": h.reason,
            }
            for h in held
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for h in held:
        kind = "copy of " if h.copy else ""
        total = format_minor(h.total, cfg.exponent)
        print(f"{kind}{h.receipt_no}  sold {h.sold}  {total}  held {h.held}: {h.reason}")
    print(
        f"{len(held)} receipt{'' if len(held) == 1 else 's'} not printed"
        + ("; print a copy with `appliance receipt reprint`" if held else "")
    )
    return 0


def cmd_catalog_import(args: argparse.Namespace) -> int:
    from appliance.sales.catalog import parse_catalog_csv
    from appliance.store import Store

    cfg = _config(args)
    path = Path(args.catalog)
    text = read_input(path, "catalog file", encoding="utf-8-sig")
    items = parse_catalog_csv(text, cfg.exponent, path.name)
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        store.catalog.replace(items)
    print(f"imported {len(items)} items from {path.name}")
    return 0


def cmd_journal_export(args: argparse.Namespace) -> int:
    from appliance.store import Store

    cfg = _config(args)
    _journal_path(cfg)
    out = sys.stdout
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        # The stored text: canonical JSON, every key as hashed and signed.
        for _, text in store.texts():
            out.write(text + "\n")
    out.flush()
    return 0


def cmd_journal_verify(args: argparse.Namespace) -> int:
    from appliance.store import Store

    cfg = _config(args)
    _journal_path(cfg)
    with Store.open(cfg.data_dir, cfg.device.id) as store:
        result = store.verify()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "checked": result.checked,
                    "seq": result.seq,
                    "reason": result.reason,
                }
            )
        )
    elif result.ok:
        print(f"journal intact: {result.checked} records")
    else:
        print(f"journal broken at record {result.seq}: {result.reason}")
    return 0 if result.ok else 1


def cmd_display_snapshot(args: argparse.Namespace) -> int:
    from appliance.display.snapshot import snapshot
    from appliance.replay import load_scenario

    cfg = _config(args)
    events = load_scenario(args.scenario) if args.scenario else []
    out = snapshot(cfg, args.screen, events, Path(args.out))
    print(f"{args.screen} screen written to {out}")
    return 0


def cmd_staff_hash_pin(args: argparse.Namespace) -> int:
    from appliance.sales.staff import hash_pin

    pin = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("PIN: ")
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise BadInput("a PIN is 4 to 8 digits")
    print(hash_pin(pin))
    return 0


def cmd_release_build(args: argparse.Namespace) -> int:
    from appliance import release

    source = Path(args.source) if args.source else Path(__file__).resolve().parent.parent
    made = release.build(source, args.version, args.key, Path(args.out))
    print(
        f"{args.out}: release {made.version} of commit {made.commit[:12]}, "
        f"{made.files} files, {made.size:,} bytes, signed"
    )
    return 0


def cmd_release_verify(args: argparse.Namespace) -> int:
    from appliance import release

    key = release.load_public_key(args.pubkey)
    try:
        found = release.verify(Path(args.bundle), key)
    except release.BundleRejected as exc:
        if args.json:
            print(json.dumps({"ok": False, "reason": str(exc)}))
        else:
            print(f"{args.bundle}: rejected: {exc}")
        return 1
    if args.json:
        print(
            json.dumps(
                {"ok": True, "version": found.version, "commit": found.commit,
                 "files": found.files, "size": found.size}
            )
        )  # fmt: skip
    else:
        print(
            f"{args.bundle}: release {found.version} of commit {found.commit[:12]}, "
            f"{found.files} files, signature and every file intact"
        )
    return 0


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The whole command line; `plugins=False` leaves out the commands other packages add
    (finding them reads every installed distribution's metadata, time and memory that
    `appliance run` on a Pi does not need: docs/benchmarks.md)."""
    p = OneLineParser(prog=PROG, description="Point-of-sale appliance service and tools.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help: str,
        parent: argparse._SubParsersAction[OneLineParser] = sub,
    ) -> OneLineParser:
        sp = parent.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    def with_config(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", required=True, metavar="FILE", help="appliance TOML config")

    sp = command("run", cmd_run, "run the appliance service in the foreground (systemd notify)")
    with_config(sp)
    sp.add_argument("--simulate", action="store_true", help="use simulator twins of every driver")

    # Commands other parts of the product add: the demo, which runs a collector too,
    # lives in its own package and registers itself; the unit never imports it.
    found = entry_points(group="appliance.commands") if plugins else ()
    for plugin in sorted(found, key=lambda e: e.name):
        plugin.load()(command)

    sp = command("replay", cmd_replay, "drive the till with scenario events (JSON Lines)")
    with_config(sp)
    sp.add_argument("scenario", metavar="SCENARIO.jsonl")
    sp.add_argument(
        "--drain",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="with [mqtt] url: wait up to S seconds for the collector's ack of every record",
    )

    cat = command("catalog", lambda a: usage(cat), "manage the local catalog")
    cat_sub = cat.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    sp = command(
        "import",
        cmd_catalog_import,
        "replace the local catalog from a CSV, all or nothing",
        cat_sub,
    )
    with_config(sp)
    sp.add_argument("catalog", metavar="CATALOG.csv")

    rc = command("receipt", lambda a: usage(rc), "copies of receipts, and those not printed")
    rc_sub = rc.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    sp = command(
        "reprint", cmd_receipt_reprint, "print a receipt again, marked COPY (supervised)", rc_sub
    )
    with_config(sp)
    sp.add_argument("receipt_no", metavar="RECEIPT_NO")
    sp.add_argument(
        "--staff", metavar="ID", help="the supervisor asking for it (PIN on stdin with a roster)"
    )
    sp.add_argument(
        "--wait",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="how long to wait for the copy to come out (default 30)",
    )

    sp = command(
        "held",
        cmd_receipt_held,
        "the receipts not printed (too old when the printer could take them), newest first",
        rc_sub,
    )
    with_config(sp)
    sp.add_argument("--json", action="store_true", help="machine-readable list")

    jr = command("journal", lambda a: usage(jr), "read and check the sales journal")
    jr_sub = jr.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    sp = command(
        "export", cmd_journal_export, "every journal record as JSON Lines, oldest first", jr_sub
    )
    with_config(sp)
    sp = command("verify", cmd_journal_verify, "check the hash chain and signatures", jr_sub)
    with_config(sp)
    sp.add_argument("--json", action="store_true", help="machine-readable result")

    ds = command("display", lambda a: usage(ds), "the screens: till, customer display, kiosk")
    ds_sub = ds.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    sp = command(
        "snapshot", cmd_display_snapshot, "render a screen after a scenario to a PNG", ds_sub
    )
    with_config(sp)
    sp.add_argument("--screen", required=True, choices=("customer", "till", "kiosk"))
    sp.add_argument("--scenario", metavar="FILE", help="scenario events (JSON Lines) to play first")
    sp.add_argument("--out", required=True, metavar="PNG", help="where to write the picture")

    rl = command("release", lambda a: usage(rl), "signed update bundles of this checkout")
    rl_sub = rl.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    sp = command("build", cmd_release_build, "bundle and sign the committed checkout", rl_sub)
    sp.add_argument("--version", required=True, metavar="V", help="the release's version")
    sp.add_argument("--key", required=True, metavar="KEY", help="Ed25519 private key, PEM")
    sp.add_argument("--out", required=True, metavar="BUNDLE", help="the bundle to write")
    sp.add_argument("--source", metavar="DIR", help="the git checkout (default: this one)")
    sp = command("verify", cmd_release_verify, "check a bundle's signature and files", rl_sub)
    sp.add_argument("--pubkey", required=True, metavar="PUB", help="Ed25519 public key, PEM")
    sp.add_argument("bundle", metavar="BUNDLE")
    sp.add_argument("--json", action="store_true", help="machine-readable result")

    st = command("staff", lambda a: usage(st), "staff roster tools")
    st_sub = st.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    command("hash-pin", cmd_staff_hash_pin, "print a pin_hash for the [[staff]] roster", st_sub)
    return p


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 3600 seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    builtin = bool(args) and args[0] in BUILTIN_COMMANDS
    return run(build_parser(plugins=not builtin), args)
