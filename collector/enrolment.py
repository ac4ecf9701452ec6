"""Which devices the collector knows (docs/security.md, "Identities"): `collector fleet
enroll`, `revoke` and `rekey`, and what the CRL and the broker's ACL are made from.

A device is enrolled in one store with one current certificate from the fleet CA
(collector.pki); every certificate issued is kept (`fleet_certificates`), so one that was
revoked, or replaced by `enroll --renew`, stays on the CRL until it expires.

The collector believes only enrolled devices: ingest dead-letters what a device that is
not enrolled, is revoked, or speaks on another store's topics sends (`refusal`), and the
loyalty answerers do not answer it. A journal key it takes for an enrolled device must be
vouched for by that device's current certificate (`unproved`, protocol.birth).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.errors import CollectorInput
from collector.keys import KeyStore
from collector.models import Device, Enrolment, FleetCertificate
from collector.pki import COLLECTOR_CN, FleetCA, Revoked
from protocol import birth
from protocol.chain import PublicKeyError, load_public_key
from protocol.envelope import Verifier
from protocol.messages import Status
from protocol.timestamps import parse_stamp, utc_stamp

log = logging.getLogger("collector.enrolment")
_ID = re.compile(r"^[a-z0-9-]{1,32}$")  # protocol.messages' id pattern
# Device ids that would make a topic mean two things: `pos/v1/STORE/cmd/x` (the store's
# commands) and `pos/v1/fleet/cmd/x` (the fleet's); `collector` is the collector's own CN,
# which the broker's ACL lets publish acks and commands.
RESERVED_DEVICES = ("cmd", "fleet", COLLECTOR_CN)
# A store `fleet` would have `pos/v1/fleet/cmd/x` be both its commands and the fleet's.
RESERVED_STORES = ("fleet",)


class EnrolmentInput(CollectorInput):
    """A device id, store or enrolment state that the command refuses (exit 2)."""


def check_device(device: str) -> None:
    if not _ID.fullmatch(device):
        raise EnrolmentInput(f"device id {device[:40]!r} is not [a-z0-9-]{{1,32}}")
    if device in RESERVED_DEVICES:
        raise EnrolmentInput(
            f"device id {device!r} is reserved ({', '.join(RESERVED_DEVICES)}): its topics "
            "would be taken for the store's or the fleet's commands, or the collector's"
        )


def check_store(store: str) -> None:
    if not _ID.fullmatch(store):
        raise EnrolmentInput(f"store {store[:40]!r} is not [a-z0-9-]{{1,32}}")
    if store in RESERVED_STORES:
        raise EnrolmentInput(
            f"store {store!r} is reserved: pos/v1/{store}/cmd/… is the fleet's commands"
        )


def write_file(path: Path, data: bytes, mode: int) -> None:
    """`data` into `path` with `mode`, whole or not at all (a temporary file renamed over
    it), so a reader never sees half a certificate or a key readable for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)  # whatever the umask took away
    os.replace(tmp, path)


