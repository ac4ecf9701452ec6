"""The collector's one configuration file: every section as docs/collector.md shows it,
the loyalty-only file of before, flags over the environment over the file over the
defaults, and bad input (unknown key, wrong type, bad value, missing file) refused with
one line naming the file and the key, by real `collector` processes too."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.orm import Session

from collector.config import CollectorConfig, ConfigError, RequestsSection, load_config
from collector.customers.privacy import load_master_key
from collector.db import open_database
from collector.errors import CollectorInput
from collector.keys import KeysError, KeyStore
from collector.models import Device
from tests.broker import Broker
from tests.conftest import ROOT
from tests.pg import fresh_database
from tests.records import enrol
from tests.waiting import until

# The loyalty TOML `--config` took before it held everything (docs/loyalty.md then).
LOYALTY_FILE_OF_BEFORE = """\
[loyalty]
base_currency = "EUR"
points_per_unit = 1
point_value = 1
expiry_months = 24
reservation_ttl = 300
commit_ttl = 604800
tiers = [{name = "silver", spend = 50000, multiplier = "1.2"},
         {name = "gold", spend = 100000, multiplier = "1.5"}]
[loyalty.rates]
GBP = "1.17"
[[loyalty.rewards]]
points = 500
title = "A breakfast box"
[privacy]
master_key_file = "/etc/collector/master.key"
"""


def documented_example() -> str:
    """The example file of docs/collector.md, "Configuration file"."""
    doc = (ROOT / "docs" / "collector.md").read_text()
    section = doc[doc.index("## Configuration file") :]
    found = re.search(r"```toml\n(.*?)```", section, re.S)
    assert found, "docs/collector.md shows no example configuration"
    return found.group(1)


def write(tmp_path: Path, text: str, name: str = "collector.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def keys(struct: type[msgspec.Struct]) -> set[str]:
    return {f.encode_name for f in msgspec.structs.fields(struct)}


def test_the_documented_example_sets_every_key_of_every_section(tmp_path: Path) -> None:
    text = documented_example()
    raw = tomllib.loads(text)
    assert set(raw) == keys(CollectorConfig)
    for section, value in raw.items():
        struct = msgspec.structs.fields(CollectorConfig)
        kind = next(f.type for f in struct if f.encode_name == section)
        assert set(value) == keys(kind), f"[{section}] is not shown whole"
    assert set(raw["mqtt"]["tls"]) == {"ca", "cert", "key"}
    assert set(raw["loyalty"]["requests"]) == keys(RequestsSection)
    cfg = load_config(write(tmp_path, text), environ={})
    assert cfg.database.url.startswith("postgresql+psycopg://")
    assert (cfg.mqtt.url, cfg.mqtt.client_id) == ("mqtts://broker.example:8883", "collector-1")
    assert cfg.mqtt.tls.key == "/etc/collector/collector.key"
    assert (cfg.ingest.batch, cfg.ingest.window) == (256, 0.005)
    assert [t.name for t in cfg.loyalty.tiers] == ["silver", "gold"]
    assert cfg.loyalty.rates == {"GBP": "1.17"}
    assert [r.points for r in cfg.loyalty.rewards] == [250, 600]
    assert cfg.loyalty.requests == RequestsSection()  # the defaults, shown
    assert (cfg.api.host, cfg.api.port, cfg.log.level) == ("127.0.0.1", 8080, "INFO")


def test_a_loyalty_file_of_before_loads_as_it_is(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, LOYALTY_FILE_OF_BEFORE), environ={})
    assert cfg.loyalty.tiers[1].multiplier == "1.5"
    assert [(r.points, r.title) for r in cfg.loyalty.rewards] == [(500, "A breakfast box")]
    assert cfg.privacy.master_key_file == "/etc/collector/master.key"
    # Everything it did not say keeps the defaults `collector run` always had.
    assert cfg.database.url == "sqlite:///collector.db"
    assert (cfg.mqtt.url, cfg.mqtt.client_id) == ("mqtt://127.0.0.1:1883", "collector-1")
    assert cfg.ingest.batch == 256


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\nurl = "sqlite:///from-file.db"\n'
        '[privacy]\nmaster_key_file = "file.key"\n[log]\nlevel = "ERROR"\n'
        "[ingest]\nbatch = 10\n",
    )
    env = {"COLLECTOR_MASTER_KEY_FILE": "env.key", "COLLECTOR_LOG_LEVEL": "DEBUG"}
    cfg = load_config(path, flags={"database.url": ("--db", "sqlite:///flag.db")}, environ=env)
    assert cfg.database.url == "sqlite:///flag.db"
    assert cfg.privacy.master_key_file == "env.key"
    assert cfg.log.level == "DEBUG"
    assert cfg.ingest.batch == 10  # no flag, no variable: the file's
    assert load_config(path, environ={}).privacy.master_key_file == "file.key"
    # Nothing said: the defaults, with the keys beside the default SQLite database.
    cfg = load_config(None, environ={})
    keys = Path("collector.keys").absolute()
    assert (cfg.keys.dir, cfg.privacy.master_key_file) == (str(keys), str(keys / "master.key"))
    cfg.keys.dir = cfg.privacy.master_key_file = ""
    assert cfg == CollectorConfig()


def test_the_keys_live_beside_a_sqlite_database_else_in_the_systems_place(
    tmp_path: Path,
) -> None:
    def keys(*flags: tuple[str, tuple[str, object]], **env: str) -> tuple[str, str]:
        cfg = load_config(None, flags=dict(flags), environ=env)
        return cfg.keys.dir, cfg.privacy.master_key_file

    srv = ("database.url", ("--db", f"sqlite:///{tmp_path}/srv/collector.db"))
    assert keys(srv) == (
        f"{tmp_path}/srv/collector.keys",
        f"{tmp_path}/srv/collector.keys/master.key",
    )
    pg = ("database.url", ("--db", "postgresql+psycopg://u@h/db"))
    assert keys(pg) == ("/var/lib/collector/keys", "/var/lib/collector/keys/master.key")
    assert keys(pg, COLLECTOR_KEYS="/etc/k")[0] == "/etc/k"
    assert keys(pg, ("keys.dir", ("--keys", "/flag/k")), COLLECTOR_KEYS="/etc/k")[0] == "/flag/k"
    # An explicit master key file stays where it was said to be.
    assert keys(pg, COLLECTOR_MASTER_KEY_FILE="/x/m.key")[1] == "/x/m.key"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[ingest]\nbatchsize = 3\n",
            "ingest.batchsize: unknown key; [ingest] takes batch, window",
        ),
        (
            "[loyalti]\n",
            "loyalti: unknown key; the file takes database, keys, mqtt, ingest, cluster",
        ),
        (
            '[loyalty]\ntiers = [{name = "g", spend = 1, colour = "red"}]\n',
            "loyalty.tiers[0].colour: unknown key; [loyalty.tiers[0]] takes name, spend",
        ),
        ('[ingest]\nbatch = "3"\n', "ingest.batch: Expected `int`, got `str`"),
        ("[api]\nport = 70000\n", "api.port: Expected `int` <= 65535"),
        ("[mqtt]\ntls = 1\n", "mqtt.tls: Expected `object`, got `int`"),
        ('[mqtt]\nurl = "http://x"\n', "mqtt.url 'http://x' is not mqtt://HOST[:PORT]"),
        ('[database]\nurl = "mysql://x/y"\n', "database.url 'mysql://x/y' is neither sqlite"),
        ('[loyalty]\nbase_currency = "XYZ"\n', "loyalty.base_currency: 'XYZ' is not an ISO"),
        ('[loyalty.rates]\nGBP = "-1"\n', "loyalty.rates.GBP: rate '-1' is not a number > 0"),
        (
            '[loyalty]\ntiers = [{name = "g", spend = 1, multiplier = "1/0"}]\n',
            "loyalty.tiers[0].multiplier: '1/0' of tier 'g' is not a number ≥ 0",
        ),
        ("[loyalty.requests]\nrate = 0\n", "loyalty.requests.rate: Expected `float` > 0.0"),
        (
            "[loyalty.requests]\nper_device = 0\n",
            "loyalty.requests.per_device: Expected `int` >= 1",
        ),
        (
            "[loyalty.requests]\nper_device = 64\ntotal = 10\n",
            "loyalty.requests.total: 10 is less than per_device (64)",
        ),
        ('[log]\nlevel = "debug"\n', "log.level: Invalid enum value 'debug'; choose one of"),
        ("[log\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_bad_flag_or_variable_is_named_as_given(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--batch: Expected `int` >= 1$"):
        load_config(None, flags={"ingest.batch": ("--batch", 0)}, environ={})
    with pytest.raises(ConfigError, match=r"^--broker 'http://x' is not mqtt://"):
        load_config(None, flags={"mqtt.url": ("--broker", "http://x")}, environ={})
    with pytest.raises(ConfigError, match=r"^COLLECTOR_LOG_LEVEL: Invalid enum value 'loud'"):
        load_config(None, environ={"COLLECTOR_LOG_LEVEL": "loud"})
    with pytest.raises(ConfigError, match=r"missing\.toml: no such collector config file$"):
        load_config(tmp_path / "missing.toml", environ={})


# -- as real processes ------------------------------------------------------------------------


def collector(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collector", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=dict(os.environ, **env),
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[mqtt]\nclientid = 'c-1'\n", "mqtt.clientid: unknown key; [mqtt] takes url"),
        ("[ingest]\nbatch = 'many'\n", "ingest.batch: Expected `int`, got `str`"),
        ("[ingest]\nbatch = 0\n", "ingest.batch: Expected `int` >= 1"),
        (None, "no such collector config file"),
    ],
    ids=["unknown-key", "wrong-type", "bad-value", "missing-file"],
)
@pytest.mark.parametrize("command", [["run"], ["report", "sales", "--by", "day"]])
def test_collector_commands_exit_2_on_a_bad_file_with_one_line(
    tmp_path: Path, command: list[str], text: str | None, message: str
) -> None:
    path = write(tmp_path, text) if text is not None else tmp_path / "missing.toml"
    db = tmp_path / "c.db"
    r = collector(*command, "--config", str(path), "--db", f"sqlite:///{db}")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"collector: {path}: ") and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not db.exists(), "bad input writes nothing"


def test_a_flag_wins_over_the_file_in_a_command(tmp_path: Path) -> None:
    in_file, in_flag = tmp_path / "file.db", tmp_path / "flag.db"
    engine = open_database(f"sqlite:///{in_flag}")
    with Session(engine) as s, s.begin():
        s.add(Device(id="till-09", store="s009", first_seen="", last_seen="", last_hash="0"))
    enrol(engine, ("till-09", "s009"))  # fleet status shows enrolled devices only
    engine.dispose()
    path = write(tmp_path, f'[database]\nurl = "sqlite:///{in_file}"\n')
    shown = collector("fleet", "status", "--json", "--config", str(path))
    # the file's database was taken (and is not there: a read makes none)
    assert shown.returncode == 2 and f"no collector database at {in_file}" in shown.stderr
    assert not in_file.exists()
    shown = collector(
        "fleet", "status", "--json", "--config", str(path), "--db", f"sqlite:///{in_flag}"
    )
    assert shown.returncode == 0 and '"device": "till-09"' in shown.stdout, shown.stderr


def test_the_master_key_file_variable_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'[privacy]\nmaster_key_file = "{tmp_path / "file.key"}"\n')
    customers = write(tmp_path, "account,surname,first_names\n00000001,Ng,Li\n", "c.csv")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    r = collector(
        "customers", "import", "--config", str(path), "--db", db, str(customers),
        COLLECTOR_MASTER_KEY_FILE=str(tmp_path / "env.key"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "env.key").exists() and not (tmp_path / "file.key").exists()


async def test_collector_run_takes_broker_database_and_id_from_the_file(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "from-file.db"
    path = write(
        tmp_path,
        f'[database]\nurl = "sqlite:///{db}"\n'
        f'[mqtt]\nurl = "{broker.url}"\nclient_id = "from-the-file"\n'
        "[ingest]\nbatch = 8\n",
    )
    log = tmp_path / "collector.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "collector", "run", "--config", str(path)],
        cwd=ROOT,
        stderr=log.open("ab"),
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        await until(lambda: "subscribed as from-the-file" in log.read_text(), "subscribed", 60)
        assert db.exists()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    "command",
    [
        ["report", "sales", "--by", "store"],
        ["fleet", "status", "--json"],
        ["customers", "show", "00000001"],
        ["gdpr", "export", "00000001"],
        ["channel", "list"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_mistyped_database_is_an_error_not_an_empty_answer(
    tmp_path: Path, command: list[str]
) -> None:
    """`--db sqlite:////srv/pos/typo.db` printed an empty report and exit 0, and left an
    empty database behind; an empty file or PostgreSQL database is no collector's either."""
    typo = tmp_path / "typo.db"
    r = collector(*command, "--db", f"sqlite:///{typo}")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"there is no collector database at {typo} (is --db right?)" in r.stderr, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert not typo.exists(), "a read makes no database"
    typo.touch()
    r = collector(*command, "--db", f"sqlite:///{typo}")
    assert r.returncode == 2 and "is an empty database, not a collector's" in r.stderr, r.stderr
    with fresh_database() as url:
        r = collector(*command, "--db", url)
        assert r.returncode == 2 and "is an empty database, not a collector's" in r.stderr
        open_database(url).dispose()  # once `collector run` made it, the same command works
        r = collector(*command, "--db", url)
        assert "no collector database" not in r.stderr and "empty database" not in r.stderr


