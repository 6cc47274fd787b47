"""Queue mode's lock item in DynamoDB: parse it, write it back, and the read-modify-write loop around both.

Every change is: a strongly consistent GetItem, a pure decision (``semaphore_core.queue``), then one
conditional write; when another writer got in between in a way that matters, the condition fails and the
loop reads again. A decision that changes nothing writes nothing. Every write bumps ``version``
(docs/lock-item.md). Two kinds of write:

- **Targeted** (``build_targeted_update``), for the decisions that release and grant: holders removed and
  added, the count set, waiters taken from the queue's head. An UpdateItem conditioned on exactly what the
  decision read: the count, the warm-up's ``nextGrantAt``, each holder removed (present) or added (absent),
  the ids of the waiters taken, and where the settle stopped (the id of the waiter it stopped at, or, when
  it ran out of waiters and left a slot free, the queue's length). Newcomers appended at the tail meanwhile
  do not affect such a decision, so they do not make it lose its race: under a burst of arrivals a release
  still takes one round.
- **Whole item** (``build_put``), for everything else (a newcomer placed in the middle of the queue by its
  arrival time, a waiter leaving from the middle, a settle too large for one update expression): a PutItem
  conditioned on the ``version`` that was read. An update expression is limited to 4 KB; a whole item only
  by the item size, which the queue's capacity is designed within (docs/lock-item.md, "Capacity").
  Attributes this module does not know are carried over.
"""

from __future__ import annotations

import logging
import random
import re
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
    Holder,
    LockItem,
    holder_value,
    is_holder_attribute,
)
from semaphore_core.queue import Outcome, QueueLock, Waiter

logger = logging.getLogger(__name__)

QUEUE = "queue"
#: The latest arrival ever queued (epoch ms); see ``QueueLock.tail_at``.
QUEUE_TAIL_AT = "queueTailAt"
WAITER_ID = "id"
WAITER_WEIGHT = "w"
WAITER_ARRIVED_AT = "at"

#: Read-modify-write attempts before giving up with LockContentionError (the state machine retries).
MAX_ATTEMPTS = 10
#: Jittered backoff between attempts: up to BASE * 2**attempt seconds, at most CAP.
BACKOFF_BASE_SECONDS = 0.005
BACKOFF_CAP_SECONDS = 0.2
#: A targeted update's expressions stay below DynamoDB's 4 KB per expression; larger settles write the item.
MAX_EXPRESSION_LENGTH = 4000

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
    #: Read-modify-write rounds it took (more than 1: it lost races to other writers first).
    attempts: int = 1


def parse_queue_lock(item: Item | None) -> StoredLock:
    """The lock item of docs/lock-item.md with its queue; a missing item is an empty lock."""
    if not item:
        return StoredLock(lock=QueueLock(), version=None, item=None)
    base = LockItem.from_dynamodb(item)
    queue = parse_queue(item[QUEUE]) if QUEUE in item else ()
    version = parse_int(item[VERSION], VERSION) if VERSION in item else None
    tail_at = parse_int(item[QUEUE_TAIL_AT], QUEUE_TAIL_AT) if QUEUE_TAIL_AT in item else None
    lock = QueueLock(
        count=base.count,
        holders=base.holders,
        queue=queue,
        next_grant_at=base.next_grant_at,
        tail_at=tail_at,
    )
    return StoredLock(lock=lock, version=version, item=item)


def parse_queue(value: object) -> tuple[Waiter, ...]:
    """A lock item's ``queue`` attribute; raises ``LockItemCorruptError`` saying what is malformed."""
    entries = value.get("L") if isinstance(value, Mapping) else None
    if not isinstance(entries, list):
        raise LockItemCorruptError(f"{QUEUE} must be a list attribute, got {value!r}")
    waiters = []
    for index, entry in enumerate(entries):
        fields = entry.get("M") if isinstance(entry, Mapping) else None
        id_value = fields.get(WAITER_ID) if isinstance(fields, Mapping) else None
        arn = id_value.get("S") if isinstance(id_value, Mapping) else None
        if not isinstance(fields, Mapping) or not isinstance(arn, str):
            raise LockItemCorruptError(
                f"{QUEUE}[{index}] must be a map with a string {WAITER_ID!r}: {entry!r}"
            )
        waiters.append(
            Waiter(
                execution_arn=arn,
                weight=parse_int(fields.get(WAITER_WEIGHT), f"{QUEUE}[{index}].{WAITER_WEIGHT}"),
                arrived_at=parse_int(fields.get(WAITER_ARRIVED_AT), f"{QUEUE}[{index}].{WAITER_ARRIVED_AT}"),
            )
        )
    return tuple(waiters)


