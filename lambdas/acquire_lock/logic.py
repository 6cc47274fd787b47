"""Acquire a semaphore slot with one conditional UpdateItem, under the concurrency and warm-up limits.

Pure with respect to AWS: the DynamoDB client and the clock come in as arguments, so the logic runs the same
against DynamoDB, moto or a stub.

A grant is one atomic write that checks, on the lock item of docs/lock-item.md:
  * the count plus this execution's weight stays within the limit,
  * this execution does not hold the lock yet,
  * with a warm-up limit, the next allowed grant time (``nextGrantAt``) has passed,
and in the same write adds the weight to the count, records the holder and, with a warm-up limit, moves
``nextGrantAt`` to now + ceil(1000 / tps) ms. UpdateItem creates a missing item, so the first grant needs no
separate create step and cannot race with another first grant.

A refused write returns the item it saw (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so the refusal is
classified from the very state that caused it, with no second read that could race: already held (a retry
whose first response was lost: success, no second grant), full, or too soon.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from semaphore_core.clock import Clock, iso8601_utc, parse_iso8601_ms
from semaphore_core.config import LockTableConfig
from semaphore_core.dynamo import (
    DynamoDBClient,
    Item,
    is_conditional_check_failed,
    is_throttling,
    number,
    old_item_of,
    parse_int,
    string,
)
from semaphore_core.errors import (
    InvalidEventError,
    LockThrottledError,
    SemaphoreFullError,
    WarmupTooSoonError,
)
from semaphore_core.lock_item import (
    LOCK_COUNT,
    VERSION,
    LockItem,
    add_warmup_clause,
    grant_interval_ms,
    holder_value,
)
from semaphore_core.validation import (
    optional_positive_number,
    require_exact_keys,
    require_int,
    require_object,
    require_str,
)

logger = logging.getLogger(__name__)

EVENT_FIELDS = ("lockName", "executionArn", "weight", "limit", "tpsLimit")
MAX_LOCK_NAME_LENGTH = 1024
#: A refusal is classified from the item the failed write saw. Only when DynamoDB returned no item (an
#: emulator without ALL_OLD) is the item read again, and a change in between is retried this many times.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class AcquireRequest:
    lock_name: str
    execution_arn: str
    weight: int
    limit: int
    tps_limit: float | None

    @classmethod
    def from_event(cls, event: object) -> AcquireRequest:
        """Validates the state machine's event; raises ``InvalidEventError`` saying what is wrong."""
        fields = require_object(event)
        require_exact_keys(fields, EVENT_FIELDS)
        request = cls(
            lock_name=require_str(fields, "lockName", max_length=MAX_LOCK_NAME_LENGTH),
            execution_arn=require_str(fields, "executionArn", prefix="arn:"),
            weight=require_int(fields, "weight", minimum=1),
            limit=require_int(fields, "limit", minimum=1),
            tps_limit=optional_positive_number(fields, "tpsLimit"),
        )
        if request.weight > request.limit:
            raise InvalidEventError(
                f"weight ({request.weight}) must be at most limit ({request.limit}): it could never be"
                " granted"
            )
        return request

    @property
    def grant_interval_ms(self) -> int | None:
        """Milliseconds between two grants under the warm-up limit; None without one."""
        return grant_interval_ms(self.tps_limit)


@dataclass(frozen=True)
class Grant:
    already_held: bool
    lock_name: str
    weight: int
    count: int
    granted_at: int

    def to_response(self) -> dict[str, Any]:
        return {
            "granted": True,
            "alreadyHeld": self.already_held,
            "lockName": self.lock_name,
            "weight": self.weight,
            "count": self.count,
            "grantedAt": self.granted_at,
        }


