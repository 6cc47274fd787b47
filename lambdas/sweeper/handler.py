"""Lambda entry point (``sweeper.handler.lambda_handler``), invoked on a schedule by EventBridge.

The event is ignored (a scheduled event carries nothing the sweep needs); the settings come from the
environment (``sweeper.config``). The result, also logged as one JSON line::

    {"scanned": int, "released": int, "releasedByLease": int, "kept": int, "alreadyReleased": int,
     "indexItemsDeleted": int, "errors": int, "complete": bool, "problems": [str, ...]}
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import boto3
from botocore.config import Config

from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.dynamo import get_client
from sweeper.config import SweeperConfig
from sweeper.executions import StepFunctionsClient
from sweeper.logic import SweepCursor, SweeperDynamoDB, sweep

logging.getLogger("sweeper").setLevel(os.environ.get("LOG_LEVEL", "INFO"))

#: Time kept back from the invocation's remaining time, so a run ends (and logs) before Lambda stops it.
SAFETY_MARGIN_MS = 5_000

#: The Lambda's clock; tests replace it to control time.
clock: Clock = system_clock_ms

#: Where the next run on this execution environment continues.
cursor = SweepCursor()


@functools.lru_cache(maxsize=None)
def get_sfn_client() -> StepFunctionsClient:
    client: StepFunctionsClient = boto3.client(
        "stepfunctions", config=Config(retries={"mode": "standard", "max_attempts": 4})
    )
    return client


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    config = SweeperConfig.from_environment()
    max_ms = int(config.max_seconds * 1000)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        max_ms = max(0, min(max_ms, int(remaining()) - SAFETY_MARGIN_MS))
    dynamodb: SweeperDynamoDB = get_client()  # type: ignore[assignment]
    return sweep(dynamodb, get_sfn_client(), clock, config, cursor, max_ms).to_response()
