"""``acquiredAt`` as epoch milliseconds, whichever way the writer formatted it.

AWS writes ``2024-05-01T12:00:00.123Z``; emulators write ``2024-05-01T12:00:00.123456+00:00``. Both, any
number of fractional digits (or none), and any UTC offset parse; a time without a zone does not (its age
would be a guess, and a lease must not release on a guess).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_ISO8601 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:[.,](?P<fraction>\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_timestamp_ms(text: object) -> int | None:
    """Epoch milliseconds of an ISO 8601 time with a zone, or None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    match = _ISO8601.match(text.strip())
    if match is None:
        return None
    try:
        moment = datetime.strptime(f"{match['date']}T{match['time']}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    offset = timedelta(0)
    if match["sign"]:
        offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
        if match["sign"] == "-":
            offset = -offset
    millis = int((match["fraction"] or "0")[:3].ljust(3, "0"))
    aware = moment.replace(tzinfo=timezone(offset)) if abs(offset) < timedelta(hours=24) else None
    if aware is None:
        return None
    return (aware - _EPOCH) // timedelta(milliseconds=1) + millis
