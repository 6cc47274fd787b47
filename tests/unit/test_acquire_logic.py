"""The acquirer's pure parts: the request, the UpdateItem it sends, and how a refusal is classified."""

from __future__ import annotations

import pytest
from acquire_lock.logic import AcquireRequest, build_update, classify_refusal
from semaphore_core.config import LockTableConfig
from semaphore_core.errors import InvalidEventError, SemaphoreFullError, WarmupTooSoonError
from semaphore_core.lock_item import Holder, LockItem

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


def test_update_with_warm_up_checks_and_moves_the_next_grant_time() -> None:
    update = build_update(request(tps=3), CONFIG, NOW)
    assert update["UpdateExpression"].endswith(", #next = :next_grant_at ADD #version :one")
    assert update["ConditionExpression"].endswith(" AND (attribute_not_exists(#next) OR #next <= :now_ms)")
    assert update["ExpressionAttributeNames"]["#next"] == "nextGrantAt"
    assert update["ExpressionAttributeValues"][":now_ms"] == {"N": str(NOW)}
    assert update["ExpressionAttributeValues"][":next_grant_at"] == {"N": str(NOW + 334)}


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