def waiter_value(waiter: Waiter) -> AttributeValue:
    return {
        "M": {
            WAITER_ID: string(waiter.execution_arn),
            WAITER_WEIGHT: number(waiter.weight),
            WAITER_ARRIVED_AT: number(waiter.arrived_at),
        }
    }


def lock_key(config: LockTableConfig, lock_name: str) -> dict[str, AttributeValue]:
    return {config.lock_id_attribute: string(lock_name)}


def build_put(config: LockTableConfig, lock_name: str, stored: StoredLock, lock: QueueLock) -> dict[str, Any]:
    """The PutItem arguments that replace the item read as ``stored`` by ``lock``, only if no one wrote in
    between (same ``version``), bumping the version."""
    managed = {config.lock_id_attribute, LOCK_COUNT, NEXT_GRANT_AT, QUEUE, QUEUE_TAIL_AT, VERSION}
    old = stored.item or {}
    item: dict[str, AttributeValue] = {
        name: value for name, value in old.items() if name not in managed and not is_holder_attribute(name)
    }
    item.update(lock_key(config, lock_name))
    item[LOCK_COUNT] = number(lock.count)
    item[QUEUE] = {"L": [waiter_value(waiter) for waiter in lock.queue]}
    if lock.next_grant_at is not None:
        item[NEXT_GRANT_AT] = number(lock.next_grant_at)
    if lock.tail_at is not None:
        item[QUEUE_TAIL_AT] = number(lock.tail_at)
    item[VERSION] = number((stored.version or 0) + 1)
    for arn, holder in lock.holders.items():
        unchanged = arn in old and stored.lock.holders.get(arn) == holder
        item[arn] = old[arn] if unchanged else _holder_attribute(holder)
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


def build_targeted_update(
    config: LockTableConfig, lock_name: str, stored: StoredLock, lock: QueueLock, limit: int | None = None
) -> dict[str, Any] | None:
    """The UpdateItem arguments that turn the item read as ``stored`` into ``lock``, conditioned on what the
    decision depended on (module doc); None when the change is not one a targeted update can make."""
    before = stored.lock
    taken = len(before.queue) - len(lock.queue)
    if (
        stored.item is None
        or taken < 0
        or before.queue[taken:] != lock.queue
        or before.tail_at != lock.tail_at
    ):
        return None
    if any(arn in before.holders and before.holders[arn] != h for arn, h in lock.holders.items()):
        return None
    if lock.next_grant_at is None and before.next_grant_at is not None:
        return None
    names = {"#count": LOCK_COUNT, "#version": VERSION, "#queue": QUEUE, "#id": WAITER_ID}
    values: dict[str, AttributeValue] = {":one": number(1), ":count": number(lock.count)}
    sets = ["#count = :count"]
    removes: list[str] = []
    if LOCK_COUNT in stored.item:
        values[":count_read"] = number(before.count)
        conditions = ["#count = :count_read"]
    else:
        conditions = ["attribute_not_exists(#count)"]
    if NEXT_GRANT_AT in stored.item or lock.next_grant_at is not None:
        names["#next"] = NEXT_GRANT_AT
        if before.next_grant_at is None:
            conditions.append("attribute_not_exists(#next)")
        else:
            values[":next_read"] = number(before.next_grant_at)
            conditions.append("#next = :next_read")
        if lock.next_grant_at != before.next_grant_at:
            values[":next"] = number(lock.next_grant_at or 0)
            sets.append("#next = :next")
    for index, arn in enumerate(a for a in before.holders if a not in lock.holders):
        names[f"#gone{index}"] = arn
        conditions.append(f"attribute_exists(#gone{index})")
        removes.append(f"#gone{index}")
    for index, (arn, holder) in enumerate((a, h) for a, h in lock.holders.items() if a not in before.holders):
        names[f"#new{index}"] = arn
        values[f":new{index}"] = _holder_attribute(holder)
        conditions.append(f"attribute_not_exists(#new{index})")
        sets.append(f"#new{index} = :new{index}")
    for index, waiter in enumerate(before.queue[:taken]):
        values[f":q{index}"] = string(waiter.execution_arn)
        conditions.append(f"#queue[{index}].#id = :q{index}")
    # Indices name places in the list as read; listed from the back so no removal shifts another's place.
    removes += [f"#queue[{index}]" for index in reversed(range(taken))]
    if lock.queue:
        values[":stopped_at"] = string(lock.queue[0].execution_arn)
        conditions.append(f"#queue[{taken}].#id = :stopped_at")
    elif limit is not None and lock.count >= limit:
        pass  # the lock is full: a newcomer appended meanwhile could not have been granted anyway
    elif QUEUE in stored.item:
        values[":length"] = number(taken)
        conditions.append("size(#queue) = :length")
    else:
        conditions.append("attribute_not_exists(#queue)")
    update = (
        f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "") + " ADD #version :one"
    )
    condition = " AND ".join(conditions)
    if max(len(update), len(condition)) > MAX_EXPRESSION_LENGTH:
        return None
    used = set(re.findall(r"#\w+", update + " " + condition))  # DynamoDB refuses unused names
    return {
        "TableName": config.table_name,
        "Key": lock_key(config, lock_name),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {key: value for key, value in names.items() if key in used},
        "ExpressionAttributeValues": values,
        "ReturnValues": "ALL_NEW",
    }


