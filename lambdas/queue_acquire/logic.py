"""Queue mode's acquire, invoked by the acquire state as ``lambda:invoke.waitForTaskToken``.

The holder is an execution, or a Map iteration holding a slot of its own (an iteration holder
``<execution ARN>#<iteration id>``, ``semaphore_core.lock_item``); either way everything below is keyed by
its holder id, so each waiting iteration has its own place in the queue and its own task token.

0. An iteration holder first lists itself in its execution's registry (``execution_item.register_holder``),
   so that, should the execution end without releasing, its release finds this holder's slot or place.
1. Write the per-execution item (lock name, this attempt's task token), replacing an earlier attempt's.
2. In one conditional read-modify-write of the lock item: join the queue at the tail (unless already queued
   or holding), then settle (grant heads in FIFO order while they fit and the rate allows).
3. Resume whoever was granted: this execution with its own token, others with theirs (``handoff``). An
   execution found holding already (its resume was lost) resumes itself.
4. Under a warm-up rate, while this execution is among the waiters the limit would admit and only the rate
   holds them back, sleep until the next grant time and settle again (briefly; see ``handoff.pump``). If the
   rate still holds it back, fail with ``WarmupTooSoonError``: the task retries after the grant interval,
   keeping its place.

The function returns quickly otherwise; the waiting task sleeps, unbilled, until a release resumes it or
its timeout makes it re-check (a retried acquire finds it queued, or holding).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from semaphore_core.capacity import MAX_EXECUTION_ARN_LENGTH
from semaphore_core.clock import parse_iso8601_ms
from semaphore_core.errors import InvalidEventError, SemaphoreQueueFullError, WarmupTooSoonError
from semaphore_core.execution_item import (
    delete_execution_item,
    put_execution_item,
    register_holder,
    unregister_holder,
)
from semaphore_core.handoff import HANDOFF_METRICS, QueueContext, handoff_counts, pump, resume_granted
from semaphore_core.lock_item import Holder, grant_interval_ms, is_iteration_holder
from semaphore_core.queue import Outcome, QueueLock, Waiter, settle, settle_only
from semaphore_core.queue import acquire as enqueue_and_settle
from semaphore_core.queue_fast import fast_acquire
from semaphore_core.validation import (
    optional_positive_number,
    optional_timestamp_ms,
    require_exact_keys,
    require_holder_id,
    require_int,
    require_object,
    require_str,
)

logger = logging.getLogger(__name__)

EVENT_FIELDS = ("lockName", "executionArn", "weight", "limit", "tpsLimit", "maxQueueLength", "taskToken")
#: When the execution entered the acquire state ($$.State.EnteredTime): its place in the queue. Optional, so
#: an execution of a state machine deployed before it existed is still served (it arrives "now").
ARRIVED_AT = "arrivedAt"
MAX_LOCK_NAME_LENGTH = 1024
#: Step Functions task tokens are at most 2048 characters (SendTaskSuccess's taskToken).
MAX_TASK_TOKEN_LENGTH = 2048


@dataclass(frozen=True)
class QueueAcquireRequest:
    lock_name: str
    #: The holder id: an execution ARN, or an iteration holder's ``<execution ARN>#<iteration id>``.
    execution_arn: str
    weight: int
    limit: int
    tps_limit: float | None
    max_queue_length: int
    task_token: str
    #: Epoch ms; None: when the function runs.
    arrived_at: int | None = None

    @classmethod
    def from_event(cls, event: object) -> QueueAcquireRequest:
        """Validates the state machine's event; raises ``InvalidEventError`` saying what is wrong."""
        fields = require_object(event)
        require_exact_keys(fields, EVENT_FIELDS, optional=(ARRIVED_AT,))
        request = cls(
            lock_name=require_str(fields, "lockName", max_length=MAX_LOCK_NAME_LENGTH),
            execution_arn=require_holder_id(fields, "executionArn", max_length=MAX_EXECUTION_ARN_LENGTH),
            weight=require_int(fields, "weight", minimum=1),
            limit=require_int(fields, "limit", minimum=1),
            tps_limit=optional_positive_number(fields, "tpsLimit"),
            max_queue_length=require_int(fields, "maxQueueLength", minimum=1),
            task_token=require_str(fields, "taskToken", max_length=MAX_TASK_TOKEN_LENGTH),
            arrived_at=optional_timestamp_ms(fields, ARRIVED_AT),
        )
        if request.weight > request.limit:
            raise InvalidEventError(
                f"weight ({request.weight}) must be at most limit ({request.limit}):"
                " it could never be granted"
            )
        if request.lock_name.startswith("arn:"):
            raise InvalidEventError(
                "lockName must not start with 'arn:' (those keys are per-execution items)"
            )
        return request


