"""Lambda entry point (``acquire_lock.handler.lambda_handler``): validate the event, acquire, return.

Event (from the state machine's acquire state)::

    {"lockName": str, "executionArn": "arn:...", "weight": int, "limit": int, "tpsLimit": number | null}

Result on success::

    {"granted": true, "alreadyHeld": bool, "lockName": str, "weight": int, "count": int,
     "grantedAt": epoch_ms, "nextGrantAt": epoch_ms}

``nextGrantAt`` (warm-up only, when this call settled its grant): the next grant time it set, one interval
after the grant's write returned; the next grant of the lock is sent no sooner.

Otherwise the function fails with an error name the state machine routes on: ``SemaphoreFullError``,
``WarmupTooSoonError``, ``LockThrottledError`` (wait, then try again) or ``InvalidEventError`` (fail fast).

With ``METRICS_NAMESPACE`` set, each call also prints its counts (``logic.metric_counts``) as one CloudWatch
Embedded Metric Format line (``semaphore_core.metrics``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from acquire_lock.logic import AcquireRequest, AcquireStats, acquire_waiting_for_warmup, metric_counts
from semaphore_core import metrics
from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.config import lock_table_config
from semaphore_core.dynamo import get_client
from semaphore_core.errors import LockThrottledError, SemaphoreFullError, WarmupTooSoonError

logging.getLogger("acquire_lock").setLevel(os.environ.get("LOG_LEVEL", "INFO"))

#: The Lambda's clock and sleep; tests replace them to control time.
clock: Clock = system_clock_ms
sleep: Callable[[float], None] = time.sleep

#: Longest the function sleeps, in total, for a warm-up grant that is due soon (instead of failing with
#: WarmupTooSoonError and sending the execution into a retry at least one second later).
MAX_WARMUP_WAIT_MS = 2000
#: Time kept in hand before the function's own timeout.
SAFETY_MARGIN_MS = 1000


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    request = AcquireRequest.from_event(event)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget_ms = MAX_WARMUP_WAIT_MS
    if callable(remaining):
        budget_ms = max(0, min(budget_ms, int(remaining()) - SAFETY_MARGIN_MS))
    config = lock_table_config()
    stats = AcquireStats()
    properties = {"lockName": request.lock_name}
    try:
        grant = acquire_waiting_for_warmup(get_client(), clock, sleep, config, request, budget_ms, stats)
    except (SemaphoreFullError, WarmupTooSoonError, LockThrottledError) as error:
        metrics.emit(metric_counts(None, stats, error), properties, clock=clock)
        raise
    metrics.emit(metric_counts(grant, stats), properties, clock=clock)
    return grant.to_response()
