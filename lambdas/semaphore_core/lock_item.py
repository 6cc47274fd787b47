"""The lock item of docs/lock-item.md as code: attribute names, holder ids, holder detection and a parsed
view.

One item per lock: the partition key holds the lock's name, ``lockCount`` the sum of the holders' weights,
one map attribute per holder named by its holder id, and ``nextGrantAt`` (with ``pendingGrant`` in poll
mode) for the warm-up limit.

A **holder id** names whoever holds (or waits for) a slot: an execution ARN, or, for a Map iteration that
holds a slot of its own, an **iteration holder** ``<execution ARN>#<iteration id>``. Execution names may not
contain '#', so the part before it is always the execution; Step Functions knows only that part (ask it about
the execution, never about the holder id). An execution with iteration holders has a **registry** item, keyed
``<execution ARN>#``, listing them (``semaphore_core.execution_item``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from semaphore_core.dynamo import AttributeValue, Item, number, parse_int, string
from semaphore_core.errors import LockItemCorruptError

DEFAULT_LOCK_ID_ATTRIBUTE = "LockName"
LOCK_COUNT = "lockCount"
NEXT_GRANT_AT = "nextGrantAt"
#: Poll mode's warm-up: the grant whose ``nextGrantAt`` is still a reservation, not yet settled from the time
#: its write returned (``warmup_token``). Absent once settled.
PENDING_GRANT = "pendingGrant"
#: Poll mode's warm-up: the last grant that settled, so a settle refused because a copy of it landed first can
#: tell that from one refused because a later grant came.
SETTLED_GRANT = "settledGrant"
#: How much longer than the interval a poll-mode warm-up grant holds the rate while its write is in flight:
#: the next grant waits for the settle, or, if the grant's function died before settling, this long.
WARMUP_RESERVE_MS = 1000
#: Bumped by every write to a lock item, so read-modify-write writers (queue mode) can condition on it.
VERSION = "version"
#: Every holder attribute is a holder id (an execution ARN, or one with an iteration id), and nothing else in
#: the item starts with this.
HOLDER_PREFIX = "arn:"
#: Between an iteration holder's execution ARN and its iteration id; never part of an execution ARN.
HOLDER_SEPARATOR = "#"
#: An iteration id (the state machine writes the Map item's index, '.' and a random number: ``3.1837462``).
#: Only characters that need no escaping anywhere a holder id goes: attribute names, item keys, logs.
_ITERATION_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
HOLDER_WEIGHT = "weight"
HOLDER_ACQUIRED_AT = "acquiredAt"


def grant_interval_ms(tps_limit: float | None) -> int | None:
    """Milliseconds between two grants under a warm-up limit of ``tps_limit`` grants per second; None
    without one."""
    if tps_limit is None:
        return None
    return max(1, math.ceil(1000 / tps_limit))


def add_warmup_clause(
    names: dict[str, str], values: dict[str, AttributeValue], now_ms: int, interval_ms: int
) -> tuple[str, str]:
    """The warm-up part of a conditional grant: only if ``nextGrantAt`` has passed, and it moves it to
    ``now_ms + interval_ms``. Fills ``names``/``values``; returns (update suffix, condition suffix)."""
    names["#next"] = NEXT_GRANT_AT
    values[":now_ms"] = number(now_ms)
    values[":next_grant_at"] = number(now_ms + interval_ms)
    return ", #next = :next_grant_at", " AND (attribute_not_exists(#next) OR #next <= :now_ms)"


def warmup_token(execution_arn: str, granted_at_ms: int) -> str:
    """Names one grant (an execution may hold a lock again later, never twice in one millisecond); its
    ``granted_at_ms`` is also the holder's ``acquiredAt``, so a retried call can rebuild it."""
    return f"{granted_at_ms} {execution_arn}"


def add_reserving_warmup_clause(
    names: dict[str, str], values: dict[str, AttributeValue], now_ms: int, interval_ms: int, token: str
) -> tuple[str, str]:
    """Poll mode's warm-up part of a grant: like ``add_warmup_clause``, but it reserves the rate for
    ``interval_ms + WARMUP_RESERVE_MS`` and marks itself pending: the grant's write may land late, so only
    when it has returned does ``add_settle_clause`` fix the next grant time. Fills ``names``/``values``;
    returns (update suffix, condition suffix)."""
    update, condition = add_warmup_clause(names, values, now_ms, interval_ms + WARMUP_RESERVE_MS)
    names["#pending"] = PENDING_GRANT
    values[":pending"] = string(token)
    return update + ", #pending = :pending", condition