@dataclass
class AcquireResult:
    lock_name: str
    execution_arn: str
    #: "holding" or "queued", as this call left it.
    status: str
    already_held: bool
    #: 0-based place in the queue when queued.
    position: int | None
    version: int | None
    #: Whether a single write (no read) queued or granted it.
    fast: bool = False
    #: Whether the execution had called before (its waiting task timed out and re-checked): its
    #: per-execution item was there, or it was found holding.
    rechecked: bool = False
    #: Read-modify-write rounds after the single write, if any (more than 1: it lost races first).
    attempts: int = 0
    granted: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def to_response(self) -> dict[str, Any]:
        """The function's result. Step Functions ignores it (the task waits for its token); logs keep it."""
        return {
            "lockName": self.lock_name,
            "executionArn": self.execution_arn,
            "status": self.status,
            "alreadyHeld": self.already_held,
            "position": self.position,
            "version": self.version,
            "fast": self.fast,
            "rechecked": self.rechecked,
            "attempts": self.attempts,
            "granted": self.granted,
            "resumed": self.resumed,
            "dropped": self.dropped,
        }


def acquire(ctx: QueueContext, request: QueueAcquireRequest) -> AcquireResult:
    """Queue up (or find the existing place or grant), resume the granted; see the module doc."""
    arn = request.execution_arn
    ctx.tokens.known[arn] = request.task_token
    if is_iteration_holder(arn):
        # Before anything that gives it a slot or a place: the release of its ended execution finds only
        # what the registry lists.
        register_holder(ctx.dynamodb, ctx.config, arn)
    earlier = put_execution_item(ctx.dynamodb, ctx.config, arn, request.lock_name, request.task_token)
    committed = None
    outcome = _first_attempt(ctx, request) if earlier is None else None
    fast = outcome is not None
    if outcome is not None and _could_grant_now(outcome.lock, request, ctx.clock()):
        # Appended, but the item shows a head that could go now (a slot freed by a pure decrement, or a
        # release that raced with the append): settle it here rather than leave the slot idle.
        committed = ctx.transact(
            request.lock_name, lambda lock, now: settle_only(lock, request.limit, request.tps_limit, now)
        )
        outcome = replace(committed.outcome, granted=outcome.granted + committed.outcome.granted)
    if outcome is None:
        try:
            committed = ctx.transact(
                request.lock_name,
                lambda lock, now: enqueue_and_settle(
                    lock,
                    arn,
                    request.weight,
                    request.limit,
                    request.tps_limit,
                    now,
                    request.max_queue_length,
                    arrived_at=request.arrived_at,
                ),
            )
        except SemaphoreQueueFullError:
            delete_execution_item(ctx.dynamodb, ctx.config, arn)
            if is_iteration_holder(arn):
                unregister_holder(ctx.dynamodb, ctx.config, arn)
            raise
        outcome = committed.outcome
    held = outcome.before.holders.get(arn)
    to_resume = list(outcome.granted)
    if held is not None:
        to_resume.insert(0, Waiter(arn, held.weight, ctx.clock()))
    handoff = resume_granted(
        ctx,
        request.lock_name,
        to_resume,
        already_held={arn: _granted_at(held, ctx.clock())} if held is not None else None,
        granted_at=outcome.decided_at,
    )
    lock = outcome.lock
    blocked = handoff.rate_blocked_until if handoff.dropped else outcome.rate_blocked_until

    def still_admissible(current: QueueLock) -> bool:
        return any(w.execution_arn == arn for w in current.fitting_prefix(request.limit))

    def my_turn_offset_ms(current: QueueLock) -> int:
        # The rate grants the waiters ahead first, one interval each: sleep until this one's own turn.
        ahead = [w.execution_arn for w in current.fitting_prefix(request.limit)].index(arn)
        return ahead * (grant_interval_ms(request.tps_limit) or 0)

    if blocked is not None and still_admissible(lock):
        pumped = pump(
            ctx,
            request.lock_name,
            lock,
            blocked,
            still_admissible,
            handoff,
            turn_offset_ms=my_turn_offset_ms,
        )
        lock = pumped.lock
        if pumped.rate_blocked_until is not None and still_admissible(lock):
            wait_ms = max(0, pumped.rate_blocked_until - ctx.clock())
            raise WarmupTooSoonError(
                f"lock {request.lock_name!r}: the warm-up rate allows the next grant in {wait_ms} ms;"
                " this execution keeps its place and re-checks",
                wait_ms=wait_ms,
            )
    result = AcquireResult(
        lock_name=request.lock_name,
        execution_arn=arn,
        status="holding" if arn in lock.holders else "queued",
        already_held=held is not None,
        position=lock.position(arn),
        version=committed.version if committed is not None else None,
        fast=fast,
        rechecked=earlier is not None or held is not None,
        attempts=committed.attempts if committed is not None else 0,
        granted=[w.execution_arn for w in outcome.granted],
        resumed=handoff.resumed,
        dropped=handoff.dropped,
    )
    logger.info(json.dumps({"outcome": "acquire", **result.to_response()}))
    return result


