"""Queue mode's release: give the slot back, hand it to the oldest waiters that fit, resume them.

Called by the release state (``lambda:invoke``, synchronous) with the execution's own ARN, and by the reaper
and the sweeper for an execution that has ended (``lockName`` null when the lock name came from the
execution input: it is read from the per-execution item). In one conditional read-modify-write it removes
the execution as a holder (giving back its recorded weight) and from the queue if it was waiting there, and
settles; then it deletes the per-execution item and resumes the granted executions. Releasing what is
already released changes nothing and succeeds.

The lock's limit and warm-up rate come from the function's configuration (``SEMAPHORE_LIMIT``,
``SEMAPHORE_TPS_LIMIT``), so the reaper and the sweeper need not know them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from semaphore_core.capacity import MAX_EXECUTION_ARN_LENGTH
from semaphore_core.errors import ConfigurationError, InvalidEventError
from semaphore_core.execution_item import delete_execution_item, read_execution_item
from semaphore_core.handoff import HANDOFF_METRICS, QueueContext, handoff_counts, nudge, pump, resume_granted
from semaphore_core.queue import release as release_and_settle
from semaphore_core.validation import require_exact_keys, require_object, require_str

logger = logging.getLogger(__name__)

EVENT_FIELDS = ("lockName", "executionArn")
MAX_LOCK_NAME_LENGTH = 1024


@dataclass(frozen=True)
class QueueReleaseRequest:
    #: None: read it from the execution's per-execution item.
    lock_name: str | None
    execution_arn: str

    @classmethod
    def from_event(cls, event: object) -> QueueReleaseRequest:
        fields = require_object(event)
        require_exact_keys(fields, EVENT_FIELDS)
        lock_name = None
        if fields.get("lockName") is not None:
            lock_name = require_str(fields, "lockName", max_length=MAX_LOCK_NAME_LENGTH)
            if lock_name.startswith("arn:"):
                raise InvalidEventError(
                    "lockName must not start with 'arn:' (those keys are per-execution items)"
                )
        return cls(
            lock_name=lock_name,
            execution_arn=require_str(
                fields, "executionArn", max_length=MAX_EXECUTION_ARN_LENGTH, prefix="arn:"
            ),
        )


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
class ReleaseResult:
    lock_name: str | None
    execution_arn: str
    #: The weight given back, or None when the execution held no slot.
    released_weight: int | None = None
    dequeued: bool = False
    version: int | None = None
    #: Read-modify-write rounds of the release (more than 1: it lost races to other writers first).
    attempts: int = 1
    granted: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    nudged: list[str] = field(default_factory=list)

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
        }


#: The function's metrics (``semaphore_core.metrics``), every one a count per invocation.
METRICS = ("Releases", *HANDOFF_METRICS)


def metric_counts(result: ReleaseResult | None, error: Exception | None = None) -> dict[str, int]:
    """The function's metrics for one invocation: what ``result`` says, or the ``error`` it raised.

    Releases: slots given back (0 when the execution held none: released already, or only queued). The rest,
    shared with the acquire: ``semaphore_core.handoff.handoff_counts``.
    """
    if result is None:
        return {"Releases": 0, **handoff_counts([], [], 0, error)}
    return {
        "Releases": int(result.released_weight is not None),
        **handoff_counts(result.resumed, result.dropped, result.attempts, error),
    }


def release(ctx: QueueContext, request: QueueReleaseRequest) -> ReleaseResult:
    """Release (idempotently), hand the slot on, keep a rate-limited queue moving; see the module doc."""
    arn = request.execution_arn
    lock_name = request.lock_name
    if lock_name is None:
        item = read_execution_item(ctx.dynamodb, ctx.config, arn)
        lock_name = item.lock_name if item is not None else None
        if lock_name is None:
            result = ReleaseResult(lock_name=None, execution_arn=arn)
            logger.info(json.dumps({"outcome": "nothing to release", **result.to_response()}))
            return result
    committed = ctx.transact(
        lock_name, lambda lock, now: release_and_settle(lock, arn, ctx.limit, ctx.tps_limit, now)
    )
    outcome = committed.outcome
    # Resume first: the next holder should not wait for this execution's clean-up.
    handoff = resume_granted(ctx, lock_name, outcome.granted, granted_at=outcome.decided_at)
    delete_execution_item(ctx.dynamodb, ctx.config, arn)
    lock = outcome.lock
    blocked = handoff.rate_blocked_until if handoff.dropped else outcome.rate_blocked_until
    nudged = []
    if blocked is not None:
        pumped = pump(ctx, lock_name, lock, blocked, lambda _lock: True, handoff)
        lock = pumped.lock
        if pumped.rate_blocked_until is not None and lock.queue:
            head = lock.queue[0]
            if nudge(ctx, head, max(0, pumped.rate_blocked_until - ctx.clock())):
                nudged.append(head.execution_arn)
    result = ReleaseResult(
        lock_name=lock_name,
        execution_arn=arn,
        released_weight=outcome.released_weight,
        dequeued=outcome.dequeued,
        version=committed.version,
        attempts=committed.attempts,
        granted=[w.execution_arn for w in outcome.granted],
        resumed=handoff.resumed,
        dropped=handoff.dropped,
        nudged=nudged,
    )
    logger.info(json.dumps({"outcome": "release", **result.to_response()}))
    return result
