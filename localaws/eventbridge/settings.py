"""The ``events`` switches and counters, shared by every thread of the server.

Switches (``POST /localaws/config`` ``{"events": {...}}``, or environment variables read at start):

- ``drop_status_change_fraction`` (``LOCALAWS_DROP_STATUS_EVENTS``, default 0.0): the fraction of "Step
  Functions Execution Status Change" events that are lost before they reach the bus, as AWS may lose them
  (delivery is best effort). Deterministic: every event adds the fraction to an accumulator and is dropped
  when it reaches 1, so 1.0 drops every event, 0.0 none, and 0.5 every second one.
- ``schedule_minute_seconds`` (``LOCALAWS_SCHEDULE_MINUTE_SECONDS``, default 60.0): TEST-ONLY. How many real
  seconds one minute of a ``rate(...)`` schedule lasts, so a test can see ``rate(1 minute)`` fire without
  waiting a minute. Leave it at 60 for anything that should behave like AWS. ``cron(...)`` ignores it.
"""

from __future__ import annotations

import math
import os
import threading
from collections import Counter, deque
from typing import Any

from localaws.admin import InvalidConfigError

ENV_DROP = "LOCALAWS_DROP_STATUS_EVENTS"
ENV_MINUTE = "LOCALAWS_SCHEDULE_MINUTE_SECONDS"
REAL_MINUTE_SECONDS = 60.0
#: Failures kept for ``/localaws/stats`` (the newest ones).
RECENT_FAILURES = 20


class EventsSettings:
    """Thread-safe switches and counters for the events subsystem."""

    def __init__(self, drop_fraction: float = 0.0, minute_seconds: float = REAL_MINUTE_SECONDS) -> None:
        self._lock = threading.Lock()
        self._drop_fraction = _fraction(drop_fraction)
        self._minute_seconds = _positive(minute_seconds, "schedule_minute_seconds")
        self._drop_credit = 0.0
        self._counts: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._dropped_by_status: Counter[str] = Counter()
        self._pending = 0
        self._failures: deque[str] = deque(maxlen=RECENT_FAILURES)

    @classmethod
    def from_environment(cls) -> EventsSettings:
        try:
            return cls(
                drop_fraction=float(os.environ.get(ENV_DROP, "0") or 0),
                minute_seconds=float(os.environ.get(ENV_MINUTE, str(REAL_MINUTE_SECONDS)) or 60),
            )
        except ValueError as error:
            raise InvalidConfigError(f"{ENV_DROP} / {ENV_MINUTE}: {error}") from error

    # -- switches ------------------------------------------------------------------------------------------
    @property
    def minute_seconds(self) -> float:
        with self._lock:
            return self._minute_seconds

    def get_config(self) -> dict[str, Any]:
        with self._lock:
            return {
                "drop_status_change_fraction": self._drop_fraction,
                "schedule_minute_seconds": self._minute_seconds,
            }

    def set_config(self, values: dict[str, Any]) -> None:
        known = {"drop_status_change_fraction", "schedule_minute_seconds"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidConfigError(f"unknown events setting(s) {unknown}; known: {sorted(known)}")
        drop = (
            _fraction(values["drop_status_change_fraction"])
            if "drop_status_change_fraction" in values
            else None
        )
        minute = (
            _positive(values["schedule_minute_seconds"], "schedule_minute_seconds")
            if "schedule_minute_seconds" in values
            else None
        )
        with self._lock:
            if drop is not None:
                self._drop_fraction = drop
                self._drop_credit = 0.0
            if minute is not None:
                self._minute_seconds = minute

    def should_drop(self, status: str) -> bool:
        """Count a status-change event and say whether to lose it (see the module docstring)."""
        with self._lock:
            self._counts["status_change_emitted"] += 1
            self._by_status[status] += 1
            self._drop_credit += self._drop_fraction
            if self._drop_credit >= 1.0 - 1e-9:
                self._drop_credit -= 1.0
                self._counts["status_change_dropped"] += 1
                self._dropped_by_status[status] += 1
                return True
            self._counts["status_change_put"] += 1
            return False

    # -- counters ------------------------------------------------------------------------------------------
    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def begin(self) -> None:
        """Work that may still deliver events was queued (``pending`` goes up)."""
        with self._lock:
            self._pending += 1

    def end(self) -> None:
        with self._lock:
            self._pending -= 1

    def failure(self, message: str) -> None:
        with self._lock:
            self._counts["deliveries_failed"] += 1
            self._failures.append(message)

    def get_stats(self) -> dict[str, Any]:
        names = (
            "status_change_emitted",
            "status_change_dropped",
            "status_change_put",
            "client_events_put",
            "scheduled_events_put",
            "scheduled_skipped_disabled",
            "deliveries_started",
            "deliveries_succeeded",
            "deliveries_failed",
            "delivered_stepfunctions",
            "delivered_lambda",
        )
        with self._lock:
            stats: dict[str, Any] = {name: self._counts[name] for name in names}
            stats["status_change_by_status"] = dict(self._by_status)
            stats["status_change_dropped_by_status"] = dict(self._dropped_by_status)
            stats["pending"] = self._pending
            stats["recent_failures"] = list(self._failures)
            return stats


def _fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise InvalidConfigError(f"drop_status_change_fraction must be a number, got {value!r}") from error
    if not 0.0 <= number <= 1.0:
        raise InvalidConfigError(f"drop_status_change_fraction must be within [0, 1], got {number}")
    return number


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise InvalidConfigError(f"{name} must be a number, got {value!r}") from error
    if not math.isfinite(number) or number <= 0:
        raise InvalidConfigError(f"{name} must be a positive number, got {number}")
    return number
