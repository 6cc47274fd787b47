"""The local AWS's own switches and counters: `/localaws/config`, `/localaws/stats` (see localaws.admin)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def admin(endpoint: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET ``/localaws/<route>``, or POST ``body`` to it; returns the JSON answer."""
    request = urllib.request.Request(
        f"{endpoint}/localaws/{route}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


#: A schedule's minute as AWS has it.
REAL_MINUTE = 60.0


def configure_events(endpoint: str, drop: float, minute_seconds: float) -> None:
    """Lose ``drop`` (0 to 1) of the status-change events, and make a schedule's minute last
    ``minute_seconds``, so that a sweep interval of a minute lasts that long (or is held off)."""
    admin(
        endpoint,
        "config",
        {"events": {"drop_status_change_fraction": drop, "schedule_minute_seconds": minute_seconds}},
    )