def test_the_key_store_is_private_and_never_overwrites(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "srv" / "collector.keys")
    key = store.signing_key()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.secret("signing.key").stat().st_mode) == 0o600
    assert store.secret("signing.pub").read_text() == store.signing_public_pem()
    assert KeyStore(store.path).signing_key().private_bytes_raw() == key.private_bytes_raw()
    store.secret("signing.key").chmod(0o644)
    store.path.chmod(0o755)
    KeyStore(store.path).signing_key()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.secret("signing.key").stat().st_mode) == 0o600
    store.secret("signing.key").write_text("not a key")
    with pytest.raises(KeysError, match="restore it from a backup"):
        KeyStore(store.path).signing_key()
    with pytest.raises(KeysError, match="no signing key yet"):
        KeyStore(tmp_path / "elsewhere").signing_key(create=False)


def test_a_master_key_left_in_the_working_directory_is_refused_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "collector-master.key").write_bytes(base64.b64encode(bytes(32)) + b"\n")
    cfg = load_config(None, flags={"database.url": ("--db", "sqlite:///srv/c.db")}, environ={})
    with pytest.raises(CollectorInput, match=r"move it there .*a new key would leave"):
        load_master_key(cfg.privacy)
    assert not (tmp_path / "srv" / "c.keys").exists()
    (tmp_path / "srv" / "c.keys").mkdir(parents=True)
    (tmp_path / "collector-master.key").rename(tmp_path / "srv" / "c.keys" / "master.key")
    assert load_master_key(cfg.privacy) == bytes(32)
