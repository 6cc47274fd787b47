"""Queue mode's release: give the slot back, hand it to the oldest waiters that fit, resume them.

Called by the release state (``lambda:invoke``, synchronous) with the holder's id (an execution ARN, or a Map
iteration's ``<execution ARN>#<iteration id>``: ``semaphore_core.lock_item``), and by the reaper, the
status-change rule and the sweeper for an execution that has ended (``lockName`` null when the lock name
came from the execution input: it is read from the holder's per-execution item). In one conditional
read-modify-write it removes the holder (giving back its recorded weight) and takes it off the queue if it
was waiting there, and settles; then it resumes the granted executions and deletes the per-execution item.
An iteration holder then leaves its execution's registry. Releasing what is already released changes
nothing and succeeds.

With ``ended`` (the status-change rule, for an execution that ended FAILED, ABORTED or TIMED_OUT) the
execution's iteration holders are released too: every holder its registry lists, each from the event's lock
or the one its per-execution item names, all of one lock in one write (so no freed slot is granted to a
waiter of the same ended execution), and the registry is deleted last, so a call that failed half way
finds them all again when retried. Without ``ended`` the registry is never read: the release of an
execution-level holder happens while the execution still runs its iterations.

The lock's limit and warm-up rate come from the function's configuration (``SEMAPHORE_LIMIT``,
``SEMAPHORE_TPS_LIMIT``), so the reaper and the sweeper need not know them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from semaphore_core.capacity import MAX_EXECUTION_ARN_LENGTH
from semaphore_core.errors import ConfigurationError, InvalidEventError
from semaphore_core.execution_item import (
    delete_execution_item,
    delete_registry,
    read_execution_item,
    read_registry,
    unregister_holder,
)
from semaphore_core.handoff import (
    HANDOFF_METRICS,
    Handoff,
    QueueContext,
    handoff_counts,
    nudge,
    pump,
    resume_granted,
)
from semaphore_core.lock_item import is_iteration_holder
from semaphore_core.queue import release_all
from semaphore_core.queue_store import Committed
from semaphore_core.validation import (
    optional_bool,
    require_exact_keys,
    require_holder_id,
    require_object,
    require_str,
)

logger = logging.getLogger(__name__)

EVENT_FIELDS = ("lockName", "executionArn")
#: Optional (false when absent): the execution has ended, release its iteration holders too.
ENDED = "ended"
MAX_LOCK_NAME_LENGTH = 1024


@dataclass(frozen=True)
class QueueReleaseRequest:
    #: None: read it from the holder's per-execution item.
    lock_name: str | None
    #: The holder id: an execution ARN, or an iteration holder's ``<execution ARN>#<iteration id>``.
    execution_arn: str
    #: The execution has ended: release every iteration holder in its registry too (execution ARNs only).
    ended: bool = False

    @classmethod
    def from_event(cls, event: object) -> QueueReleaseRequest:
        fields = require_object(event)
        require_exact_keys(fields, EVENT_FIELDS, optional=(ENDED,))
        lock_name = None
        if fields.get("lockName") is not None:
            lock_name = require_str(fields, "lockName", max_length=MAX_LOCK_NAME_LENGTH)
            if lock_name.startswith("arn:"):
                raise InvalidEventError(
                    "lockName must not start with 'arn:' (those keys are per-execution items)"
                )
        holder_id = require_holder_id(fields, "executionArn", max_length=MAX_EXECUTION_ARN_LENGTH)
        ended = optional_bool(fields, ENDED)
        if ended and is_iteration_holder(holder_id):
            raise InvalidEventError(
                "ended is for an execution ARN (its iteration holders are found in its registry),"
                f" not for the iteration holder {holder_id}"
            )
        return cls(lock_name=lock_name, execution_arn=holder_id, ended=ended)


@dataclass(frozen=True)
class ReleaseSettings:
    limit: int
    tps_limit: float | None


def release_settings(environ: Mapping[str, str] | None = None) -> ReleaseSettings:
    """``SEMAPHORE_LIMIT`` (required, whole number >= 1) and ``SEMAPHORE_TPS_LIMIT`` (empty: no rate)."""
    env = os.environ if environ is None else environ
    limit_text = env.get("SEMAPHORE_LIMIT", "")
    tps_text = env.get("SEMAPHORE_TPS_LIMIT", "")
    try:
        limit = int(limit_text)
        tps = float(tps_text) if tps_text else None
    except ValueError:
        raise ConfigurationError(
            f"SEMAPHORE_LIMIT {limit_text!r} must be a whole number and"
            f" SEMAPHORE_TPS_LIMIT {tps_text!r} a number or empty"
        ) from None
    if limit < 1 or (tps is not None and not tps > 0):
        raise ConfigurationError(
            f"SEMAPHORE_LIMIT {limit} must be at least 1 and SEMAPHORE_TPS_LIMIT above 0"
        )
    return ReleaseSettings(limit=limit, tps_limit=tps)


@dataclass
class HolderRelease:
    """What the release did for one of an ended execution's iteration holders."""

    holder_id: str
    #: None: no lock to release it from (the event named none, and its per-execution item was gone).
    lock_name: str | None
    released_weight: int | None = None
    dequeued: bool = False

    def to_response(self) -> dict[str, Any]:
        return {
            "executionArn": self.holder_id,
            "lockName": self.lock_name,
            "released": self.released_weight is not None,
            "releasedWeight": self.released_weight,
            "dequeued": self.dequeued,
        }


