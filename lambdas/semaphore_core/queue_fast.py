"""Queue mode's two single-write paths for an execution's first acquire attempt: no read, no retry.

Read-modify-write (``queue_store.transact``) serves every case, but under a burst of arrivals its version
condition makes concurrent acquirers fail and retry each other, and the retries reorder them. The two
common cases need no read, because their outcome does not depend on the rest of the item:

- **must wait** (somebody is queued, or the slot does not fit, or the warm-up rate forbids a grant now):
  append to the queue's tail, ``SET queue = list_append(queue, [me])``, on exactly that condition and only
  if nobody queued so far arrived later than this execution (``queueTailAt``). One that did arrive later
  (this execution's call was slow) makes the append fail, and read-modify-write places it in arrival order.
- **nobody waits and it fits** (and the rate allows): grant at once, the same write as the acquirer's
  (``count + weight``, the holder entry, ``nextGrantAt``), conditioned on an empty queue.

Both bump ``version`` like every write, so read-modify-write writers that raced with them try again. They
are used only on an execution's first attempt (its per-execution item did not exist yet), when it can be
neither queued nor holding; anything else, or a refused condition, goes through read-modify-write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from semaphore_core.clock import iso8601_utc
from semaphore_core.config import LockTableConfig
from semaphore_core.dynamo import AttributeValue, DynamoDBClient, is_conditional_check_failed, number
from semaphore_core.lock_item import (
    LOCK_COUNT,
    NEXT_GRANT_AT,
    VERSION,
    add_warmup_clause,
    grant_interval_ms,
    holder_value,
)
from semaphore_core.queue import QueueLock, Waiter
from semaphore_core.queue_store import (
    QUEUE,
    QUEUE_TAIL_AT,
    lock_key,
    parse_queue_lock,
    raise_if_throttled,
    waiter_value,
)


@dataclass(frozen=True)
class FastAcquire:
    """A first attempt's single write succeeded: it was granted at once, or appended. ``lock`` is the item
    as that write left it."""

    granted: bool
    lock: QueueLock | None = None


def build_append(
    config: LockTableConfig,
    lock_name: str,
    waiter: Waiter,
    limit: int,
    tps_limit: float | None,
    max_queue_length: int,
    now_ms: int,
) -> dict[str, Any]:
    """Append ``waiter`` only if it must wait, the queue has room and nobody queued arrived after it; returns
    the whole new item."""
    names = {
        "#queue": QUEUE,
        "#count": LOCK_COUNT,
        "#holder": waiter.execution_arn,
        "#version": VERSION,
        "#tail": QUEUE_TAIL_AT,
    }
    values: dict[str, AttributeValue] = {
        ":me": {"L": [waiter_value(waiter)]},
        ":at": number(waiter.arrived_at),
        ":empty": {"L": []},
        ":one": number(1),
        ":zero": number(0),
        ":max": number(max_queue_length),
        ":limit_minus_weight": number(limit - waiter.weight),
    }
    # size() of a missing attribute is guarded: DynamoDB reads it as false, some emulators fail on it.
    must_wait = "(attribute_exists(#queue) AND size(#queue) > :zero) OR #count > :limit_minus_weight"
    if grant_interval_ms(tps_limit) is not None:
        names["#next"] = NEXT_GRANT_AT
        values[":now_ms"] = number(now_ms)
        must_wait += " OR #next > :now_ms"
    return {
        "TableName": config.table_name,
        "Key": lock_key(config, lock_name),
        "UpdateExpression": (
            "SET #queue = list_append(if_not_exists(#queue, :empty), :me), #tail = :at ADD #version :one"
        ),
        "ConditionExpression": (
            "attribute_not_exists(#holder)"
            " AND (attribute_not_exists(#queue) OR size(#queue) < :max)"
            " AND (attribute_not_exists(#tail) OR #tail <= :at)"
            f" AND ({must_wait})"
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


def build_grant(
    config: LockTableConfig,
    lock_name: str,
    waiter: Waiter,
    limit: int,
    tps_limit: float | None,
    now_ms: int,
) -> dict[str, Any]:
    """Grant ``waiter`` at once only if nobody is queued, it fits and the rate allows."""
    names = {"#queue": QUEUE, "#count": LOCK_COUNT, "#holder": waiter.execution_arn, "#version": VERSION}
    values: dict[str, AttributeValue] = {
        ":one": number(1),
        ":zero": number(0),
        ":weight": number(waiter.weight),
        ":limit_minus_weight": number(limit - waiter.weight),
        ":holder": holder_value(waiter.weight, iso8601_utc(now_ms)),
    }
    update = "SET #count = if_not_exists(#count, :zero) + :weight, #holder = :holder"
    condition = (
        "attribute_not_exists(#holder)"
        " AND (attribute_not_exists(#queue) OR size(#queue) = :zero)"
        " AND (attribute_not_exists(#count) OR #count <= :limit_minus_weight)"
    )
    interval_ms = grant_interval_ms(tps_limit)
    if interval_ms is not None:
        update_suffix, condition_suffix = add_warmup_clause(names, values, now_ms, interval_ms)
        update += update_suffix
        condition += condition_suffix
    return {
        "TableName": config.table_name,
        "Key": lock_key(config, lock_name),
        "UpdateExpression": update + " ADD #version :one",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


def fast_acquire(
    client: DynamoDBClient,
    config: LockTableConfig,
    lock_name: str,
    waiter: Waiter,
    limit: int,
    tps_limit: float | None,
    max_queue_length: int,
    now_ms: int,
) -> FastAcquire | None:
    """Append if it must wait, else grant if it can; None when neither condition held (read-modify-write
    decides then: e.g. a full queue, or a lock item that changed between the two writes)."""
    try:
        response = client.update_item(
            **build_append(config, lock_name, waiter, limit, tps_limit, max_queue_length, now_ms)
        )
        attributes = response.get("Attributes")
        return FastAcquire(granted=False, lock=parse_queue_lock(attributes if attributes else None).lock)
    except ClientError as error:
        raise_if_throttled(error, lock_name)
        if not is_conditional_check_failed(error):
            raise
    try:
        response = client.update_item(**build_grant(config, lock_name, waiter, limit, tps_limit, now_ms))
        attributes = response.get("Attributes")
        return FastAcquire(granted=True, lock=parse_queue_lock(attributes if attributes else None).lock)
    except ClientError as error:
        raise_if_throttled(error, lock_name)
        if not is_conditional_check_failed(error):
            raise
    return None