#: The function's metrics (``semaphore_core.metrics``), every one a count per invocation.
METRICS = (
    "GrantedAtOnce",
    "Queued",
    "ReChecks",
    "ResumesRecovered",
    *HANDOFF_METRICS,
    "WarmupWaits",
    "QueueFull",
)


def metric_counts(result: AcquireResult | None, error: Exception | None = None) -> dict[str, int]:
    """The function's metrics for one invocation: what ``result`` says, or the ``error`` it raised.

    An execution's first call counts once in GrantedAtOnce (nobody queued ahead, it fit) or Queued (left
    waiting), or, under a warm-up rate, WarmupWaits (the call ended with WarmupTooSoonError: the execution
    keeps its place and calls again after the grant interval). ReChecks: the later calls (the waiting task
    timed out, or the rate sent it back). ResumesRecovered: a re-check found the execution already holding:
    its resume had been lost. QueueFull: the call failed with SemaphoreQueueFullError. The rest, shared with
    the release: ``semaphore_core.handoff.handoff_counts`` (Resumes include this execution's own).
    """
    counts = dict.fromkeys(METRICS, 0)
    if result is not None:
        counts["GrantedAtOnce"] = int(result.status == "holding" and not result.rechecked)
        counts["Queued"] = int(result.status == "queued" and not result.rechecked)
        counts["ReChecks"] = int(result.rechecked)
        counts["ResumesRecovered"] = int(result.already_held)
        counts.update(handoff_counts(result.resumed, result.dropped, result.attempts, error))
    else:
        counts.update(handoff_counts([], [], 0, error))
    counts["WarmupWaits"] = int(isinstance(error, WarmupTooSoonError))
    counts["QueueFull"] = int(isinstance(error, SemaphoreQueueFullError))
    return counts


def _first_attempt(ctx: QueueContext, request: QueueAcquireRequest) -> Outcome | None:
    """The single-write paths (``queue_fast``) as an outcome: granted at once (the lock then holds this
    execution), or appended (the lock as the append left it); None when neither applied."""
    now = ctx.clock()
    me = Waiter(
        request.execution_arn, request.weight, now if request.arrived_at is None else request.arrived_at
    )
    fast = fast_acquire(
        ctx.dynamodb,
        ctx.config,
        request.lock_name,
        me,
        request.limit,
        request.tps_limit,
        request.max_queue_length,
        now,
    )
    if fast is None:
        return None
    lock = fast.lock or QueueLock()
    if fast.granted:
        return Outcome(before=QueueLock(), lock=lock, granted=(me,), decided_at=now)
    blocked = settle(lock, request.limit, request.tps_limit, ctx.clock()).rate_blocked_until
    return Outcome(before=lock, lock=lock, rate_blocked_until=blocked)


def _could_grant_now(lock: QueueLock, request: QueueAcquireRequest, now_ms: int) -> bool:
    return bool(settle(lock, request.limit, request.tps_limit, now_ms).granted)


def _granted_at(holder: Holder, default_ms: int) -> int:
    """When a holder was granted its slot (its entry's acquiredAt), for the resume of one found holding."""
    parsed = parse_iso8601_ms(holder.acquired_at) if holder.acquired_at else None
    return parsed if parsed is not None else default_ms
