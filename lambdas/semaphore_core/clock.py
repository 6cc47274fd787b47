"""Time as the functions see it: epoch milliseconds from an injectable clock (tests pass their own)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

#: Returns the current time in epoch milliseconds.
Clock = Callable[[], int]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def system_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def iso8601_utc(epoch_ms: int) -> str:
    """``2024-05-01T12:00:00.123Z``: millisecond precision, UTC, with the ``Z`` AWS itself writes."""
    seconds, millis = divmod(epoch_ms, 1000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def parse_iso8601_ms(text: str) -> int | None:
    """Epoch milliseconds of an ISO 8601 time with a zone (``Z`` or an offset); None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return (parsed - _EPOCH) // timedelta(milliseconds=1)
