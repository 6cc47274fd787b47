"""What one mode's measured run used of DynamoDB and Lambda, from two readings of the benchmark's billing
meter (``bench.server.meter``, section ``meter`` of ``/localaws/stats``), and what that costs on AWS.

The readings bracket the measured executions (after the warm-up). Only the mode's own lock table and
functions count, and not the requests of the benchmark's own observer (the lock sampler, which signs with
``harness.aws.OBSERVER_ACCESS_KEY_ID``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import aws
from harness.localaws_admin import admin

#: On-demand prices, US East (N. Virginia): per write and read request unit, per Lambda request, per GB-s.
PRICE_PER_WRITE_UNIT = 0.625 / 1_000_000
PRICE_PER_READ_UNIT = 0.125 / 1_000_000
PRICE_PER_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_PER_LAMBDA_GB_SECOND = 0.0000166667


@dataclass(frozen=True)
class Usage:
    write_units: float = 0.0
    read_units: float = 0.0
    #: DynamoDB requests by operation ("UpdateItem": 119, ...), metered or not.
    requests: dict[str, int] = field(default_factory=dict)
    #: Requests of operations the meter does not size (Scan, Query, ...): their units are not included.
    unmetered: dict[str, int] = field(default_factory=dict)
    lambda_invocations: int = 0
    lambda_gb_seconds: float = 0.0

    @property
    def dynamodb_cost(self) -> float:
        return self.write_units * PRICE_PER_WRITE_UNIT + self.read_units * PRICE_PER_READ_UNIT

    @property
    def lambda_cost(self) -> float:
        return (
            self.lambda_invocations * PRICE_PER_LAMBDA_REQUEST
            + self.lambda_gb_seconds * PRICE_PER_LAMBDA_GB_SECOND
        )


def reading(endpoint: str) -> dict[str, Any]:
    """The meter's totals now."""
    return dict(admin(endpoint, "stats")["meter"])


def usage_between(
    before: Mapping[str, Any], after: Mapping[str, Any], table: str, functions: Iterable[str]
) -> Usage:
    """What ``table`` (every caller but the observer) and ``functions`` used between two readings."""
    write = read = 0.0
    requests: dict[str, int] = {}
    unmetered: dict[str, int] = {}
    callers_before = before.get("dynamodb", {}).get(table, {})
    for caller, totals in after.get("dynamodb", {}).get(table, {}).items():
        if caller == aws.OBSERVER_ACCESS_KEY_ID:
            continue
        earlier = callers_before.get(caller, {})
        write += totals["write_units"] - earlier.get("write_units", 0)
        read += totals["read_units"] - earlier.get("read_units", 0)
        _add_counts(requests, totals["requests"], earlier.get("requests", {}))
        _add_counts(requests, totals["unmetered"], earlier.get("unmetered", {}))
        _add_counts(unmetered, totals["unmetered"], earlier.get("unmetered", {}))
    invocations = 0
    gb_seconds = 0.0
    for name in functions:
        now = after.get("lambda", {}).get(name, {})
        earlier = before.get("lambda", {}).get(name, {})
        invocations += now.get("invocations", 0) - earlier.get("invocations", 0)
        gb_seconds += now.get("gb_seconds", 0.0) - earlier.get("gb_seconds", 0.0)
    return Usage(
        write_units=write,
        read_units=read,
        requests={op: n for op, n in sorted(requests.items()) if n},
        unmetered={op: n for op, n in sorted(unmetered.items()) if n},
        lambda_invocations=invocations,
        lambda_gb_seconds=gb_seconds,
    )


def _add_counts(into: dict[str, int], now: Mapping[str, int], earlier: Mapping[str, int]) -> None:
    for operation, count in now.items():
        into[operation] = into.get(operation, 0) + count - earlier.get(operation, 0)
