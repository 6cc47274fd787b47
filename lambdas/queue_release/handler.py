"""Lambda entry point (``queue_release.handler.lambda_handler``): validate, release, hand the slot on.

Event (the release state's Payload, ``lambda:invoke``; or the reaper's, the status-change rule's and the
sweeper's, for an execution that has ended)::

    {"lockName": str | null, "executionArn": "arn:..." | "arn:...#<iteration id>", "ended"?: bool}

``executionArn`` is a holder id: an execution ARN, or a Map iteration's (the execution ARN, '#', an iteration
id of 1 to 40 ``[A-Za-z0-9._-]``); its own release also takes an iteration holder off its execution's
registry. ``ended`` (default false; only with an execution ARN) says the execution has ended: every
iteration holder its registry lists is released too, and the registry deleted. Without it the registry is
left alone: the execution still runs its iterations.

Result::

    {"lockName": str | null, "executionArn": str, "released": bool, "releasedWeight": int | null,
     "dequeued": bool, "version": int | null, "attempts": int, "granted": [id], "resumed": [id],
     "dropped": [id], "nudged": [id], "ended": bool,
     "holders": [{"executionArn": id, "lockName": str | null, "released": bool, "releasedWeight": int | null,
                  "dequeued": bool}, ...]}

The top-level ``lockName`` to ``attempts`` are the event's holder's (``version`` and ``attempts`` those of the
write to its lock); ``holders`` (empty without ``ended``) has one entry per iteration holder of the ended
execution, ``lockName`` null when no lock was known for it (released already). ``granted`` to ``nudged``
cover every lock the call wrote.

Errors: ``LockContentionError`` and ``LockThrottledError`` (retry: releasing again is safe),
``InvalidEventError`` (fail fast), ``ConfigurationError`` (the function's settings are wrong).

With ``METRICS_NAMESPACE`` set, each call also prints its counts (``logic.metric_counts``) as one CloudWatch
Embedded Metric Format line (``semaphore_core.metrics``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from queue_release.logic import QueueReleaseRequest, metric_counts, release, release_settings
from semaphore_core import metrics
from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.errors import LockContentionError
from semaphore_core.handoff import QueueContext

for _name in ("queue_release", "semaphore_core"):
    logging.getLogger(_name).setLevel(os.environ.get("LOG_LEVEL", "INFO"))

#: The function's clock and sleep; tests replace them to control time.
clock: Clock = system_clock_ms
sleep: Callable[[float], None] = time.sleep


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    request = QueueReleaseRequest.from_event(event)
    settings = release_settings()
    ctx = QueueContext.for_invocation(settings.limit, settings.tps_limit, clock, sleep, context)
    try:
        result = release(ctx, request)
    except LockContentionError as error:
        metrics.emit(metric_counts(None, error), {"lockName": request.lock_name}, clock=clock)
        raise
    metrics.emit(metric_counts(result), {"lockName": result.first_lock_name}, clock=clock)
    return result.to_response()
