"""`collector` command line. Bad input exits 2 with one line on stderr, no traceback.

Every command takes `--config FILE` (collector.config); a flag it also takes wins over
the file's key (OVERRIDES), the file's over the default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig, load_config
from collector.db import DEFAULT_URL, open_database
from collector.errors import CollectorInput
from collector.keys import KeyStore
from protocol.commandline import OneLineParser, read_input, run, usage
from protocol.logs import setup_logging

PROG = "collector"
LOG_LEVEL_ENV = "COLLECTOR_LOG_LEVEL"  # overrides [log] level (collector.config)
# The flags that override a key of the configuration file: (attribute, flag, key).
OVERRIDES = (
    ("db", "--db", "database.url"),
    ("keys", "--keys", "keys.dir"),
    ("broker", "--broker", "mqtt.url"),
    ("id", "--id", "mqtt.client_id"),
    ("batch", "--batch", "ingest.batch"),
    ("tls_ca", "--tls-ca", "mqtt.tls.ca"),
    ("tls_cert", "--tls-cert", "mqtt.tls.cert"),
    ("tls_key", "--tls-key", "mqtt.tls.key"),
    ("host", "--host", "api.host"),
    ("port", "--port", "api.port"),
)
TLS_FLAGS = ("tls_ca", "tls_cert", "tls_key")


def configure(args: argparse.Namespace) -> CollectorConfig:
    """The command's configuration: its `--config FILE`, the environment, and the flags
    it was given (a flag left out is None, so the file's key or the default stands)."""
    flags = {
        key: (flag, getattr(args, attr))
        for attr, flag, key in OVERRIDES
        if getattr(args, attr, None) is not None
    }
    return load_config(args.config, flags=flags)


def cmd_run(args: argparse.Namespace) -> int:
    from collector.service import Collector, Settings

    config = configure(args)
    settings = Settings.from_config(config)
    # Bad TLS files are bad input: exit 2 now, not a retry loop. Named as they were given.
    if any(getattr(args, a) is not None for a in TLS_FLAGS):
        tls_from = "--tls-ca/--tls-cert/--tls-key"
    else:
        tls_from = f"{args.config}: mqtt.tls" if args.config else "mqtt.tls"
    settings.tls_context(tls_from)
    engine = open_database(config.database.url)
    setup_logging(config.log.level, env=LOG_LEVEL_ENV)

    async def main() -> None:
        collector = Collector(engine, settings)
        task = asyncio.create_task(collector.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, collector.stop, task)
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
    engine = open_database(configure(args).database.url, create=False)
    rows = sales_report(engine, args.by, start=start, end=end)
    print(render_sales(rows, args.format, args.by, currencies(engine)))
    return 0


def cmd_report_low_stock(args: argparse.Namespace) -> int:
    from collector.stock import levels

    engine = open_database(configure(args).database.url, create=False)
    rows = levels(engine, below=args.below, store=args.store)
    if args.json:
        print(json.dumps([{"store": r.store, "sku": r.sku, "stock": r.level} for r in rows]))
    else:
        for r in rows:
            print(f"{r.store}\t{r.sku}\t{r.level}")
    return 0


def cmd_stock_receive(args: argparse.Namespace) -> int:
    from collector.stock import check_move, receive

    check_move(args.store, args.sku, args.qty, "receive")
    engine = open_database(configure(args).database.url, create=False)
    level = receive(engine, args.store, args.sku, args.qty)
    print(f"{args.store} {args.sku}: {level}")
    return 0


def cmd_stock_count(args: argparse.Namespace) -> int:
    from collector.stock import check_move, count

    check_move(args.store, args.sku, args.qty, "count")
    engine = open_database(configure(args).database.url, create=False)
    level = count(engine, args.store, args.sku, args.qty)
    print(f"{args.store} {args.sku}: {level}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from collector.outgoing import Signer
    from collector.push import Target, addressed, command_args, push, render, result_verifiers
    from collector.service import Settings

    config = configure(args)
    settings = Settings.from_config(config)
    tls = settings.tls_context(
        "--tls-ca/--tls-cert/--tls-key"
        if any(getattr(args, a) is not None for a in TLS_FLAGS)
        else "mqtt.tls"
    )
    if args.wait <= 0 or args.wait > 3600:
        raise CollectorInput(f"--wait {args.wait:g}: give 0 < S <= 3600 seconds")
    target = (
        Target("device", args.device)
        if args.device
        else Target("store", args.store)
        if args.store
        else Target("fleet")
    )
    text = read_input(args.file, f"{args.kind} file", CollectorInput)
    currency = args.currency or config.loyalty.base_currency
    cmd_args = command_args(args.kind, text, args.file, currency)  # bad file: nothing sent
    engine = open_database(config.database.url, create=False)
    devices = addressed(engine, target)
    signer = Signer(KeyStore(Path(config.keys.dir)).signing_key(create=False))
    answers = asyncio.run(
        push(
            settings.broker,
            signer,
            target,
            devices,
            args.kind,
            cmd_args,
            wait=args.wait,
            verifiers=result_verifiers(engine, devices),
            tls=tls,
        )
    )
    print(render(answers, args.json))
    return 0 if all(a.ok for a in answers) else 1


def cmd_fleet_status(args: argparse.Namespace) -> int:
    from collector.fleet import fleet_status, render_fleet

    engine = open_database(configure(args).database.url, create=False)
    print(render_fleet(fleet_status(engine), args.json))
    return 0


def _keys(config: CollectorConfig) -> KeyStore:
    return KeyStore(Path(config.keys.dir))


def cmd_fleet_enroll(args: argparse.Namespace) -> int:
    from collector.enrolment import check_device, check_store, enrol

    config = configure(args)
    check_device(args.device)  # before the database is opened: bad input writes nothing
    check_store(args.store)
    engine = open_database(config.database.url)
    done = enrol(engine, _keys(config), args.device, args.store, Path(args.out), renew=args.renew)
    print(
        f"{done.device} {'renewed' if done.renewed else 'enrolled'} in store {done.store}, "
        f"certificate {done.serial}; install on the unit: " + ", ".join(str(f) for f in done.files)
    )
    if done.renewed:
        print(
            "the certificate it replaces goes on the CRL at the next `collector fleet "
            "broker-config`",
            file=sys.stderr,
        )
    return 0


def cmd_fleet_revoke(args: argparse.Namespace) -> int:
    from collector.enrolment import check_device, revoke

    config = configure(args)
    check_device(args.device)
    when = revoke(open_database(config.database.url, create=False), args.device)
    print(f"{args.device} revoked at {when}")
    print(
        "run `collector fleet broker-config` and restart mosquitto to refuse it at the broker",
        file=sys.stderr,
    )
    return 0


def cmd_fleet_rekey(args: argparse.Namespace) -> int:
    from collector.enrolment import check_device, rekey

    config = configure(args)
    check_device(args.device)
    chain = rekey(open_database(config.database.url, create=False), args.device)
    if chain is None:
        print(
            f"{args.device}: the next journal key it announces is taken; it has announced "
            "none yet, so that is its first (chain 1 from seq 1)"
        )
    else:
        print(
            f"{args.device}: the next journal key it announces is taken, once: its journal "
            f"becomes chain {chain + 1} from seq 1, and chain {chain}'s records stay as "
            "they are; records still signed with the old key are refused"
        )
    return 0


def cmd_fleet_broker_config(args: argparse.Namespace) -> int:
    from collector.broker_config import broker_config, check_hosts, check_port

    config = configure(args)
    check_port(args.listen_port)
    hosts = check_hosts(args.hosts or ())
    engine = open_database(config.database.url, create=False)
    done = broker_config(engine, _keys(config), Path(args.out), args.listen_port, hosts)
    renewed = f"; new certificates: {', '.join(done.renewed)}" if done.renewed else ""
    print(
        f"{done.conf}: {done.devices} devices, {done.revoked} revoked certificates, "
        f"runs as {done.user}{renewed}"
    )
    return 0


def cmd_customers_import(args: argparse.Namespace) -> int:
    from collector.customers.master_data import import_customers, parse_csv
    from collector.customers.privacy import Vault

    config = configure(args)
    rows = parse_csv(args.file)  # every row checked before the database is touched
    vault = Vault.from_settings(config.privacy)
    engine = open_database(config.database.url)
    count = import_customers(engine, vault, rows, f"import:{Path(args.file).name}")
    print(f"{count} customers imported")
    return 0


def cmd_customers_show(args: argparse.Namespace) -> int:
    from collector.customers.accounts import check_account
    from collector.customers.master_data import profile
    from collector.customers.privacy import Vault
    from collector.loyalty.ledger import Ledger

    config = configure(args)
    check_account(args.account)
    engine = open_database(config.database.url, create=False)
    person = profile(engine, Vault.existing(config.privacy) or _no_vault(), args.account)
    ledger = Ledger(engine, config.loyalty)
    balance = ledger.balance(args.account)
    tier, spend = ledger.tier(args.account)
    # The customer's data with their points between the personal data and the cards.
    data = {k: person[k] for k in ("account", "surname", "first_names", "email", "phone")}
    data |= {
        "points": balance.balance,
        "available": balance.available,
        "tier": tier.name if tier else None,
        "spend_12m": spend,
    }
    data |= {k: person[k] for k in ("cards", "consents", "purchases")}
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(f"{data['account']}  {data['first_names']} {data['surname']}".rstrip())
        print(f"points {data['points']} (available {data['available']}), tier {data['tier']}")
        for c in data["cards"]:
            print(f"card {c['code']} issue {c['issue']}{' BLOCKED' if c['blocked'] else ''}")
        for p in data["purchases"]:
            print(f"{p['ts']}  {p['kind']:<6} {p['store']:<8} {p['total']} {p['currency']}")
    return 0


def _no_vault() -> Any:
    from collector.customers.privacy import Vault

    # No master key exists: nothing was ever sealed, so a throwaway key reads nothing.
    return Vault(bytes(32))


def cmd_customers_card(args: argparse.Namespace) -> int:
    from collector.customers.accounts import check_account
    from collector.customers.cards import issue_card

    config = configure(args)
    check_account(args.account)
    print(issue_card(open_database(config.database.url, create=False), args.account))
    return 0


def cmd_channel_add(args: argparse.Namespace) -> int:
    from collector.webshop import add_channel

    key = add_channel(open_database(configure(args).database.url), args.name)
    print(key)
    print(f"the API key of channel {args.name}: it is shown only now", file=sys.stderr)
    return 0


def cmd_channel_revoke(args: argparse.Namespace) -> int:
    from collector.webshop import revoke_channel

    when = revoke_channel(open_database(configure(args).database.url, create=False), args.name)
    print(f"channel {args.name} revoked at {when}: its key is refused from now on")
    return 0


def cmd_channel_list(args: argparse.Namespace) -> int:
    from collector.webshop import list_channels

    channels = list_channels(open_database(configure(args).database.url, create=False))
    if args.json:
        print(json.dumps(channels))
        return 0
    for c in channels:
        state = f"revoked {c['revoked_at']}" if c["revoked_at"] else "active"
        print(f"{c['name']:<32}  made {c['created_at']}  {state}")
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.loyalty.ledger import Ledger
    from collector.webshop import create_app

    config = configure(args)
    engine = open_database(config.database.url)
    setup_logging(config.log.level, env=LOG_LEVEL_ENV)
    app = create_app(engine, Ledger(engine, config.loyalty))
    uvicorn.run(app, host=config.api.host, port=config.api.port, log_level="warning")
    return 0


def cmd_gdpr_export(args: argparse.Namespace) -> int:
    from collector.customers.accounts import check_account
    from collector.customers.privacy import Vault, export

    config = configure(args)
    check_account(args.account)
    engine = open_database(config.database.url, create=False)
    vault = Vault.existing(config.privacy) or _no_vault()
    print(json.dumps(export(engine, vault, args.account), ensure_ascii=False, indent=1))
    return 0


def cmd_gdpr_erase(args: argparse.Namespace) -> int:
    from collector.customers.accounts import check_account
    from collector.customers.privacy import erase

    config = configure(args)
    check_account(args.account)
    tomb = erase(open_database(config.database.url, create=False), args.account)
    print(f"account {args.account} erased; its sales and points are now under {tomb}")
    return 0


def cmd_loyalty_expire(args: argparse.Namespace) -> int:
    from collector.loyalty.ledger import Ledger

    config = configure(args)
    count = Ledger(open_database(config.database.url, create=False), config.loyalty).expire_all()
    print(f"{count} accounts had points expire")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description="The central collector and its reports.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    def command(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_: str,
        within: argparse._SubParsersAction[OneLineParser] = sub,
    ) -> argparse.ArgumentParser:
        c = within.add_parser(name, help=help_, description=help_)
        c.set_defaults(func=func)
        if name not in ("report", "stock", "fleet", "customers", "channel", "gdpr", "loyalty"):
            c.add_argument("--config", metavar="FILE", help="the collector's TOML configuration")
            c.add_argument("--db", help=f"database URL ([database] url, else {DEFAULT_URL})")
            c.add_argument(
                "--keys",
                metavar="DIR",
                help="the collector's secrets (COLLECTOR_KEYS, [keys] dir; else beside a "
                "SQLite database, or /var/lib/collector/keys)",
            )
        return c

    # Defaults are None: what a flag does not say, the configuration file does.
    r = command("run", cmd_run, "ingest what the appliances report over MQTT")
    r.add_argument("--broker", help="broker URL ([mqtt] url, else mqtt://127.0.0.1:1883)")
    r.add_argument("--id", help="MQTT client id, fixed per process ([mqtt] client_id)")
    r.add_argument("--batch", type=int, help="messages per transaction, at most ([ingest])")
    r.add_argument("--tls-ca", help="mqtts://: CA of the broker's certificate ([mqtt.tls])")
    r.add_argument("--tls-cert", help="mqtts://: our client certificate (PEM)")
    r.add_argument("--tls-key", help="mqtts://: its private key (PEM)")

    pu = command("push", cmd_push, "send units a signed catalog, prices, stock or config")
    pu.add_argument("kind", choices=("catalog", "prices", "stock", "config"))
    pu.add_argument("file", metavar="FILE", help="CSV (catalog, sku,price, sku,stock) or TOML")
    to = pu.add_mutually_exclusive_group(required=True)
    to.add_argument("--device", metavar="D")
    to.add_argument("--store", metavar="S")
    to.add_argument("--fleet", action="store_true")
    pu.add_argument("--broker", help="broker URL ([mqtt] url, else mqtt://127.0.0.1:1883)")
    pu.add_argument("--tls-ca", help="mqtts://: CA of the broker's certificate ([mqtt.tls])")
    pu.add_argument("--tls-cert", help="mqtts://: our client certificate (PEM)")
    pu.add_argument("--tls-key", help="mqtts://: its private key (PEM)")
    pu.add_argument("--wait", type=float, default=30.0, metavar="S", help="for results (30)")
    pu.add_argument("--currency", help="of the prices ([loyalty] base_currency)")
    pu.add_argument("--json", action="store_true")

    cu = command("customers", lambda a: usage(cu), "customers and their cards")
    cu_sub = cu.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    c = command("import", cmd_customers_import, "load a customer CSV", cu_sub)
    c.add_argument("file", metavar="FILE.csv")
    c = command("show", cmd_customers_show, "one customer, points, cards", cu_sub)
    c.add_argument("account", metavar="ACCOUNT")
    c.add_argument("--json", action="store_true")
    c = command("card", cmd_customers_card, "issue a replacement card", cu_sub)
    c.add_argument("account", metavar="ACCOUNT")

    ch = command("channel", lambda a: usage(ch), "loyalty API channels (web shop)")
    ch_sub = ch.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    c = command("add", cmd_channel_add, "a channel; prints its API key once", ch_sub)
    c.add_argument("name", metavar="NAME")
    c = command("revoke", cmd_channel_revoke, "refuse a channel's key from now on", ch_sub)
    c.add_argument("name", metavar="NAME")
    c = command("list", cmd_channel_list, "the channels, active or revoked", ch_sub)
    c.add_argument("--json", action="store_true")

    a = command("api", cmd_api, "serve the loyalty HTTP API")
    a.add_argument("--host", help="address to listen on ([api] host, else 127.0.0.1)")
    a.add_argument("--port", type=int, help="TCP port ([api] port, else 8080)")

    gd = command("gdpr", lambda a: usage(gd), "data subject requests")
    gd_sub = gd.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    c = command("export", cmd_gdpr_export, "everything held, as JSON", gd_sub)
    c.add_argument("account", metavar="ACCOUNT")
    c = command("erase", cmd_gdpr_erase, "destroy the customer's key; anonymise", gd_sub)
    c.add_argument("account", metavar="ACCOUNT")

    lo = command("loyalty", lambda a: usage(lo), "the points ledger")
    lo_sub = lo.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    command("expire", cmd_loyalty_expire, "expire points now due", lo_sub)

    rep = command("report", lambda a: usage(rep), "reports")
    rep_sub = rep.add_subparsers(dest="sub", metavar="REPORT", parser_class=OneLineParser)
    s = command("sales", cmd_report_sales, "sales totals per group", rep_sub)
    s.add_argument("--by", required=True, help="customer, assistant, region, store, product, day")
    s.add_argument("--from", dest="start", help="first day (YYYY-MM-DD)")
    s.add_argument("--to", dest="end", help="last day (YYYY-MM-DD)")
    s.add_argument("--format", default="table", help="table, csv or json")
    low = command("low-stock", cmd_report_low_stock, "stock levels under a threshold", rep_sub)
    low.add_argument("--below", type=int, default=1, help="list levels under this (%(default)s)")
    low.add_argument("--store")
    low.add_argument("--json", action="store_true")

    st = command("stock", lambda a: usage(st), "stock across outlets")
    st_sub = st.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    for name, func, what in (
        ("receive", cmd_stock_receive, "a delivery: add QTY to the level"),
        ("count", cmd_stock_count, "a stock count: the level becomes QTY"),
    ):
        c = command(name, func, what, st_sub)
        c.add_argument("--store", required=True)
        c.add_argument("--sku", required=True)
        c.add_argument("--qty", type=int, required=True)

    fl = command("fleet", lambda a: usage(fl), "the appliances")
    fl_sub = fl.add_subparsers(dest="sub", metavar="ACTION", parser_class=OneLineParser)
    f = command("status", cmd_fleet_status, "one row per device", fl_sub)
    f.add_argument("--json", action="store_true")
    f = command("enroll", cmd_fleet_enroll, "enrol a device; write its certificate", fl_sub)
    f.add_argument("device", metavar="DEVICE")
    f.add_argument("--store", required=True, metavar="S")
    f.add_argument("--out", required=True, metavar="DIR", help="where its files are written")
    f.add_argument("--renew", action="store_true", help="a new certificate for an enrolled one")
    f = command("revoke", cmd_fleet_revoke, "refuse a device from now on", fl_sub)
    f.add_argument("device", metavar="DEVICE")
    f = command(
        "rekey",
        cmd_fleet_rekey,
        "let the next journal key a device announces be taken (a replaced unit)",
        fl_sub,
    )
    f.add_argument("device", metavar="DEVICE")
    f = command(
        "broker-config", cmd_fleet_broker_config, "write Mosquitto's TLS+ACL config", fl_sub
    )
    # Not dest "port"/"host": those are `collector api`'s [api] keys (OVERRIDES).
    f.add_argument("--port", dest="listen_port", type=int, required=True, metavar="N")
    f.add_argument("--out", required=True, metavar="DIR")
    f.add_argument(
        "--host",
        dest="hosts",
        action="append",
        metavar="H",
        help="a name or address the broker is reached by (repeat; localhost, 127.0.0.1)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)
