"""`collector fleet broker-config`: a Mosquitto configuration that keeps every device to
its own topics (docs/security.md, "The broker").

It writes, into one directory: `mosquitto.conf` (a TLS listener that wants a client
certificate from the fleet CA and takes its CN as the username, the CRL, the ACL, no
anonymous clients), `ca.crt`, `broker.crt`/`broker.key`, `crl.pem`, `acl` and the
collector's own `collector.crt`/`collector.key`. Running it again is how the CRL is kept
fresh and the ACL follows the enrolments: it rewrites `crl.pem` and `acl` every time and
keeps the broker's and the collector's certificates while they are for the same hosts
and have 30 days left; Mosquitto reads `crl.pem` and `acl` again on SIGHUP.

Why one `user` block per device rather than `pattern … %u` lines: a pattern knows the
username (the device id) but not the device's store, and the topics start with the store;
`pos/v1/+/%u/…` would let a unit publish under every store's prefix.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine

from collector.enrolment import active, revoked, write_file
from collector.errors import CollectorInput
from collector.keys import KeyStore
from collector.pki import COLLECTOR_CN, DEFAULT_HOSTS, FleetCA, Issued, fresh, hosts_of
from protocol.messages import PREFIX
from protocol.timestamps import utc_stamp

# What a device publishes and what it reads, under its own `pos/v1/STORE/DEVICE/`
# (docs/mqtt.md); besides those it reads its store's and the fleet's commands.
DEVICE_WRITES = (
    "status",
    "telemetry",
    "sales",
    "events",
    "loyalty/request",
    "cmd/+/result",
    "update/fetch",
)
DEVICE_READS = ("ack", "loyalty/response", "cmd/#", "update/chunk/#")
# Only the collector publishes these, to any device, store or the fleet.
COLLECTOR_WRITES = (
    f"{PREFIX}/+/+/ack",
    f"{PREFIX}/+/+/loyalty/response",
    f"{PREFIX}/+/+/cmd/#",
    f"{PREFIX}/+/+/update/chunk/#",
    f"{PREFIX}/+/cmd/#",  # a store's, and with `fleet` for the store, the fleet's
)
BROKER_USER = "mosquitto"  # who Mosquitto started as root runs as, unless told otherwise
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")


class BrokerConfigError(CollectorInput):
    """A port, host or directory `broker-config` cannot use (exit 2, nothing written)."""


@dataclass(frozen=True)
class BrokerFiles:
    """What `broker-config` wrote, and for whom: the devices in the ACL, the serials on
    the CRL, the user Mosquitto will run as."""

    conf: Path
    devices: int
    revoked: int
    user: str
    renewed: tuple[str, ...]  # which certificates were made new: broker, collector


def _runs_as() -> tuple[str, int, int]:
    """The user Mosquitto will run as (name, uid, gid): the one running this when that is
    not root (Mosquitto started by them stays them; started by root, `user` makes it drop
    to them, who own the files); as root, `mosquitto`, given the files it reads. Root
    without a `mosquitto` user: root (Mosquitto's fallback, `nobody`, could read nothing)."""
    uid = os.geteuid()
    if uid != 0:
        entry = pwd.getpwuid(uid)
        return entry.pw_name, uid, os.getegid()
    try:
        entry = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return "root", 0, 0
    return BROKER_USER, entry.pw_uid, entry.pw_gid


def _reachable(path: Path, uid: int, gid: int) -> Path | None:
    """The first directory above `path` that user `uid` cannot enter; None when there is
    none (root enters everything)."""
    if uid == 0:
        return None
    groups = {gid} | {g.gr_gid for g in grp.getgrall() if _name(uid) in g.gr_mem}
    for p in path.parents:
        if not p.exists():
            continue  # made by broker-config, open to all (mkdir's default)
        st = p.stat()
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return p
    return None


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def unreachable(out: Path) -> str | None:
    """Why Mosquitto could not run from a configuration in `out` (the user it will run as
    cannot enter a directory above it), or None. The demo asks before it picks `out`."""
    out = out.absolute()
    user, uid, gid = _runs_as()
    blocked = _reachable(out, uid, gid)
    if blocked is None:
        return None
    return (
        f"--out {out}: Mosquitto runs as {user} and cannot enter {blocked} (mode "
        f"{stat.S_IMODE(blocked.stat().st_mode):04o}); choose a directory it can reach"
    )


def check_hosts(hosts: Sequence[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(hosts)) or DEFAULT_HOSTS
    for host in found:
        if not _HOST.fullmatch(host):
            raise BrokerConfigError(f"--host {host[:60]!r} is not a host name or IP address")
    return found


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise BrokerConfigError(f"--port {port}: not a TCP port (1 to 65535)")


def _load(path: Path) -> tuple[x509.Certificate, bytes] | None:
    """A certificate and key written before, when both are there and readable."""
    key_path = path.with_suffix(".key")
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        key_pem = key_path.read_bytes()
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key() != cert.public_key():
        return None
    return cert, key_pem


def _keep(ca: FleetCA, path: Path, cn: str, hosts: Sequence[str] = ()) -> bool:
    """Whether the certificate at `path` (and its key) can stay: this CA's, for this CN
    (and these hosts), and not about to expire."""
    found = _load(path)
    if found is None:
        return False
    cert, _ = found
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return (
        ca.issued(cert)
        and fresh(cert)
        and [n.value for n in names] == [cn]
        and (not hosts or hosts_of(cert) == set(hosts))
    )


def acl_text(devices: Sequence[tuple[str, str]]) -> str:
    """The ACL: the collector's block, then one block per enrolled, unrevoked device."""
    lines = [
        "# Written by `collector fleet broker-config`: run it again rather than edit this.",
        "# A device reads and writes only what its block lists; anyone else nothing.",
        "",
        f"user {COLLECTOR_CN}",
        f"topic read {PREFIX}/#",
        *(f"topic write {t}" for t in COLLECTOR_WRITES),
    ]
    for store, device in devices:
        base = f"{PREFIX}/{store}/{device}"
        lines += ["", f"user {device}"]
        lines += [f"topic write {base}/{leaf}" for leaf in DEVICE_WRITES]
        lines += [f"topic read {base}/{leaf}" for leaf in DEVICE_READS]
        lines += [f"topic read {PREFIX}/{store}/cmd/#", f"topic read {PREFIX}/fleet/cmd/#"]
    return "\n".join(lines) + "\n"


def conf_text(out: Path, port: int, user: str) -> str:
    return f"""\
# Written by `collector fleet broker-config` at {utc_stamp()}; run it again rather than
# edit this. Run: mosquitto -c {out}/mosquitto.conf
# After broker-config, SIGHUP Mosquitto (systemctl reload) to read crl.pem and acl again;
# restart it to cut off a revoked device that is connected now.
per_listener_settings false
allow_anonymous false
acl_file {out}/acl
# Started as root, Mosquitto drops to this user, who can read its key and the ACL.
user {user}
persistence true
persistence_location {out}/data/
# Not 0 ("no maximum"): with it Mosquitto 2.0.11 ignores the collector's MQTT 5 Receive
# Maximum (tests/broker.py).
max_inflight_messages 1024
# Without it Mosquitto holds its own small packets (a PUBACK, an ack) for the peer's
# delayed ACK: ~40 ms each (docs/benchmarks.md).
set_tcp_nodelay true
# What Mosquitto queues for a client that is away or behind: the collector's session holds
# every unit's sales through a collector outage. The default, 1000, dropped the rest (the
# units resend them, but only once acks stop coming: found by bench/trust.py); 0 (no limit)
# made Mosquitto 2.0.11 disconnect a client after any publish the ACL refused. Bounded in
# bytes too (512 MiB a client), so a flood cannot take the broker's memory.
max_queued_messages 1000000
max_queued_bytes 536870912
log_dest stderr
log_type error
log_type warning
log_type notice

listener {port}
cafile {out}/ca.crt
certfile {out}/broker.crt
keyfile {out}/broker.key
crlfile {out}/crl.pem
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
"""


def broker_config(
    engine: Engine, keys: KeyStore, out: Path, port: int, hosts: Sequence[str] = ()
) -> BrokerFiles:
    """Write the broker's directory `out` (see the module docstring)."""
    check_port(port)
    hosts = check_hosts(hosts)
    out = out.absolute()
    why = unreachable(out)
    if why is not None:
        raise BrokerConfigError(why)
    user, uid, gid = _runs_as()
    try:
        out.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise BrokerConfigError(f"--out {out}: cannot make it ({exc.strerror})") from exc
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise BrokerConfigError(f"--out {out}: is not a directory we can write in")
    ca = FleetCA.open(keys)
    devices = active(engine)
    crl = ca.crl(revoked(engine))
    renewed = []
    broker: Issued | None = None
    if not _keep(ca, out / "broker.crt", hosts[0], hosts):
        broker = ca.broker(hosts)
        renewed.append("broker")
    collector: Issued | None = None
    if not _keep(ca, out / "collector.crt", COLLECTOR_CN):
        collector = ca.collector()
        renewed.append("collector")
    secret, public = 0o600, 0o644
    files: list[tuple[str, bytes, int, bool]] = [  # name, data, mode, owned by the broker
        ("ca.crt", ca.cert_pem, public, False),
        ("crl.pem", crl.public_bytes(serialization.Encoding.PEM), public, False),
        ("acl", acl_text(devices).encode(), secret, True),
    ]
    if broker is not None:
        files += [
            ("broker.crt", broker.cert_pem, public, False),
            ("broker.key", broker.key_pem, secret, True),
        ]
    if collector is not None:
        # The collector's, not the broker's: it stays with whoever runs broker-config.
        files += [
            ("collector.crt", collector.cert_pem, public, False),
            ("collector.key", collector.key_pem, secret, False),
        ]
    files.append(("mosquitto.conf", conf_text(out, port, user).encode(), public, False))
    try:
        data = out / "data"
        data.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            # The broker's user enters the directory by its group; only it reads its key.
            os.chown(out, -1, gid)
            os.chmod(out, 0o750)
            os.chown(data, uid, gid)
        for name, content, mode, owned in files:  # mosquitto.conf last
            path = out / name
            write_file(path, content, mode)
            if owned and os.geteuid() == 0:
                os.chown(path, uid, gid)
    except OSError as exc:
        raise BrokerConfigError(f"--out {out}: cannot write it ({exc.strerror})") from exc
    return BrokerFiles(out / "mosquitto.conf", len(devices), len(crl), user, tuple(renewed))
