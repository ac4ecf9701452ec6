"""Marketing consent: one row per change of a channel's state, with its time and source
(`import:FILE`, `kiosk:DEVICE`), so what a customer agreed to, and when, can be shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.models import Consent

CHANNELS = ("email", "sms")


def consents(session: Session, account: str) -> list[dict[str, Any]]:
    """Every consent change of `account`, oldest first."""
    rows = session.scalars(select(Consent).where(Consent.account == account).order_by(Consent.id))
    return [
        {"channel": c.channel, "granted": c.granted, "at": c.at, "source": c.source} for c in rows
    ]


def record_consent(
    session: Session, account: str, channels: dict[str, bool], source: str, at: str
) -> None:
    """Add a consent row for each channel whose state changes (first time: always)."""
    current: dict[str, bool] = {}
    for c in consents(session, account):
        current[c["channel"]] = c["granted"]
    for channel, granted in channels.items():
        if current.get(channel) != granted:
            session.add(
                Consent(account=account, channel=channel, granted=granted, at=at, source=source)
            )
