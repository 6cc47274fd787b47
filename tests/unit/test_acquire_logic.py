"""The acquirer's pure parts: the request, the UpdateItems it sends (grant and warm-up settle), how a refusal
is classified, and the metrics of a call."""

from __future__ import annotations

import pytest
from acquire_lock.logic import (
    METRICS,
    SETTLE_POLL_MS,
    AcquireRequest,
    AcquireStats,
    Grant,
    build_settle,
    build_update,
    classify_refusal,
    metric_counts,
)
from semaphore_core.config import LockTableConfig
from semaphore_core.errors import (
    InvalidEventError,
    LockThrottledError,
    SemaphoreFullError,
    WarmupTooSoonError,
)
from semaphore_core.lock_item import WARMUP_RESERVE_MS, Holder, LockItem

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e1"
CONFIG = LockTableConfig(table_name="locks", lock_id_attribute="LockName")
NOW = 1_700_000_000_000


def request(weight: int = 1, limit: int = 3, tps: float | None = None) -> AcquireRequest:
    return AcquireRequest(lock_name="gpu", execution_arn=ARN, weight=weight, limit=limit, tps_limit=tps)


def test_from_event_builds_the_request() -> None:
    parsed = AcquireRequest.from_event(
        {"lockName": "gpu", "executionArn": ARN, "weight": 2, "limit": 5, "tpsLimit": 2}
    )
    assert parsed == AcquireRequest(lock_name="gpu", execution_arn=ARN, weight=2, limit=5, tps_limit=2.0)


def test_from_event_rejects_a_weight_that_could_never_fit() -> None:
    with pytest.raises(InvalidEventError, match="could never be granted"):
        AcquireRequest.from_event(
            {"lockName": "gpu", "executionArn": ARN, "weight": 6, "limit": 5, "tpsLimit": None}
        )


@pytest.mark.parametrize(
    ("tps", "interval"),
    [(None, None), (1, 1000), (2, 500), (3, 334), (0.3, 3334), (999, 2), (1000, 1), (1e6, 1)],
)
def test_grant_interval_rounds_up(tps: float | None, interval: int | None) -> None:
    assert request(tps=tps).grant_interval_ms == interval


