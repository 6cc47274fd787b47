"""Lambda entry point (``queue_acquire.handler.lambda_handler``): validate, queue up, resume the granted.

Event (the acquire state's Payload, ``lambda:invoke.waitForTaskToken``)::

    {"lockName": str, "executionArn": "arn:..." | "arn:...#<iteration id>", "weight": int, "limit": int,
     "tpsLimit": number | null, "maxQueueLength": int, "taskToken": str, "arrivedAt"?: ISO 8601}

``executionArn`` is the holder id: the execution ARN, or, for a Map iteration holding a slot of its own, the
execution ARN, '#' and an iteration id (1 to 40 of ``[A-Za-z0-9._-]``, e.g. ``3.1837462``); 256 characters
at most. An iteration holder is listed in its execution's registry before it queues.

The task's result is what ``SendTaskSuccess`` sends when the execution is granted::

    {"granted": true, "alreadyHeld": bool, "lockName": str, "weight": int, "grantedAt": epoch_ms}

Errors the state machine routes on: ``SemaphoreQueueFullError`` (fail: the queue is at max_queue_length),
``WarmupTooSoonError`` (retry after the grant interval, keeping the place), ``LockContentionError`` and
``LockThrottledError`` (retry), ``InvalidEventError`` (fail fast, nothing written).

With ``METRICS_NAMESPACE`` set, each call also prints its counts (``logic.metric_counts``) as one CloudWatch
Embedded Metric Format line (``semaphore_core.metrics``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from queue_acquire.logic import QueueAcquireRequest, acquire, metric_counts
from semaphore_core import metrics
from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.errors import LockContentionError, SemaphoreQueueFullError, WarmupTooSoonError
from semaphore_core.handoff import QueueContext

for _name in ("queue_acquire", "semaphore_core"):
    logging.getLogger(_name).setLevel(os.environ.get("LOG_LEVEL", "INFO"))

#: The function's clock and sleep; tests replace them to control time.
clock: Clock = system_clock_ms
sleep: Callable[[float], None] = time.sleep


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    request = QueueAcquireRequest.from_event(event)
    ctx = QueueContext.for_invocation(request.limit, request.tps_limit, clock, sleep, context)
    properties = {"lockName": request.lock_name}
    try:
        result = acquire(ctx, request)
    except (SemaphoreQueueFullError, LockContentionError, WarmupTooSoonError) as error:
        metrics.emit(metric_counts(None, error), properties, clock=clock)
        raise
    metrics.emit(metric_counts(result), properties, clock=clock)
    return result.to_response()
