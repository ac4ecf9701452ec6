"""Records for tests that need one without a store: a draft as the store would journal
it (hash and signature are placeholders; tests of the chain use a real Store)."""

from __future__ import annotations

from typing import Any

from protocol.record import Draft, Record, convert, plain


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
    """A small cash sale (one line, 2.50 at 20 %, paid 5.00) as journalled at `seq`."""
    raw: dict[str, Any] = {
        "schema": 1,
        "sale_id": f"00000000-0000-4000-8000-{seq:012d}",
        "kind": "sale",
        "device": "till-01",
        "store": "s001",
        "region": "north",
        "staff": "ana",
        "ts": "2026-11-23T10:00:00.123Z",
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
        "tenders": [{"type": "cash", "amount": 250}],
        "change": 250,
        "loyalty": None,
        "refund_of": None,
    }
    return record_of(convert(raw, Draft), seq, **changes)