def test_update_without_warm_up() -> None:
    update = build_update(request(weight=2, limit=5), CONFIG, NOW)
    assert update["TableName"] == "locks"
    assert update["Key"] == {"LockName": {"S": "gpu"}}
    assert update["UpdateExpression"] == (
        "SET #count = if_not_exists(#count, :zero) + :weight, #holder = :holder ADD #version :one"
    )
    assert update["ConditionExpression"] == (
        "(attribute_not_exists(#count) OR #count <= :limit_minus_weight) AND attribute_not_exists(#holder)"
    )
    assert update["ExpressionAttributeNames"] == {
        "#count": "lockCount",
        "#holder": ARN,
        "#version": "version",
    }
    values = update["ExpressionAttributeValues"]
    assert values[":weight"] == {"N": "2"}
    assert values[":one"] == {"N": "1"}
    assert values[":limit_minus_weight"] == {"N": "3"}
    assert values[":holder"] == {"M": {"weight": {"N": "2"}, "acquiredAt": {"S": "2023-11-14T22:13:20.000Z"}}}
    assert update["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_update_with_warm_up_reserves_the_rate_and_marks_the_grant_pending() -> None:
    """The write may land late: it holds the rate for the interval plus the reserve, until its settle."""
    update = build_update(request(tps=3), CONFIG, NOW)
    assert update["UpdateExpression"].endswith(
        ", #next = :next_grant_at, #pending = :pending ADD #version :one"
    )
    assert update["ConditionExpression"].endswith(" AND (attribute_not_exists(#next) OR #next <= :now_ms)")
    assert update["ExpressionAttributeNames"]["#next"] == "nextGrantAt"
    assert update["ExpressionAttributeNames"]["#pending"] == "pendingGrant"
    values = update["ExpressionAttributeValues"]
    assert values[":now_ms"] == {"N": str(NOW)}
    assert values[":next_grant_at"] == {"N": str(NOW + 334 + WARMUP_RESERVE_MS)}
    assert values[":pending"] == {"S": f"{NOW} {ARN}"}


def test_settle_moves_the_next_grant_time_only_while_its_grant_is_pending() -> None:
    settle = build_settle(request(tps=3), CONFIG, f"{NOW} {ARN}", NOW + 410)
    assert settle["Key"] == {"LockName": {"S": "gpu"}}
    assert settle["UpdateExpression"] == (
        "SET #next = :next_grant_at, #settled = :pending REMOVE #pending ADD #version :one"
    )
    assert settle["ConditionExpression"] == "#pending = :pending"
    assert settle["ExpressionAttributeNames"] == {
        "#next": "nextGrantAt",
        "#pending": "pendingGrant",
        "#settled": "settledGrant",
        "#version": "version",
    }
    assert settle["ExpressionAttributeValues"] == {
        ":next_grant_at": {"N": str(NOW + 410)},
        ":pending": {"S": f"{NOW} {ARN}"},
        ":one": {"N": "1"},
    }
    assert settle["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def held(weight: int, count: int, next_grant_at: int | None = None) -> LockItem:
    return LockItem(
        count=count,
        next_grant_at=next_grant_at,
        holders={ARN: Holder(weight=weight, acquired_at="2023-11-14T22:13:19.000Z")},
    )


def test_a_refusal_by_the_own_holder_is_the_existing_grant() -> None:
    grant = classify_refusal(
        request(weight=1, limit=3, tps=1), held(weight=2, count=3, next_grant_at=NOW + 9), NOW
    )
    assert grant is not None
    assert grant.to_response() == {
        "granted": True,
        "alreadyHeld": True,
        "lockName": "gpu",
        "weight": 2,
        "count": 3,
        "grantedAt": NOW - 1000,
    }


def test_full_is_reported_before_warm_up() -> None:
    with pytest.raises(SemaphoreFullError, match="count 3 \\+ weight 1 would exceed limit 3"):
        classify_refusal(request(tps=1), LockItem(count=3, next_grant_at=NOW + 500), NOW)


def test_too_soon_carries_the_wait() -> None:
    with pytest.raises(WarmupTooSoonError, match="next grant allowed in 250 ms") as raised:
        classify_refusal(request(tps=2), LockItem(count=1, next_grant_at=NOW + 250), NOW)
    assert raised.value.wait_ms == 250


def test_nothing_explains_a_refusal_of_a_free_lock() -> None:
    assert classify_refusal(request(tps=2), LockItem(count=2, next_grant_at=NOW), NOW) is None
    assert classify_refusal(request(), LockItem(count=0, next_grant_at=NOW + 10**6), NOW) is None


def test_too_soon_behind_a_pending_grant_looks_again_one_interval_after_it_was_sent() -> None:
    """A reservation (the grant sent at NOW - 100, interval 500) is settled no sooner than NOW + 400."""
    reserved = LockItem(count=1, next_grant_at=NOW - 100 + 500 + WARMUP_RESERVE_MS, pending_grant="x")
    with pytest.raises(WarmupTooSoonError, match="once the last grant has settled") as raised:
        classify_refusal(request(tps=2), reserved, NOW)
    assert raised.value.wait_ms == 400


def test_too_soon_behind_a_late_settle_polls() -> None:
    """Past the interval and still pending (the grant's write or its settle is slow): look again shortly,
    never later than the reservation's end."""
    late = LockItem(count=1, next_grant_at=NOW + 300, pending_grant="x")
    with pytest.raises(WarmupTooSoonError) as raised:
        classify_refusal(request(tps=2), late, NOW)
    assert raised.value.wait_ms == SETTLE_POLL_MS
    ending = LockItem(count=1, next_grant_at=NOW + 7, pending_grant="x")
    with pytest.raises(WarmupTooSoonError) as raised:
        classify_refusal(request(tps=2), ending, NOW)
    assert raised.value.wait_ms == 7


def grant(already_held: bool) -> Grant:
    return Grant(already_held=already_held, lock_name="gpu", weight=1, count=1, granted_at=NOW)


@pytest.mark.parametrize(
    ("outcome", "error", "stats", "expected"),
    [
        (grant(False), None, AcquireStats(settled=True), {"Granted": 1}),
        (grant(True), None, AcquireStats(), {"AlreadyHeld": 1}),
        (
            grant(False),
            None,
            AcquireStats(settled=False, warmup_sleeps=2),
            {"Granted": 1, "WarmupUnsettled": 1, "WarmupSleeps": 2},
        ),
        (None, SemaphoreFullError("x"), AcquireStats(write_retries=2), {"Full": 1, "LockWriteRetries": 2}),
        (
            None,
            WarmupTooSoonError("x", 5),
            AcquireStats(warmup_sleeps=1),
            {"WarmupWaits": 1, "WarmupSleeps": 1},
        ),
        (None, LockThrottledError("x"), AcquireStats(), {"LockThrottled": 1}),
    ],
    ids=["granted", "already-held", "unsettled", "full", "too-soon", "throttled"],
)
def test_metric_counts_report_every_metric_on_every_call(
    outcome: Grant | None, error: Exception | None, stats: AcquireStats, expected: dict[str, int]
) -> None:
    counts = metric_counts(outcome, stats, error)
    assert list(counts) == list(METRICS)
    assert counts == {**dict.fromkeys(METRICS, 0), **expected}
