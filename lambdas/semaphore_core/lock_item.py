"""The lock item of docs/lock-item.md as code: attribute names, holder detection and a parsed view.

One item per lock: the partition key holds the lock's name, ``lockCount`` the sum of the holders' weights,
one map attribute per holder named by its execution ARN, and ``nextGrantAt`` for the warm-up limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from semaphore_core.dynamo import AttributeValue, Item, number, parse_int, string
from semaphore_core.errors import LockItemCorruptError

DEFAULT_LOCK_ID_ATTRIBUTE = "LockName"
LOCK_COUNT = "lockCount"
NEXT_GRANT_AT = "nextGrantAt"
#: Bumped by every write to a lock item, so read-modify-write writers (queue mode) can condition on it.
VERSION = "version"
#: Every holder attribute is an execution ARN, and nothing else in the item starts with this.
HOLDER_PREFIX = "arn:"
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


def is_holder_attribute(name: str) -> bool:
    return name.startswith(HOLDER_PREFIX)


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

    @classmethod
    def from_dynamodb(cls, item: Item | None) -> LockItem:
        if not item:
            return cls()
        count = parse_int(item[LOCK_COUNT], LOCK_COUNT) if LOCK_COUNT in item else 0
        next_grant_at = parse_int(item[NEXT_GRANT_AT], NEXT_GRANT_AT) if NEXT_GRANT_AT in item else None
        holders = {name: _parse_holder(name, v) for name, v in item.items() if is_holder_attribute(name)}
        return cls(count=count, next_grant_at=next_grant_at, holders=holders)

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