def add_settle_clause(
    names: dict[str, str], values: dict[str, AttributeValue], token: str, next_grant_at: int
) -> tuple[str, str]:
    """The write after a poll-mode warm-up grant returned: ``nextGrantAt`` becomes ``next_grant_at`` (when it
    returned + the interval), only while the grant ``token`` is still the pending one, so it never moves a
    later grant's time and a repeated copy changes nothing. Returns (update expression, condition)."""
    names["#next"] = NEXT_GRANT_AT
    names["#pending"] = PENDING_GRANT
    names["#settled"] = SETTLED_GRANT
    values[":next_grant_at"] = number(next_grant_at)
    values[":pending"] = string(token)
    return "SET #next = :next_grant_at, #settled = :pending REMOVE #pending", "#pending = :pending"


def is_holder_attribute(name: str) -> bool:
    return name.startswith(HOLDER_PREFIX)


def execution_of(holder_id: str) -> str:
    """The execution ARN of a holder id: the part before '#' (the whole id when it is an execution ARN)."""
    return holder_id.split(HOLDER_SEPARATOR, 1)[0]


def is_iteration_holder(holder_id: str) -> bool:
    """Whether the holder id names a Map iteration (``<execution ARN>#<iteration id>``), not an execution.
    A registry key (``<execution ARN>#``, no iteration id) is not one."""
    _execution, separator, iteration = holder_id.partition(HOLDER_SEPARATOR)
    return bool(separator and iteration)


def is_valid_iteration_id(iteration_id: str) -> bool:
    """1 to 40 characters of letters, digits, '.', '_' and '-'."""
    return _ITERATION_ID.fullmatch(iteration_id) is not None


def iteration_holder(execution_arn: str, iteration_id: str) -> str:
    """The holder id of one iteration of ``execution_arn`` (the state machine builds the same string)."""
    return f"{execution_arn}{HOLDER_SEPARATOR}{iteration_id}"


def registry_key_name(execution_arn: str) -> str:
    """The key of the execution's registry item: its ARN and '#' (an iteration holder with no iteration id,
    so it never collides with a holder's per-holder item)."""
    return execution_arn + HOLDER_SEPARATOR


def holder_value(weight: int, acquired_at: str) -> AttributeValue:
    """A holder attribute's value: its weight and when it acquired (informational)."""
    return {"M": {HOLDER_WEIGHT: number(weight), HOLDER_ACQUIRED_AT: string(acquired_at)}}


@dataclass(frozen=True)
class Holder:
    weight: int
    acquired_at: str | None


@dataclass(frozen=True)
class LockItem:
    """A parsed lock item. A missing item reads as an empty lock (count 0, no holders)."""

    count: int = 0
    next_grant_at: int | None = None
    holders: Mapping[str, Holder] = field(default_factory=dict)
    pending_grant: str | None = None
    settled_grant: str | None = None

    @classmethod
    def from_dynamodb(cls, item: Item | None) -> LockItem:
        if not item:
            return cls()
        count = parse_int(item[LOCK_COUNT], LOCK_COUNT) if LOCK_COUNT in item else 0
        next_grant_at = parse_int(item[NEXT_GRANT_AT], NEXT_GRANT_AT) if NEXT_GRANT_AT in item else None
        holders = {name: _parse_holder(name, v) for name, v in item.items() if is_holder_attribute(name)}
        return cls(
            count=count,
            next_grant_at=next_grant_at,
            holders=holders,
            pending_grant=_optional_string(item.get(PENDING_GRANT)),
            settled_grant=_optional_string(item.get(SETTLED_GRANT)),
        )

    @property
    def holders_weight(self) -> int:
        return sum(holder.weight for holder in self.holders.values())


def _parse_holder(name: str, value: AttributeValue) -> Holder:
    fields = value.get("M") if isinstance(value, Mapping) else None
    if not isinstance(fields, Mapping) or HOLDER_WEIGHT not in fields:
        raise LockItemCorruptError(f"holder {name} must be a map with a {HOLDER_WEIGHT!r}, got {value!r}")
    acquired = fields.get(HOLDER_ACQUIRED_AT)
    acquired_at = acquired.get("S") if isinstance(acquired, Mapping) else None
    return Holder(
        weight=parse_int(fields[HOLDER_WEIGHT], f"{name}.{HOLDER_WEIGHT}"),
        acquired_at=acquired_at if isinstance(acquired_at, str) else None,
    )


def _optional_string(value: AttributeValue | None) -> str | None:
    text = value.get("S") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else None