def _out_dir(out: Path) -> Path:
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise EnrolmentInput(f"--out {out}: cannot make the directory ({exc.strerror})") from exc
    if not out.is_dir():
        raise EnrolmentInput(f"--out {out}: is not a directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise EnrolmentInput(f"--out {out}: cannot write in it")
    return out


@dataclass(frozen=True)
class Enrolled:
    """What `enroll` did: the device, its store, its new certificate's serial, the files."""

    device: str
    store: str
    serial: str
    renewed: bool
    files: tuple[Path, ...]


def enrol(
    engine: Engine, keys: KeyStore, device: str, store: str, out: Path, *, renew: bool = False
) -> Enrolled:
    """Enrol `device` in `store` and write its files into `out`: `ca.crt`, `DEVICE.crt`,
    `DEVICE.key` (0600) and `collector.pub`. An enrolled (or revoked) device is refused
    unless `renew`, which issues a new certificate and puts the one it replaces on the CRL
    (also the store may change then)."""
    check_device(device)
    check_store(store)
    with Session(engine) as s, s.begin():
        found = s.get(Enrolment, device, with_for_update=True)
        if found is not None and not renew:
            state = f"revoked since {found.revoked_at}" if found.revoked_at else "enrolled"
            raise EnrolmentInput(
                f"device {device!r} is already {state} (store {found.store}); "
                "give --renew to issue it a new certificate"
            )
        out = _out_dir(out)
        ca = FleetCA.open(keys)
        collector_pub = keys.signing_public_pem().encode("ascii")
        issued = ca.device(device, store)
        now = utc_stamp()
        if found is not None:
            old = s.get(FleetCertificate, found.serial, with_for_update=True)
            if old is not None and old.revoked_at is None:
                old.revoked_at = now
            found.store, found.enrolled_at, found.serial = store, now, issued.serial
            found.revoked_at = None
        else:
            s.add(
                Enrolment(
                    device=device,
                    store=store,
                    enrolled_at=now,
                    serial=issued.serial,
                    revoked_at=None,
                    rekey_allowed=False,
                )
            )
        s.add(
            FleetCertificate(
                serial=issued.serial,
                device=device,
                issued_at=now,
                expires_at=utc_stamp(issued.cert.not_valid_after_utc),
                revoked_at=None,
            )
        )
        files = (
            (out / "ca.crt", ca.cert_pem, 0o644),
            (out / f"{device}.crt", issued.cert_pem, 0o644),
            (out / f"{device}.key", issued.key_pem, 0o600),
            (out / "collector.pub", collector_pub, 0o644),
        )
        # Written before the commit: if a file cannot be written the enrolment is not made.
        for path, data, mode in files:
            write_file(path, data, mode)
    log.info(
        "device %s %s in store %s, certificate %s",
        device,
        "renewed" if found is not None else "enrolled",
        store,
        issued.serial,
    )
    return Enrolled(device, store, issued.serial, found is not None, tuple(f[0] for f in files))


def enrolments(session: Session, devices: Iterable[str]) -> dict[str, Enrolment]:
    """The enrolments of `devices` that exist, by device (one query)."""
    wanted = sorted(set(devices))
    if not wanted:
        return {}
    rows = session.scalars(select(Enrolment).where(Enrolment.device.in_(wanted)))
    return {e.device: e for e in rows}


def refusal(found: Enrolment | None, store: str, device: str) -> str | None:
    """Why what `device` sends on store `store`'s topics is not believed, or None."""
    if found is None:
        return f"device {device!r} is not enrolled (`collector fleet enroll`)"
    if found.revoked_at is not None:
        return f"device {device!r} is revoked (since {found.revoked_at})"
    if found.store != store:
        return f"device {device!r} is enrolled in store {found.store!r}, not {store!r}"
    return None


def believed(engine: Engine, store: str, device: str) -> tuple[str | None, Verifier | None]:
    """Whether what `device` sends on store `store`'s topics is believed, read now (the
    loyalty answerers ask before answering): (None, the verifier of its journal key), or
    (why not, None). A device is believed once enrolled, unrevoked, in that store, and
    its key is known from its birth: what it sends is sealed with that key, which is
    what tells it from anyone else who can publish on its topics."""
    # One query for both: this is on every loyalty request's path (two queries in an
    # ORM session cost 320 µs; this, 230).
    query = (
        select(Enrolment, Device.public_key)
        .outerjoin(Device, Device.id == Enrolment.device)
        .where(Enrolment.device == device)
    )
    with Session(engine) as s:
        row = s.execute(query).first()
        found, pem = (row[0], row[1]) if row is not None else (None, None)
        why = refusal(found, store, device)
    if why is not None:
        return why, None
    if not pem:
        return no_key_yet(device), None
    try:
        return None, device_verifier(pem)
    except PublicKeyError as exc:  # only a valid key is ever registered
        return f"device {device!r} has a key that does not load: {exc}", None


def no_key_yet(device: str) -> str:
    """Why nothing from `device` is believed before its birth (the key is not known)."""
    return f"device {device!r} has not announced its key yet (its birth)"


@functools.lru_cache(maxsize=4096)
def device_verifier(pem: str) -> Verifier:
    """The verifier of a device's journal key (PEM); PublicKeyError when it is none. Kept:
    loading a key costs more than checking a signature, and a loyalty request needs one."""
    return Verifier(load_public_key(pem), whose="the device's key")


def unproved(
    session: Session,
    ca: x509.Certificate | None,
    found: Enrolment,
    status: Status,
    at: dt.datetime,
) -> str | None:
    """Why the journal key that `status` announces for enrolled `found` is not taken for
    want of its enrolment certificate's proof (protocol.birth), or None. An enrolment
    with no certificate on record (a row only, as the tests and the plain benches make
    them) takes a key unproved: nothing was issued that could prove it."""
    if session.get(FleetCertificate, found.serial) is None:
        return None
    why: str | None = "the fleet CA is not in the collector's keys directory to check it by"
    if ca is not None:
        why = birth.refusal(
            ca,
            cert_pem=status.cert,
            proof=status.proof,
            store=found.store,
            device=found.device,
            pubkey=status.pubkey,
            serial=found.serial,
            now=at,
        )
    if why is None:
        return None
    return f"the journal key announced for {found.device} is not taken: {why}"


def _enrolled(s: Session, device: str) -> Enrolment:
    check_device(device)
    found = s.get(Enrolment, device, with_for_update=True)
    if found is None:
        raise EnrolmentInput(f"device {device!r} is not enrolled (`collector fleet enroll`)")
    return found


def revoke(engine: Engine, device: str) -> str:
    """Revoke `device`: its certificate goes on the CRL (from the next `broker-config`)
    and its rekey permission lapses. Returns when it was revoked (now, or the first time
    when it already was)."""
    with Session(engine) as s, s.begin():
        found = _enrolled(s, device)
        if found.revoked_at is None:
            found.revoked_at = utc_stamp()
            found.rekey_allowed = False
            cert = s.get(FleetCertificate, found.serial, with_for_update=True)
            if cert is not None and cert.revoked_at is None:
                cert.revoked_at = found.revoked_at
            log.info("device %s revoked, certificate %s", device, found.serial)
        return found.revoked_at


def rekey(engine: Engine, device: str) -> int | None:
    """Let the next journal key that enrolled `device` announces be taken (a replaced
    unit): ingest then starts the device's next chain from seq 1, keeps the old chain's
    records apart, and clears the permission (one rekey, one key). A revoked device is
    refused. Returns the device's current chain, None when it has announced no key yet
    (its first key is taken anyway, and spends the permission)."""
    with Session(engine) as s, s.begin():
        found = _enrolled(s, device)
        if found.revoked_at is not None:
            raise EnrolmentInput(
                f"device {device!r} is revoked (since {found.revoked_at}): enrol it again "
                "with `collector fleet enroll --renew` first"
            )
        found.rekey_allowed = True
        dev = s.get(Device, device)
        chain = dev.chain if dev is not None and dev.public_key is not None else None
    log.info("device %s may announce a new journal key", device)
    return chain


def active(engine: Engine) -> list[tuple[str, str]]:
    """(store, device) of every enrolled device that is not revoked, by store and id."""
    with Session(engine) as s:
        rows = s.execute(
            select(Enrolment.store, Enrolment.device)
            .where(Enrolment.revoked_at.is_(None))
            .order_by(Enrolment.store, Enrolment.device)
        ).all()
    return [(store, device) for store, device in rows]


def revoked(engine: Engine) -> list[Revoked]:
    """The revoked certificates that have not expired yet: what the CRL lists (an expired
    one is refused by its dates alone)."""
    now = utc_stamp()
    with Session(engine) as s:
        rows = s.execute(
            select(FleetCertificate.serial, FleetCertificate.revoked_at)
            .where(FleetCertificate.revoked_at.is_not(None), FleetCertificate.expires_at > now)
            .order_by(FleetCertificate.revoked_at, FleetCertificate.serial)
        ).all()
    return [Revoked(serial, parse_stamp(at)) for serial, at in rows if at is not None]
