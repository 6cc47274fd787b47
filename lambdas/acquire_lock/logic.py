"""Acquire a semaphore slot with one conditional UpdateItem, under the concurrency and warm-up limits.

Pure with respect to AWS: the DynamoDB client and the clock come in as arguments, so the logic runs the same
against DynamoDB, moto or a stub.

A grant is one atomic write that checks, on the lock item of docs/lock-item.md:
  * the count plus this execution's weight stays within the limit,
  * this execution does not hold the lock yet,
  * with a warm-up limit, the next allowed grant time (``nextGrantAt``) has passed,
and in the same write adds the weight to the count and records the holder. UpdateItem creates a missing item,
so the first grant needs no separate create step and cannot race with another first grant.

The warm-up rate's guarantee: successive grants of a lock are sent at least ceil(1000 / tps) ms apart from
when the previous grant's write *returned*, on the functions' clocks, so they also commit that far apart; a
clock read before a write says nothing about when it lands (a write can take hundreds of milliseconds while
new execution environments start). So the grant's write reserves the rate for the interval plus
``WARMUP_RESERVE_MS`` and marks itself pending (``pendingGrant``), and when it has returned a second write
settles ``nextGrantAt`` to that moment + the interval, conditioned on the grant still being the pending one.
The guarantee holds unless a grant's write takes longer than ``WARMUP_RESERVE_MS`` (the reservation then ran
out before the settle); ``AcquireStats.settled`` reports a settle that came too late.

A refused write returns the item it saw (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), so the refusal is
classified from the very state that caused it, with no second read that could race: already held (a retry
whose first response was lost: success, no second grant; it settles its grant if that is still pending),
full, or too soon.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

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
    WARMUP_RESERVE_MS,
    LockItem,
    add_reserving_warmup_clause,
    add_settle_clause,
    grant_interval_ms,
    holder_value,
    warmup_token,
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
#: While a grant is pending past its interval (its write or its settle is slow), look again this often.
SETTLE_POLL_MS = 25


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


@dataclass
class AcquireStats:
    """What one call did beyond its outcome, for its metrics (``metric_counts``)."""

    #: Refused writes that the item did not explain (it changed after the refusal), tried again.
    write_retries: int = 0
    #: Sleeps in the function until the warm-up rate allowed a grant.
    warmup_sleeps: int = 0
    #: Warm-up: True when the grant's settle landed, False when it did not (another grant came first, or the
    #: write failed: the spacing then rests on the reservation alone); None when there was nothing to settle.
    settled: bool | None = None


@dataclass(frozen=True)
class Grant:
    already_held: bool
    lock_name: str
    weight: int
    count: int
    granted_at: int
    #: Warm-up: the next grant time this call settled (when the grant's write returned + the interval), or
    #: None (no rate, or the settle did not land).
    next_grant_at: int | None = None

    def to_response(self) -> dict[str, Any]:
        response: dict[str, Any] = {
            "granted": True,
            "alreadyHeld": self.already_held,
            "lockName": self.lock_name,
            "weight": self.weight,
            "count": self.count,
            "grantedAt": self.granted_at,
        }
        if self.next_grant_at is not None:
            response["nextGrantAt"] = self.next_grant_at
        return response


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
        token = warmup_token(request.execution_arn, now_ms)
        update_suffix, condition_suffix = add_reserving_warmup_clause(
            names, values, now_ms, interval_ms, token
        )
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
        if item.pending_grant is None:
            when = f"in {wait_ms} ms (at {iso8601_utc(item.next_grant_at)})"
        else:
            # A reservation: the last grant settles it, one interval after its write returned, so no sooner
            # than one interval after it was sent (the reservation less WARMUP_RESERVE_MS). Look again then,
            # or shortly if that has passed and the settle is late.
            wait_ms = min(wait_ms, max(item.next_grant_at - WARMUP_RESERVE_MS - now_ms, SETTLE_POLL_MS))
            when = f"once the last grant has settled: look again in {wait_ms} ms"
        raise WarmupTooSoonError(
            f"lock {request.lock_name!r} is warming up at {request.tps_limit:g} grants/s:"
            f" next grant allowed {when}",
            wait_ms=wait_ms,
        )
    return None


def build_settle(
    request: AcquireRequest, config: LockTableConfig, token: str, next_grant_at: int
) -> dict[str, Any]:
    """The UpdateItem arguments that settle the warm-up grant ``token`` to ``next_grant_at``."""
    names = {"#version": VERSION}
    values = {":one": number(1)}
    update, condition = add_settle_clause(names, values, token, next_grant_at)
    return {
        "TableName": config.table_name,
        "Key": {config.lock_id_attribute: string(request.lock_name)},
        "UpdateExpression": update + " ADD #version :one",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def settle(
    client: DynamoDBClient, clock: Clock, config: LockTableConfig, request: AcquireRequest, granted_at: int
) -> int | None:
    """After a warm-up grant's write returned: the next grant of the lock no sooner than one interval from
    now. Returns that time if it is what the lock item says now, else None.

    Never fails the call: the grant is made, and a settle that did not land leaves the reservation, which
    keeps the next grant back until it expires (later than the settle would have, never sooner). Refused, it
    was either a copy of itself that landed first (botocore resends after a lost response) or a later grant
    already made, once this grant's reservation had run out: then the grant came too late to be spaced.
    """
    interval_ms = request.grant_interval_ms
    assert interval_ms is not None, "only a warm-up grant settles"
    token = warmup_token(request.execution_arn, granted_at)
    next_grant_at = clock() + interval_ms
    try:
        client.update_item(**build_settle(request, config, token, next_grant_at))
    except ClientError as error:
        seen = LockItem.from_dynamodb(old_item_of(error)) if is_conditional_check_failed(error) else None
        if seen is not None and seen.settled_grant == token:
            return next_grant_at
        _log_settle("not settled", request, granted_at, next_grant_at, error)
        return None
    except BotoCoreError as error:
        _log_settle("not settled", request, granted_at, next_grant_at, error)
        return None
    _log_settle("settled", request, granted_at, next_grant_at, None)
    return next_grant_at


def acquire(
    client: DynamoDBClient,
    clock: Clock,
    config: LockTableConfig,
    request: AcquireRequest,
    stats: AcquireStats | None = None,
) -> Grant:
    """Grants a slot or raises the named error the state machine routes on; ``stats`` collects what it did."""
    stats = stats if stats is not None else AcquireStats()
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            stats.write_retries += 1
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
            item = LockItem.from_dynamodb(seen)
            existing = classify_refusal(request, item, now_ms)
            if existing is not None:
                _log("already held", existing)
                # The earlier call granted but did not settle (it timed out, or its response was lost
                # before): settle now, from this call's time, after which this execution's work starts.
                token = warmup_token(request.execution_arn, existing.granted_at)
                if request.grant_interval_ms is not None and item.pending_grant == token:
                    settled_at = settle(client, clock, config, request, existing.granted_at)
                    stats.settled = settled_at is not None
                    return dataclasses.replace(existing, next_grant_at=settled_at)
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
        if request.grant_interval_ms is not None:
            settled_at = settle(client, clock, config, request, now_ms)
            stats.settled = settled_at is not None
            return dataclasses.replace(grant, next_grant_at=settled_at)
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
    stats: AcquireStats | None = None,
) -> Grant:
    """``acquire``, but when only the warm-up rate stands in the way and its next grant is due within
    ``max_wait_ms`` (in total), sleep until then and try again, instead of sending the execution into a
    retry at least one second later. This is what lets executions start at the full rate: with whole-second
    retries, waiters that retry in step would get about one grant per second whatever the rate allows.
    """
    stats = stats if stats is not None else AcquireStats()
    waited_ms = 0
    while True:
        try:
            return acquire(client, clock, config, request, stats)
        except WarmupTooSoonError as too_soon:
            if waited_ms + too_soon.wait_ms > max_wait_ms:
                raise
            sleep(too_soon.wait_ms / 1000)
            stats.warmup_sleeps += 1
            waited_ms += too_soon.wait_ms


#: The function's metrics (``semaphore_core.metrics``), every one a count per invocation.
METRICS = (
    "Granted",
    "AlreadyHeld",
    "Full",
    "WarmupWaits",
    "WarmupSleeps",
    "WarmupUnsettled",
    "LockWriteRetries",
    "LockThrottled",
)


def metric_counts(grant: Grant | None, stats: AcquireStats, error: Exception | None = None) -> dict[str, int]:
    """The function's metrics for one invocation: the ``grant`` it returned, or the ``error`` it raised.

    Granted: new grants. AlreadyHeld: calls that found the execution holding already (a retry after a lost
    response or a timeout). Full: calls refused with SemaphoreFullError. WarmupWaits: calls that ended with
    WarmupTooSoonError (the state machine calls again after its retry interval). WarmupSleeps: sleeps in the
    function until the rate allowed a grant. WarmupUnsettled: grants whose settle did not land
    (``AcquireStats.settled``): above 0, some grant may have been spaced less than the interval from the one
    before. LockWriteRetries: refused writes tried again. LockThrottled: calls that failed with
    LockThrottledError after the client's own retries.
    """
    return {
        "Granted": int(grant is not None and not grant.already_held),
        "AlreadyHeld": int(grant is not None and grant.already_held),
        "Full": int(isinstance(error, SemaphoreFullError)),
        "WarmupWaits": int(isinstance(error, WarmupTooSoonError)),
        "WarmupSleeps": stats.warmup_sleeps,
        "WarmupUnsettled": int(stats.settled is False),
        "LockWriteRetries": stats.write_retries,
        "LockThrottled": int(isinstance(error, LockThrottledError)),
    }


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


def _log_settle(
    outcome: str, request: AcquireRequest, granted_at: int, next_grant_at: int, error: Exception | None
) -> None:
    fields: dict[str, Any] = {
        "outcome": outcome,
        "lockName": request.lock_name,
        "executionArn": request.execution_arn,
        "grantedAt": granted_at,
        # From the grant's clock reading to the settle's: how long the grant's write took, and more.
        "settleDelayMs": next_grant_at - (request.grant_interval_ms or 0) - granted_at,
        "nextGrantAt": next_grant_at,
    }
    if error is not None:
        fields["error"] = f"{type(error).__name__}: {error}"
        logger.warning(json.dumps(fields))
    else:
        logger.info(json.dumps(fields))
