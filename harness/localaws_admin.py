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