@dataclass
class ReleaseResult:
    """The release of the event's holder (the top-level fields) and, with ``ended``, of its execution's
    iteration holders (``holders``). ``granted`` to ``nudged`` cover every lock the call wrote."""

    lock_name: str | None
    execution_arn: str
    #: The weight given back, or None when the holder held no slot.
    released_weight: int | None = None
    dequeued: bool = False
    #: The version the write to the holder's lock left (None: no lock, or never versioned).
    version: int | None = None
    #: Read-modify-write rounds of the holder's release (more than 1: it lost races to other writers first).
    attempts: int = 1
    granted: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    nudged: list[str] = field(default_factory=list)
    ended: bool = False
    holders: list[HolderRelease] = field(default_factory=list)
    #: Lock writes lost to other writers and retried, over every lock of the call (a metric; not returned).
    write_retries: int = 0

    @property
    def releases(self) -> int:
        """Slots given back: the holder's and its iteration holders'."""
        return sum(
            int(weight is not None)
            for weight in [self.released_weight, *(h.released_weight for h in self.holders)]
        )

    @property
    def first_lock_name(self) -> str | None:
        """The holder's lock, or else the first of its iteration holders' (the metrics line names it)."""
        names = [self.lock_name, *(holder.lock_name for holder in self.holders)]
        return next((name for name in names if name is not None), None)

    def to_response(self) -> dict[str, Any]:
        return {
            "lockName": self.lock_name,
            "executionArn": self.execution_arn,
            "released": self.released_weight is not None,
            "releasedWeight": self.released_weight,
            "dequeued": self.dequeued,
            "version": self.version,
            "attempts": self.attempts,
            "granted": self.granted,
            "resumed": self.resumed,
            "dropped": self.dropped,
            "nudged": self.nudged,
            "ended": self.ended,
            "holders": [holder.to_response() for holder in self.holders],
        }


#: The function's metrics (``semaphore_core.metrics``), every one a count per invocation.
METRICS = ("Releases", *HANDOFF_METRICS)


def metric_counts(result: ReleaseResult | None, error: Exception | None = None) -> dict[str, int]:
    """The function's metrics for one invocation: what ``result`` says, or the ``error`` it raised.

    Releases: slots given back, the holder's and (``ended``) its execution's iteration holders' (0 when none
    held one: released already, or only queued). The rest, shared with the acquire:
    ``semaphore_core.handoff.handoff_counts``.
    """
    if result is None:
        return {"Releases": 0, **handoff_counts([], [], 0, error)}
    return {
        "Releases": result.releases,
        **handoff_counts(result.resumed, result.dropped, result.write_retries + 1, error),
    }


@dataclass
class _LockRelease:
    """One lock's write: the holders released from it, and the handoff that followed."""

    committed: Committed
    handoff: Handoff
    nudged: list[str]


