"""``bench.usage``: what a mode used between two meter readings, and what it costs."""

from __future__ import annotations

from typing import Any

import pytest

from bench.usage import (
    PRICE_PER_LAMBDA_REQUEST,
    PRICE_PER_READ_UNIT,
    PRICE_PER_WRITE_UNIT,
    Usage,
    usage_between,
)
from harness.aws import OBSERVER_ACCESS_KEY_ID


def _caller(
    write: int, read: float, requests: dict[str, int], unmetered: dict[str, int] | None = None
) -> Any:
    return {"write_units": write, "read_units": read, "requests": requests, "unmetered": unmetered or {}}


BEFORE = {
    "dynamodb": {
        "locks": {"test": _caller(10, 2.0, {"UpdateItem": 5})},
        "other-locks": {"test": _caller(1, 1.0, {"GetItem": 1})},
    },
    "lambda": {"acquire": {"invocations": 3, "gb_seconds": 0.01}},
}
AFTER = {
    "dynamodb": {
        "locks": {
            "test": _caller(40, 5.0, {"UpdateItem": 20, "GetItem": 6}, {"Scan": 1}),
            "ak": _caller(4, 1.0, {"PutItem": 4}),  # a caller first seen after the first reading
            OBSERVER_ACCESS_KEY_ID: _caller(0, 100.0, {"GetItem": 200}),
        },
        "other-locks": {"test": _caller(99, 99.0, {"GetItem": 99})},
    },
    "lambda": {
        "acquire": {"invocations": 13, "gb_seconds": 0.06},
        "release": {"invocations": 10, "gb_seconds": 0.02},
        "someone-elses": {"invocations": 50, "gb_seconds": 1.0},
    },
}


def test_only_the_modes_table_and_functions_count_and_never_the_observer() -> None:
    usage = usage_between(BEFORE, AFTER, "locks", ["acquire", "release"])
    assert usage.write_units == 34
    assert usage.read_units == 4.0
    assert usage.requests == {"GetItem": 6, "PutItem": 4, "Scan": 1, "UpdateItem": 15}
    assert usage.unmetered == {"Scan": 1}
    assert usage.lambda_invocations == 20
    assert usage.lambda_gb_seconds == pytest.approx(0.07)


def test_cost_is_units_and_requests_at_on_demand_prices() -> None:
    usage = Usage(
        write_units=1_000_000, read_units=2_000_000, lambda_invocations=1_000_000, lambda_gb_seconds=0
    )
    assert usage.dynamodb_cost == pytest.approx(
        1_000_000 * PRICE_PER_WRITE_UNIT + 2_000_000 * PRICE_PER_READ_UNIT
    )
    assert usage.dynamodb_cost == pytest.approx(0.625 + 0.25)
    assert usage.lambda_cost == pytest.approx(1_000_000 * PRICE_PER_LAMBDA_REQUEST) == pytest.approx(0.20)


def test_nothing_used_is_nothing() -> None:
    assert usage_between({}, {}, "locks", ["acquire"]) == Usage()
