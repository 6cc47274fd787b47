"""Lambda entry point (``acquire_lock.handler.lambda_handler``): validate the event, acquire, return.

Event (from the state machine's acquire state)::

    {"lockName": str, "executionArn": "arn:...", "weight": int, "limit": int, "tpsLimit": number | null}

Result on success::

    {"granted": true, "alreadyHeld": bool, "lockName": str, "weight": int, "count": int,
     "grantedAt": epoch_ms}

Otherwise the function fails with an error name the state machine routes on: ``SemaphoreFullError``,
``WarmupTooSoonError``, ``LockThrottledError`` (wait, then try again) or ``InvalidEventError`` (fail fast).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from acquire_lock.logic import AcquireRequest, acquire
from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.config import lock_table_config
from semaphore_core.dynamo import get_client

logging.getLogger("acquire_lock").setLevel(os.environ.get("LOG_LEVEL", "INFO"))

#: The Lambda's clock; tests replace it to control time.
clock: Clock = system_clock_ms


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    request = AcquireRequest.from_event(event)
    grant = acquire(get_client(), clock, lock_table_config(), request)
    return grant.to_response()