def release(ctx: QueueContext, request: QueueReleaseRequest) -> ReleaseResult:
    """Release (idempotently), hand the slot on, keep a rate-limited queue moving; see the module doc."""
    arn = request.execution_arn
    iterations = read_registry(ctx.dynamodb, ctx.config, arn) if request.ended else []
    lock_names = {holder: _lock_name_of(ctx, request.lock_name, holder) for holder in [arn, *iterations]}
    # One write per lock, the holder's own lock first (dicts keep their order).
    by_lock: dict[str, list[str]] = {}
    for holder, lock_name in lock_names.items():
        if lock_name is not None:
            by_lock.setdefault(lock_name, []).append(holder)
    done = {lock_name: _release_from(ctx, lock_name, holders) for lock_name, holders in by_lock.items()}
    if is_iteration_holder(arn):
        # After its per-execution item is gone: listed, it is found again by its ended execution's release.
        unregister_holder(ctx.dynamodb, ctx.config, arn)
    if request.ended:
        # Last: until every holder it lists is released, a retried call must find them all again.
        delete_registry(ctx.dynamodb, ctx.config, arn)

    def released_weight(holder: str) -> int | None:
        lock_name = lock_names[holder]
        return None if lock_name is None else done[lock_name].committed.outcome.released_weights.get(holder)

    def dequeued(holder: str) -> bool:
        lock_name = lock_names[holder]
        return lock_name is not None and holder in done[lock_name].committed.outcome.dequeued_ids

    own_lock = lock_names[arn]
    own = done[own_lock] if own_lock is not None else None
    result = ReleaseResult(
        lock_name=lock_names[arn],
        execution_arn=arn,
        released_weight=released_weight(arn),
        dequeued=dequeued(arn),
        version=own.committed.version if own is not None else None,
        attempts=own.committed.attempts if own is not None else 1,
        granted=[w.execution_arn for part in done.values() for w in part.committed.outcome.granted],
        resumed=[holder for part in done.values() for holder in part.handoff.resumed],
        dropped=[holder for part in done.values() for holder in part.handoff.dropped],
        nudged=[holder for part in done.values() for holder in part.nudged],
        ended=request.ended,
        holders=[
            HolderRelease(
                holder_id=holder,
                lock_name=lock_names[holder],
                released_weight=released_weight(holder),
                dequeued=dequeued(holder),
            )
            for holder in iterations
        ],
        write_retries=sum(part.committed.attempts - 1 for part in done.values()),
    )
    outcome = "release" if done else "nothing to release"
    logger.info(json.dumps({"outcome": outcome, **result.to_response()}))
    return result


def _lock_name_of(ctx: QueueContext, event_lock_name: str | None, holder_id: str) -> str | None:
    """The event's lock name, or the one the holder's per-execution item names (None: no item: released
    already, or it never acquired)."""
    if event_lock_name is not None:
        return event_lock_name
    item = read_execution_item(ctx.dynamodb, ctx.config, holder_id)
    return item.lock_name if item is not None else None


def _release_from(ctx: QueueContext, lock_name: str, holder_ids: Sequence[str]) -> _LockRelease:
    """Release ``holder_ids`` from one lock in one write, resume whoever that grants, delete the holders'
    per-execution items, and keep a rate-limited queue moving."""
    committed = ctx.transact(
        lock_name, lambda lock, now: release_all(lock, holder_ids, ctx.limit, ctx.tps_limit, now)
    )
    outcome = committed.outcome
    # Resume first: the next holder should not wait for the released holders' clean-up.
    handoff = resume_granted(ctx, lock_name, outcome.granted, granted_at=outcome.decided_at)
    for holder in holder_ids:
        delete_execution_item(ctx.dynamodb, ctx.config, holder)
    blocked = handoff.rate_blocked_until if handoff.dropped else outcome.rate_blocked_until
    nudged = []
    if blocked is not None:
        pumped = pump(ctx, lock_name, outcome.lock, blocked, lambda _lock: True, handoff)
        if pumped.rate_blocked_until is not None and pumped.lock.queue:
            head = pumped.lock.queue[0]
            if nudge(ctx, head, max(0, pumped.rate_blocked_until - ctx.clock())):
                nudged.append(head.execution_arn)
    return _LockRelease(committed=committed, handoff=handoff, nudged=nudged)
