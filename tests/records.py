"""Sale records for tests, built in one place: a small cash sale as a plain JSON object
(`sale_dict`), as the till's `Draft` (`draft`), and as a journalled `Record` without a
store (`record_of`, `sale`: hash and signature are placeholders; tests of the chain
append drafts to a real Store)."""

from __future__ import annotations

from typing import Any

from protocol.record import Draft, Record, convert, plain


def sale_dict(
    n: int = 1, *, kind: str = "sale", device: str = "till-01", store: str = "s001", **changes: Any
) -> dict[str, Any]:
    """Sale `n`: one line, 2.50 at 20 %, paid 5.00 in cash; `changes` replace fields. Its
    sale_id is `n`'s (give `sale_id` where ids must differ across stores or runs)."""
    return {
        "schema": 1,
        "sale_id": f"00000000-0000-4000-8000-{n:012d}",
        "kind": kind,
        "device": device,
        "store": store,
        "region": "north",
        "staff": "ana",
        "ts": f"2026-11-23T10:00:{n % 60:02d}.000Z",
        "currency": "EUR",
        "lines": [
            {
                "sku": "A1",
                "barcode": "4006381333931",
                "name": "Café crème",
                "qty": 1,
                "unit_price": 250,
                "discount": 0,
                "total": 250,
                "tax_rate": "20",
            }
        ],
        "total": 250,
        "tax": [{"rate": "20", "base": 208, "tax": 42}],
        "tenders": [{"type": "cash", "amount": 500}],
        "change": 250,
        "loyalty": None,
        "refund_of": None,
    } | changes


def draft(n: int = 1, **changes: Any) -> Draft:
    """`sale_dict(n, …)` as the till's draft (checked as the store checks it)."""
    return convert(sale_dict(n, **changes), Draft)


def record_of(draft: Draft, seq: int = 1, **changes: Any) -> Record:
    """`draft` at `seq` with its receipt number, unsigned."""
    raw = plain(draft) | {
        "seq": seq,
        "receipt_no": f"{draft.store}-{draft.device}-{seq:06d}",
        "prev_hash": "0" * 64,
        "hash": "ab" * 32,
        "sig": "cd" * 64,
    }
    return convert(raw | changes, Record)


def sale(seq: int = 1, **changes: Any) -> Record:
    """Sale `seq` as journalled at `seq`; `changes` replace fields of the record."""
    return record_of(draft(seq), seq, **changes)


def device_key(device: str) -> Any:
    """The Ed25519 key a test's simulated device `device` seals with (the same each time,
    so a bench or test process and the collector's database agree on it)."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = hashlib.sha256(f"pos-test-device:{device}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def seal_as(device: str, topic: str, body: Any) -> bytes:
    """`body` as simulated device `device` publishes it on its own `topic`, sealed with
    `device_key(device)` (what MqttLink does with the unit's journal key)."""
    import time

    from protocol.envelope import seal_device

    return seal_device(device_key(device), topic, body, now=time.time())


def enrol(
    target: Any, *devices: str | tuple[str, str], store: str = "s001", keys: bool = False
) -> None:
    """Enrol `devices` (ids in `store`, or (device, store) pairs) in the collector database
    `target` (an Engine or a URL), as `collector fleet enroll` records them, without the
    certificate files (the collector believes only enrolled devices). `keys`: also
    register `device_key(device)` as each one's key, as if its birth had been ingested
    (for simulated devices that only ask loyalty questions, sealed with `seal_as`)."""
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from appliance.store.keys import public_key_pem
    from collector.db import open_database
    from collector.models import Device, Enrolment
    from protocol.chain import GENESIS_HASH
    from protocol.timestamps import utc_stamp

    engine = target if isinstance(target, Engine) else open_database(str(target))
    try:
        with Session(engine) as s, s.begin():
            for d in devices:
                device, where = (d, store) if isinstance(d, str) else d
                found = s.get(Enrolment, device)
                if found is None:
                    s.add(
                        Enrolment(
                            device=device,
                            store=where,
                            enrolled_at=utc_stamp(),
                            serial=f"test-{device}",
                            revoked_at=None,
                            rekey_allowed=False,
                        )
                    )
                else:
                    found.store, found.revoked_at = where, None
                if keys and s.get(Device, device) is None:
                    now = utc_stamp()
                    pem = public_key_pem(device_key(device))
                    s.add(
                        Device(
                            id=device,
                            store=where,
                            public_key=pem,
                            first_seen=now,
                            last_seen=now,
                            last_hash=GENESIS_HASH,
                        )
                    )
    finally:
        if engine is not target:
            engine.dispose()