def build_update(request: AcquireRequest, config: LockTableConfig, now_ms: int) -> dict[str, Any]:
    """The UpdateItem arguments of one grant attempt at ``now_ms``."""
    names = {"#count": LOCK_COUNT, "#holder": request.execution_arn, "#version": VERSION}
    values = {
        ":zero": number(0),
        ":one": number(1),
        ":weight": number(request.weight),
        ":limit_minus_weight": number(request.limit - request.weight),
        ":holder": holder_value(request.weight, iso8601_utc(now_ms)),
    }
    update = "SET #count = if_not_exists(#count, :zero) + :weight, #holder = :holder"
    condition = (
        "(attribute_not_exists(#count) OR #count <= :limit_minus_weight) AND attribute_not_exists(#holder)"
    )
    interval_ms = request.grant_interval_ms
    if interval_ms is not None:
        update_suffix, condition_suffix = add_warmup_clause(names, values, now_ms, interval_ms)
        update += update_suffix
        condition += condition_suffix
    return {
        "TableName": config.table_name,
        "Key": {config.lock_id_attribute: string(request.lock_name)},
        "UpdateExpression": update + " ADD #version :one",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "UPDATED_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def classify_refusal(request: AcquireRequest, item: LockItem, now_ms: int) -> Grant | None:
    """Why the grant was refused, judged from the item the refused write saw.

    Returns the existing grant when this execution already holds the lock; raises ``SemaphoreFullError`` or
    ``WarmupTooSoonError``; returns None when the item explains nothing (it changed after the refusal).
    """
    holder = item.holders.get(request.execution_arn)
    if holder is not None:
        granted_at = parse_iso8601_ms(holder.acquired_at) if holder.acquired_at else None
        return Grant(
            already_held=True,
            lock_name=request.lock_name,
            weight=holder.weight,
            count=item.count,
            granted_at=granted_at if granted_at is not None else now_ms,
        )
    if item.count + request.weight > request.limit:
        raise SemaphoreFullError(
            f"lock {request.lock_name!r} is full: count {item.count} + weight {request.weight}"
            f" would exceed limit {request.limit}"
        )
    if request.tps_limit is not None and item.next_grant_at is not None and item.next_grant_at > now_ms:
        wait_ms = item.next_grant_at - now_ms
        raise WarmupTooSoonError(
            f"lock {request.lock_name!r} is warming up at {request.tps_limit:g} grants/s:"
            f" next grant allowed in {wait_ms} ms (at {iso8601_utc(item.next_grant_at)})",
            wait_ms=wait_ms,
        )
    return None


def acquire(client: DynamoDBClient, clock: Clock, config: LockTableConfig, request: AcquireRequest) -> Grant:
    """Grants a slot or raises the named error the state machine routes on."""
    for _attempt in range(MAX_ATTEMPTS):
        now_ms = clock()
        try:
            response = client.update_item(**build_update(request, config, now_ms))
        except ClientError as error:
            _raise_if_throttled(error, request)
            if not is_conditional_check_failed(error):
                raise
            seen = old_item_of(error)
            if seen is None:
                seen = _read_item(client, config, request)
            existing = classify_refusal(request, LockItem.from_dynamodb(seen), now_ms)
            if existing is not None:
                _log("already held", existing)
                return existing
            continue
        attributes = response.get("Attributes", {})
        grant = Grant(
            already_held=False,
            lock_name=request.lock_name,
            weight=request.weight,
            count=parse_int(attributes.get(LOCK_COUNT), LOCK_COUNT),
            granted_at=now_ms,
        )
        _log("granted", grant)
        return grant
    raise SemaphoreFullError(
        f"lock {request.lock_name!r} refused {MAX_ATTEMPTS} grants and changed before each could be"
        " classified: heavy contention, wait and try again"
    )


def acquire_waiting_for_warmup(
    client: DynamoDBClient,
    clock: Clock,
    sleep: Callable[[float], None],
    config: LockTableConfig,
    request: AcquireRequest,
    max_wait_ms: int,
) -> Grant:
    """``acquire``, but when only the warm-up rate stands in the way and its next grant is due within
    ``max_wait_ms`` (in total), sleep until then and try again, instead of sending the execution into a
    retry at least one second later. This is what lets executions start at the full rate: with whole-second
    retries, waiters that retry in step would get about one grant per second whatever the rate allows.
    """
    waited_ms = 0
    while True:
        try:
            return acquire(client, clock, config, request)
        except WarmupTooSoonError as too_soon:
            if waited_ms + too_soon.wait_ms > max_wait_ms:
                raise
            sleep(too_soon.wait_ms / 1000)
            waited_ms += too_soon.wait_ms


def _read_item(client: DynamoDBClient, config: LockTableConfig, request: AcquireRequest) -> Item | None:
    try:
        response = client.get_item(
            TableName=config.table_name,
            Key={config.lock_id_attribute: string(request.lock_name)},
            ConsistentRead=True,
        )
    except ClientError as error:
        _raise_if_throttled(error, request)
        raise
    item = response.get("Item")
    return item if isinstance(item, dict) else None


def _raise_if_throttled(error: ClientError, request: AcquireRequest) -> None:
    if is_throttling(error):
        code = error.response.get("Error", {}).get("Code")
        raise LockThrottledError(
            f"DynamoDB throttled the lock {request.lock_name!r} ({code}) after the client's retries"
        ) from error


def _log(outcome: str, grant: Grant) -> None:
    logger.info(json.dumps({"outcome": outcome, **grant.to_response()}))
