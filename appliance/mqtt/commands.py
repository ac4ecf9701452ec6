"""Remote commands from the collector: catalog, prices, stock, config, resend.

Each command arrives on `cmd/{name}` (device, store or fleet wide) and is answered on
the device's `cmd/{name}/result` with a `CommandResult`. A payload we refuse (bad JSON,
wrong schema, unknown fields, too big) changes nothing and is answered `ok=false` when
its `corr` can be read, else only logged. A `corr` already applied is answered again
from memory, not applied twice (every command sets absolute values, so even a corr
forgotten after a restart does no harm when applied again).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import msgspec
import tomlkit
import tomlkit.exceptions

from appliance.config import Config, ConfigError, parse_config
from appliance.mqtt.publisher import OutboxPublisher
from appliance.sales.catalog import Catalog, CatalogError, Item, parse_catalog_csv
from appliance.store import Store
from appliance.store.files import write_atomic
from protocol import messages as m
from protocol.errors import BadInput, Error
from protocol.money import format_minor
from protocol.timestamps import utc_stamp

log = logging.getLogger("appliance.mqtt.commands")

NAMES = ("catalog", "prices", "stock", "config", "resend")
_ARGS: dict[str, type[msgspec.Struct]] = {
    "catalog": m.CatalogArgs,
    "prices": m.PricesArgs,
    "stock": m.StockArgs,
    "config": m.ConfigArgs,
    "resend": m.ResendArgs,
}
_COMMAND_KEYS = frozenset({"corr", "args", "schema"})
# Read before parsing, so even an oversized or broken payload can be answered.
_CORR = re.compile(rb'"corr"\s*:\s*"([A-Za-z0-9._:-]{1,64})"')
_REMEMBERED = 1000

# What a remote config patch may change. Identity, paths, hardware, the broker address
# and the update key stay local: a wrong value there could cut the unit off for good.
REMOTE_KEYS: dict[str, frozenset[str] | None] = {
    "store": None,  # None: every key of the section
    "loyalty": None,
    "display": None,
    "mqtt": frozenset({"keepalive", "telemetry_interval", "ack_timeout", "window"}),
}
# Keys the running service takes on at once; every other change waits for a restart.
LIVE_KEYS = frozenset(
    {
        "store.name", "store.address", "store.footer", "store.tax_id",
        "store.prices_include_tax", "store.cash_rounding",
        "loyalty.points_per_unit", "loyalty.point_value", "loyalty.offline_redeem_cap",
        "mqtt.telemetry_interval", "mqtt.ack_timeout",
    }
)  # fmt: skip


class CommandRefused(BadInput):
    """A command we do not carry out; the message goes back as the result's `error`."""


# -- catalog -------------------------------------------------------------------------------


