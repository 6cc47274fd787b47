"""Queue mode's lock item in DynamoDB: parse it, write it back, and the read-modify-write loop around both.

Every change is: a strongly consistent GetItem, a pure decision (``semaphore_core.queue``), then one PutItem
of the whole item conditioned on the ``version`` that was read (absent, or equal) and carrying version + 1.
Every other writer bumps ``version`` too (docs/lock-item.md), so a write that raced with anyone fails its
condition and the loop reads again. A decision that changes nothing writes nothing.

PutItem, not UpdateItem: a settle can add and remove many holder attributes at once, and an update
expression is limited to 4 KB; a whole item is limited only by the item size, which the queue's capacity
is designed within (docs/lock-item.md, "Capacity"). Attributes this module does not know are carried over.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from semaphore_core.clock import Clock
from semaphore_core.config import LockTableConfig
from semaphore_core.dynamo import (
    AttributeValue,
    DynamoDBClient,
    Item,
    is_conditional_check_failed,
    is_throttling,
    number,
    parse_int,
    string,
)
from semaphore_core.errors import LockContentionError, LockItemCorruptError, LockThrottledError
from semaphore_core.lock_item import (
    LOCK_COUNT,
    NEXT_GRANT_AT,
    VERSION,
    LockItem,
    holder_value,
    is_holder_attribute,
)
from semaphore_core.queue import Outcome, QueueLock, Waiter

logger = logging.getLogger(__name__)

QUEUE = "queue"
WAITER_ID = "id"
WAITER_WEIGHT = "w"
WAITER_ENQUEUED_AT = "at"

#: Read-modify-write attempts before giving up with LockContentionError (the state machine retries).
MAX_ATTEMPTS = 10
#: Jittered backoff between attempts: up to BASE * 2**attempt seconds, at most CAP.
BACKOFF_BASE_SECONDS = 0.005
BACKOFF_CAP_SECONDS = 0.2

Decide = Callable[[QueueLock, int], Outcome]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class StoredLock:
    """A lock as read: the parsed view, the version it carried (None: never written with one) and the raw
    item (None: no item), whose unknown attributes a write carries over."""

    lock: QueueLock
    version: int | None
    item: Item | None


@dataclass(frozen=True)
class Committed:
    """A decision that is now the lock's state: written with ``version``, or, when it changed nothing,
    true of the item that carried ``version``."""

    outcome: Outcome
    version: int | None
    written: bool


def parse_queue_lock(item: Item | None) -> StoredLock:
    """The lock item of docs/lock-item.md with its queue; a missing item is an empty lock."""
    if not item:
        return StoredLock(lock=QueueLock(), version=None, item=None)
    base = LockItem.from_dynamodb(item)
    queue = _parse_queue(item[QUEUE]) if QUEUE in item else ()
    version = parse_int(item[VERSION], VERSION) if VERSION in item else None
    lock = QueueLock(count=base.count, holders=base.holders, queue=queue, next_grant_at=base.next_grant_at)
    return StoredLock(lock=lock, version=version, item=item)


def _parse_queue(value: AttributeValue) -> tuple[Waiter, ...]:
    entries = value.get("L") if isinstance(value, Mapping) else None
    if not isinstance(entries, list):
        raise LockItemCorruptError(f"{QUEUE} must be a list attribute, got {value!r}")
    waiters = []
    for index, entry in enumerate(entries):
        fields = entry.get("M") if isinstance(entry, Mapping) else None
        arn = fields.get(WAITER_ID, {}).get("S") if isinstance(fields, Mapping) else None
        if not isinstance(fields, Mapping) or not isinstance(arn, str):
            raise LockItemCorruptError(
                f"{QUEUE}[{index}] must be a map with a string {WAITER_ID!r}: {entry!r}"
            )
        waiters.append(
            Waiter(
                execution_arn=arn,
                weight=parse_int(fields.get(WAITER_WEIGHT), f"{QUEUE}[{index}].{WAITER_WEIGHT}"),
                enqueued_at=parse_int(
                    fields.get(WAITER_ENQUEUED_AT), f"{QUEUE}[{index}].{WAITER_ENQUEUED_AT}"
                ),
            )
        )
    return tuple(waiters)


def waiter_value(waiter: Waiter) -> AttributeValue:
    return {
        "M": {
            WAITER_ID: string(waiter.execution_arn),
            WAITER_WEIGHT: number(waiter.weight),
            WAITER_ENQUEUED_AT: number(waiter.enqueued_at),
        }
    }


def lock_key(config: LockTableConfig, lock_name: str) -> dict[str, AttributeValue]:
    return {config.lock_id_attribute: string(lock_name)}


def build_put(config: LockTableConfig, lock_name: str, stored: StoredLock, lock: QueueLock) -> dict[str, Any]:
    """The PutItem arguments that replace the item read as ``stored`` by ``lock``, only if no one wrote in
    between (same ``version``), bumping the version."""
    managed = {config.lock_id_attribute, LOCK_COUNT, NEXT_GRANT_AT, QUEUE, VERSION}
    old = stored.item or {}
    item: dict[str, AttributeValue] = {
        name: value for name, value in old.items() if name not in managed and not is_holder_attribute(name)
    }
    item.update(lock_key(config, lock_name))
    item[LOCK_COUNT] = number(lock.count)
    item[QUEUE] = {"L": [waiter_value(waiter) for waiter in lock.queue]}
    if lock.next_grant_at is not None:
        item[NEXT_GRANT_AT] = number(lock.next_grant_at)
    item[VERSION] = number((stored.version or 0) + 1)
    for arn, holder in lock.holders.items():
        unchanged = arn in old and stored.lock.holders.get(arn) == holder
        item[arn] = old[arn] if unchanged else holder_value(holder.weight, holder.acquired_at or "")
    if stored.version is None:
        condition = "attribute_not_exists(#version)"
        values = None
    else:
        condition = "#version = :version"
        values = {":version": number(stored.version)}
    put: dict[str, Any] = {
        "TableName": config.table_name,
        "Item": item,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#version": VERSION},
    }
    if values is not None:
        put["ExpressionAttributeValues"] = values
    return put


def read_lock(client: DynamoDBClient, config: LockTableConfig, lock_name: str) -> StoredLock:
    """A strongly consistent read of the lock item."""
    try:
        response = client.get_item(
            TableName=config.table_name, Key=lock_key(config, lock_name), ConsistentRead=True
        )
    except ClientError as error:
        raise_if_throttled(error, lock_name)
        raise
    item = response.get("Item")
    return parse_queue_lock(item if isinstance(item, Mapping) else None)


def transact(
    client: DynamoDBClient,
    config: LockTableConfig,
    lock_name: str,
    decide: Decide,
    clock: Clock,
    sleep: Sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> Committed:
    """Read, decide, write conditioned on the version read; again on a lost race, ``max_attempts`` times.

    ``decide`` gets the lock and the time and returns the outcome (it may raise, e.g. a full queue: nothing
    is written then). Raises ``LockContentionError`` when every attempt lost its race.
    """
    for attempt in range(max_attempts):
        stored = read_lock(client, config, lock_name)
        outcome = decide(stored.lock, clock())
        if not outcome.changed:
            return Committed(outcome=outcome, version=stored.version, written=False)
        try:
            client.put_item(**build_put(config, lock_name, stored, outcome.lock))
        except ClientError as error:
            raise_if_throttled(error, lock_name)
            if not is_conditional_check_failed(error):
                raise
            sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
            continue
        return Committed(outcome=outcome, version=(stored.version or 0) + 1, written=True)
    raise LockContentionError(
        f"lock {lock_name!r} changed between the read and the write of {max_attempts} attempts in a row"
    )


def raise_if_throttled(error: ClientError, lock_name: str) -> None:
    if is_throttling(error):
        code = error.response.get("Error", {}).get("Code")
        raise LockThrottledError(
            f"DynamoDB throttled the lock {lock_name!r} ({code}) after the client's retries"
        ) from error