def _holder_attribute(holder: Holder) -> AttributeValue:
    return holder_value(holder.weight, holder.acquired_at or "")


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
    limit: int | None = None,
) -> Committed:
    """Read, decide, write conditioned on what was read; again on a lost race, ``max_attempts`` times.

    ``decide`` gets the lock and the time and returns the outcome (it may raise, e.g. a full queue: nothing
    is written then). ``limit`` (the lock's concurrency limit) lets a targeted write that leaves the lock
    full ignore newcomers. Raises ``LockContentionError`` when every attempt lost its race.

    A write that loses its race asks DynamoDB for the item as it found it
    (``ReturnValuesOnConditionCheckFailure``), so the next round decides on that at once, without another
    read or a pause: when several releases race for one lock, each round costs one request, not two.

    A write can also "lose" to itself: its request timed out or failed in transit after DynamoDB applied
    it, the client sent it again, and the copy's condition failed against the first one's result. The next
    round would then see the grants already made and grant nobody, and nobody would resume those grantees
    before their re-check. So before deciding again, a round checks whether the item shows every change the
    last failed write meant to make (``shows``); if it does, that write is the one that committed.
    """
    current: StoredLock | None = None
    unconfirmed: Outcome | None = None
    # One round more than attempts: after the last lost race, only the check that it was not lost.
    for attempt in range(max_attempts + 1):
        stored = current if current is not None else read_lock(client, config, lock_name)
        current = None
        if unconfirmed is not None and shows(stored.lock, unconfirmed):
            logger.info("a lock write reported as lost had been applied (its request was sent twice)")
            return Committed(outcome=unconfirmed, version=stored.version, written=True, attempts=attempt)
        if attempt == max_attempts:
            break
        unconfirmed = None
        outcome = decide(stored.lock, clock())
        if not outcome.changed:
            return Committed(outcome=outcome, version=stored.version, written=False, attempts=attempt + 1)
        update = build_targeted_update(config, lock_name, stored, outcome.lock, limit)
        version: int | None
        try:
            if update is None:
                put = build_put(config, lock_name, stored, outcome.lock)
                client.put_item(**put, ReturnValuesOnConditionCheckFailure="ALL_OLD")
                version = (stored.version or 0) + 1
            else:
                written = client.update_item(**update, ReturnValuesOnConditionCheckFailure="ALL_OLD")
                attributes = written.get("Attributes") or {}
                version = parse_int(attributes[VERSION], VERSION) if VERSION in attributes else None
        except ClientError as error:
            raise_if_throttled(error, lock_name)
            if not is_conditional_check_failed(error):
                raise
            unconfirmed = outcome
            found = error.response.get("Item")
            if isinstance(found, Mapping):
                current = parse_queue_lock(found)
            else:  # no item (deleted meanwhile), or not returned: read it, after a short pause
                sleep(random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)))
            continue
        return Committed(outcome=outcome, version=version, written=True, attempts=attempt + 1)
    raise LockContentionError(
        f"lock {lock_name!r} changed between the read and the write of {max_attempts} attempts in a row"
    )


def shows(lock: QueueLock, outcome: Outcome) -> bool:
    """Whether ``lock`` carries every change ``outcome`` made to holders and queue membership (and it made
    some): each holder entry it added, changed or removed is as it left it, and each execution it queued or
    took off the queue is queued or not as it left it. A grant is recognised by its holder entry, whose
    grant time is the decision's to the millisecond."""
    before, after = outcome.before, outcome.lock
    changed_holders = {
        arn
        for arn in set(before.holders) | set(after.holders)
        if before.holders.get(arn) != after.holders.get(arn)
    }
    queued_before = {waiter.execution_arn for waiter in before.queue}
    queued_after = {waiter.execution_arn for waiter in after.queue}
    queued_now = {waiter.execution_arn for waiter in lock.queue}
    changed_queue = queued_before ^ queued_after
    if not changed_holders and not changed_queue:
        return False
    return all(lock.holders.get(arn) == after.holders.get(arn) for arn in changed_holders) and all(
        (arn in queued_now) == (arn in queued_after) for arn in changed_queue
    )


def raise_if_throttled(error: ClientError, lock_name: str) -> None:
    if is_throttling(error):
        code = error.response.get("Error", {}).get("Code")
        raise LockThrottledError(
            f"DynamoDB throttled the lock {lock_name!r} ({code}) after the client's retries"
        ) from error