def validate_items(items: list[m.CatalogItem], exponent: int) -> list[Item]:
    """The items as the CSV import would take them: same rules, same messages.

    They go through `parse_catalog_csv`, so a remote catalog can never hold what an
    imported one could not (bad check digits, loyalty-range barcodes, control characters).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["sku", "barcode", "name", "price", "tax_rate", "category", "stock"])
    for it in items:
        stock = "" if it.stock is None else str(it.stock)
        price = format_minor(it.price, exponent)
        writer.writerow([it.sku, it.barcode, it.name, price, it.tax_rate, it.category, stock])
    try:
        return parse_catalog_csv(buf.getvalue(), exponent, "catalog")
    except CatalogError as e:

        def _item_ref(g: re.Match[str]) -> str:
            return f"already at items[{int(g[1]) - 2}]"

        # "catalog:5: …" is items[3]: the header is line 1.
        text = re.sub(r"^catalog:(\d+):", lambda g: f"items[{int(g[1]) - 2}]:", str(e))
        text = re.sub(r"already on line (\d+)", _item_ref, text)
        raise CommandRefused(text) from e


# -- config --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigChange:
    cfg: Config
    changed: list[str]  # "section.key", sorted


class ConfigFile:
    """The config file a remote patch edits: merged, validated, then written atomically.

    tomlkit keeps the shop's comments and layout; the merged text must pass the same
    `parse_config` as a start-up, or nothing is written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def patch(self, patch: dict[str, dict[str, Any]]) -> ConfigChange:
        for section, keys in patch.items():
            allowed = REMOTE_KEYS.get(section, frozenset())
            if section not in REMOTE_KEYS:
                raise CommandRefused(
                    f"config: section [{section}] cannot be changed remotely; "
                    f"only {', '.join(sorted(REMOTE_KEYS))} can"
                )
            for key, value in keys.items():
                if allowed is not None and key not in allowed:
                    raise CommandRefused(f"config: {section}.{key} cannot be changed remotely")
                if isinstance(value, list) and not all(_scalar(v) for v in value):
                    # No remote key takes more (an address, a footer), and tomlkit raised
                    # out of this on a null in a list or a list nested hundreds deep.
                    raise CommandRefused(
                        f"config: {section}.{key} must be a value or a list of values"
                    )
        try:
            text = self.path.read_text(encoding="utf-8")
            doc = tomlkit.parse(text)
        except (OSError, UnicodeDecodeError) as e:
            raise CommandRefused(f"config: cannot read {self.path}: {e}") from e
        except tomlkit.exceptions.TOMLKitError as e:
            raise CommandRefused(f"config: {self.path} is not valid TOML: {e}") from e
        old = parse_config(text, str(self.path))
        for section, keys in patch.items():
            table = doc.get(section)
            if table is None:
                table = doc[section] = tomlkit.table()
            for key, value in keys.items():
                if value is None:
                    table.pop(key, None)  # null: back to the default
                elif isinstance(value, dict):
                    raise CommandRefused(f"config: {section}.{key} is a table; set its keys")
                else:
                    table[key] = value
        new_text = tomlkit.dumps(doc)
        try:
            new = parse_config(new_text, "config patch")
        except ConfigError as e:
            raise CommandRefused(str(e)) from e
        changed = _changed(old, new)
        if changed:
            try:
                mode = self.path.stat().st_mode & 0o777
                write_atomic(self.path, new_text.encode("utf-8"), mode=mode)
            except OSError as e:
                raise CommandRefused(
                    f"config: cannot write {self.path}: {e.strerror}; nothing changed"
                ) from e
        return ConfigChange(new, changed)


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def _changed(old: Config, new: Config) -> list[str]:
    a, b = msgspec.to_builtins(old), msgspec.to_builtins(new)
    out = []
    for section in sorted(set(a) | set(b)):
        sa, sb = a.get(section), b.get(section)
        if isinstance(sa, dict) and isinstance(sb, dict):
            out += [f"{section}.{k}" for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
        elif sa != sb:
            out.append(section)
    return out


# -- the handler ---------------------------------------------------------------------------


@dataclass
class Incoming:
    """One command as it arrived: its name (from the topic) and raw payload."""

    name: str
    payload: bytes
    topic: str = ""


class Selling(Protocol):
    """What the commands need of the till's side (the service's `Controller`): a new
    catalog to sell from, now or after the open sale, and SKUs that have stock again."""

    def replace_catalog(self, catalog: Catalog) -> bool: ...

    def restocked(self, skus: set[str]) -> None: ...


class Commands:
    """Parses, checks and applies commands; answers each with a `CommandResult`.

    `on_config(cfg, changed)` applies a written config to the running service and
    returns the keys it took on live.
    """

    def __init__(
        self,
        *,
        store: Store,
        controller: Selling,
        publisher: OutboxPublisher,
        exponent: int,
        config_file: ConfigFile | None,
        on_config: Callable[[Config, list[str]], list[str]] = lambda cfg, changed: [],
    ) -> None:
        self.store = store
        self.controller = controller
        self.publisher = publisher
        self.exponent = exponent
        self.config_file = config_file
        self.on_config = on_config
        self._done: OrderedDict[tuple[str, str], m.CommandResult] = OrderedDict()
        # One command at a time: a catalog and a price change must not interleave.
        self._lock = asyncio.Lock()

    async def handle(self, cmd: Incoming) -> m.CommandResult | None:
        """The result to publish, or None when there is nobody to answer (no corr)."""
        limit = m.MAX_CATALOG_PAYLOAD if cmd.name == "catalog" else m.MAX_PAYLOAD
        found = _CORR.search(cmd.payload[:4096])
        corr = found.group(1).decode() if found else None
        try:
            if len(cmd.payload) > limit:
                raise CommandRefused(
                    f"payload of {len(cmd.payload)} bytes is over the {limit} byte limit "
                    f"for {cmd.name}; nothing changed"
                )
            command, args = self._parse(cmd.name, cmd.payload)
            corr = command.corr
        except BadInput as e:
            log.warning(
                "command refused",
                extra={"command": cmd.name, "topic": cmd.topic, "corr": corr, "error": str(e)},
            )
            return None if corr is None else self._result(corr, False, str(e))
        key = (cmd.name, corr)
        async with self._lock:
            if key in self._done:
                log.info("command already applied", extra={"command": cmd.name, "corr": corr})
                return self._done[key]
            try:
                detail = await self._apply(cmd.name, args)
                result = self._result(corr, True, None, detail)
            except BadInput as e:
                result = self._result(corr, False, str(e))
            except Error as e:  # the store could not write: nothing changed
                result = self._result(corr, False, f"{cmd.name} failed: {e}")
            except Exception as e:  # our bug: answered and logged, never fatal
                log.exception("command crashed", extra={"command": cmd.name, "corr": corr})
                result = self._result(corr, False, f"{cmd.name} failed inside the unit: {e!r}")
            level = logging.INFO if result.ok else logging.WARNING
            log.log(level, "command", extra={"command": cmd.name, "corr": corr, "ok": result.ok})
            self._done[key] = result
            while len(self._done) > _REMEMBERED:
                self._done.popitem(last=False)
            return result

    def _result(
        self, corr: str, ok: bool, error: str | None, detail: dict[str, Any] | None = None
    ) -> m.CommandResult:
        return m.CommandResult(corr=corr, ok=ok, error=error, detail=detail or {}, ts=utc_stamp())

    def _parse(self, name: str, payload: bytes) -> tuple[m.Command, Any]:
        if name not in _ARGS:
            raise CommandRefused(f"unknown command {name!r}; this unit knows {', '.join(NAMES)}")
        raw = m.decode(payload, dict[str, Any], limit=len(payload))
        unknown = sorted(set(raw) - _COMMAND_KEYS)
        if unknown:
            raise CommandRefused(f"unknown field {unknown[0]!r}; a command has corr, args, schema")
        try:
            command = msgspec.convert(raw, m.Command, strict=True)
            args = msgspec.convert(command.args, _ARGS[name], strict=True)
        except msgspec.ValidationError as e:
            raise CommandRefused(f"{name}: {e}") from e
        if command.schema != m.SCHEMA:
            raise CommandRefused(f"schema {command.schema} is not {m.SCHEMA}")
        return command, args

    async def _apply(self, name: str, args: Any) -> dict[str, Any]:
        match name:
            case "catalog":
                return await self._catalog(args)
            case "prices":
                return await self._prices(args)
            case "stock":
                return await self._stock(args)
            case "config":
                return await self._config(args)
            case "resend":
                self.publisher.rewind(args.from_seq)
                return {"from_seq": args.from_seq}
        raise CommandRefused(f"unknown command {name!r}")

    async def _catalog(self, args: m.CatalogArgs) -> dict[str, Any]:
        items = await asyncio.to_thread(validate_items, args.items, self.exponent)
        catalog = Catalog(items)
        await asyncio.to_thread(self.store.catalog.replace, items)
        now = self.controller.replace_catalog(catalog)
        self.controller.restocked({i.sku for i in items})
        return {"items": len(items), "applied": "now" if now else "after the open sale"}

    async def _prices(self, args: m.PricesArgs) -> dict[str, Any]:
        changes: dict[str, int] = {}
        for change in args.prices:
            if change.sku in changes:
                raise CommandRefused(f"prices: sku {change.sku!r} is listed twice; nothing changed")
            changes[change.sku] = change.price
        # From the stored catalog, not the till's copy: its stock levels are the counted ones.
        items = await asyncio.to_thread(self.store.catalog.load)
        known = {i.sku for i in items}
        missing = sorted(set(changes) - known)
        if missing:
            raise CommandRefused(f"prices: no sku {missing[0]!r} in the catalog; nothing changed")
        items = [replace(i, price=changes[i.sku]) if i.sku in changes else i for i in items]
        await asyncio.to_thread(self.store.catalog.replace, items)
        now = self.controller.replace_catalog(Catalog(items))
        return {"changed": len(changes), "applied": "now" if now else "after the open sale"}

    async def _stock(self, args: m.StockArgs) -> dict[str, Any]:
        levels: dict[str, int] = {}
        for level in args.levels:
            if level.sku in levels:
                raise CommandRefused(f"stock: sku {level.sku!r} is listed twice; nothing changed")
            levels[level.sku] = level.stock
        unknown = await asyncio.to_thread(self.store.catalog.set_stock, levels)
        self.controller.restocked({sku for sku, n in levels.items() if n > 0})
        return {"updated": len(levels) - len(unknown), "unknown": unknown[:100]}

    async def _config(self, args: m.ConfigArgs) -> dict[str, Any]:
        if self.config_file is None:
            raise CommandRefused("config: this unit runs without a config file; nothing changed")
        change = await asyncio.to_thread(self.config_file.patch, args.patch)
        live = self.on_config(change.cfg, change.changed) if change.changed else []
        return {
            "changed": change.changed,
            "applied": live,
            "restart_needed": [k for k in change.changed if k not in live],
        }
