"""Who may use the till: PIN hashes (scrypt), the roster, and the open-till rule.

An empty roster is an "open till": any well-formed id logs in as a supervisor with no
PIN. That is what the demo and a first set-up run with; a shop adds `[[staff]]` to
its config to turn PINs and roles on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from protocol.errors import BadInput

Role = Literal["cashier", "supervisor"]
ROLES: tuple[str, ...] = ("cashier", "supervisor")

_ID = re.compile(r"^[a-z0-9-]{1,32}$")
_PIN = re.compile(r"^[0-9]{4,8}$")
# scrypt cost: about 16 MiB and a few tens of ms per check on a Pi. A 4-8 digit PIN
# cannot be made strong by hashing alone; this only keeps a leaked config from
# giving PINs away for free.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


class Rejected(BadInput):
    """A till operation refused; nothing changed. `op` is the operation, `reason` why."""

    def __init__(self, op: str, reason: str) -> None:
        super().__init__(reason)
        self.op = op
        self.reason = reason


class WrongPin(Rejected):
    """A guess that failed: a wrong PIN, or an id not on the roster (the till counts these)."""


class StaffError(BadInput):
    """A PIN or PIN hash that cannot be used."""


@dataclass(frozen=True)
class Person:
    """Someone logged in (or approving): id, display name and role."""

    id: str
    name: str
    role: Role

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


class StaffLike(Protocol):
    """What a roster entry must have (appliance.config.StaffMember has it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def pin_hash(self) -> str: ...


def _scrypt(pin: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        pin.encode("ascii"), salt=salt, n=_N, r=_R, p=_P, maxmem=64 * 2**20, dklen=_KEY_BYTES
    )


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """`scrypt$<salt hex>$<hash hex>` for a PIN of 4 to 8 digits."""
    if not _PIN.match(pin):
        raise StaffError("a PIN is 4 to 8 digits")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    return f"scrypt${salt.hex()}${_scrypt(pin, salt).hex()}"


def verify_pin(pin: str, pin_hash: str) -> bool:
    """True when `pin` is the one `pin_hash` was made from (compared in constant time)."""
    parts = pin_hash.split("$")
    if len(parts) != 3 or parts[0] != "scrypt" or not _PIN.match(pin):
        return False
    try:
        salt, want = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(pin, salt), want)


class Roster:
    """The people who may log in, by id. Empty means open till (any id, supervisor)."""

    def __init__(self, members: Sequence[StaffLike]) -> None:
        self._members = {m.id: m for m in members}
        for m in members:
            if m.role not in ROLES:
                raise StaffError(f"staff {m.id!r}: role {m.role!r} is not cashier or supervisor")

    @property
    def open(self) -> bool:
        """True when there is no roster: anyone logs in as supervisor without a PIN."""
        return not self._members

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, staff_id: object) -> bool:
        return staff_id in self._members

    @staticmethod
    def well_formed(staff_id: str) -> bool:
        return bool(_ID.match(staff_id))

    def authenticate(self, staff_id: str, pin: str | None, op: str = "login") -> Person:
        """The person `staff_id` is, when `pin` is theirs; `Rejected(op, why)` otherwise."""
        if not _ID.match(staff_id):
            raise Rejected(op, f"staff id {staff_id[:40]!r} is not 1-32 of a-z, 0-9 and -")
        if self.open:
            return Person(staff_id, staff_id, "supervisor")
        member = self._members.get(staff_id)
        if member is None:
            raise WrongPin(op, f"no staff member {staff_id!r}; check the id")
        if pin is None or pin == "":
            raise Rejected(op, f"{staff_id} needs a PIN")
        if not verify_pin(pin, member.pin_hash):
            raise WrongPin(op, f"wrong PIN for {staff_id}")
        role: Role = "supervisor" if member.role == "supervisor" else "cashier"
        return Person(member.id, member.name, role)
