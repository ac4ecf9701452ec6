"""The one timestamp format on the wire and in records: UTC, milliseconds, `Z`
(`2026-11-23T10:00:00.123Z`). Fixed width, so the strings sort as the moments do."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_stamp(moment: datetime | float | None = None) -> str:
    """`moment` (an aware datetime, or a POSIX time; now when None) as the wire writes it.
    ValueError for a naive datetime: a clock without a zone would be guessed."""
    if moment is None:
        moment = datetime.now(UTC)
    elif isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    elif moment.tzinfo is None:
        raise ValueError("a timestamp needs an aware datetime (tzinfo set), not a naive one")
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_stamp(text: str) -> datetime:
    """An aware UTC datetime from a wire timestamp (any ISO 8601 with a zone is taken);
    ValueError when it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text[:40]!r} has no time zone")
    return moment.astimezone(UTC)
