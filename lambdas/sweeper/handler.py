"""Lambda entry point (``sweeper.handler.lambda_handler``), invoked on a schedule by EventBridge.

The event is ignored (a scheduled event carries nothing the sweep needs); the settings come from the
environment (``sweeper.config``). The result, also logged as one JSON line::

    {"scanned": int, "released": int, "releasedByLease": int, "kept": int, "alreadyReleased": int,
     "indexItemsDeleted": int, "waitersRemoved": int, "errors": int, "complete": bool, "problems": [str, ...]}

In queue mode (``QUEUE_RELEASE_FUNCTION`` set) each release is a synchronous invocation of the queue release
function with ``{"lockName": ..., "executionArn": <holder id>}``: the event a holder's own release sends it
(for a Map iteration's holder, its id ``<execution ARN>#<iteration id>``). ``indexItemsDeleted`` counts every
item keyed by a holder of an ended execution: index, per-execution and registry items.

With ``METRICS_NAMESPACE`` set, each run also prints its counts (``logic.metric_counts``) as one CloudWatch
Embedded Metric Format line (``semaphore_core.metrics``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from semaphore_core import metrics
from semaphore_core.clock import Clock, system_clock_ms
from semaphore_core.dynamo import get_client
from sweeper.config import SweeperConfig
from sweeper.executions import StepFunctionsClient
from sweeper.logic import (
    QueueRelease,
    QueueReleaseError,
    SweepCursor,
    SweeperDynamoDB,
    metric_counts,
    sweep,
)

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


@functools.lru_cache(maxsize=None)
def get_lambda_client() -> Any:
    return boto3.client("lambda", config=Config(retries={"mode": "standard", "max_attempts": 4}))


def queue_release_through(function: str) -> QueueRelease:
    """Queue mode's release: invoke ``function`` synchronously; its error, or a failed call, is a
    ``QueueReleaseError``."""

    def release(lock_name: str, execution_arn: str) -> Mapping[str, Any]:
        payload = json.dumps({"lockName": lock_name, "executionArn": execution_arn})
        try:
            response = get_lambda_client().invoke(FunctionName=function, Payload=payload.encode())
            body = json.loads(response["Payload"].read() or b"null")
        except (ClientError, BotoCoreError, ValueError) as error:
            raise QueueReleaseError(f"invoking {function}: {error}") from error
        if response.get("FunctionError") or not isinstance(body, Mapping):
            raise QueueReleaseError(f"{function} failed: {json.dumps(body)[:200]}")
        return body

    return release


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    config = SweeperConfig.from_environment()
    max_ms = int(config.max_seconds * 1000)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        max_ms = max(0, min(max_ms, int(remaining()) - SAFETY_MARGIN_MS))
    dynamodb: SweeperDynamoDB = get_client()  # type: ignore[assignment]
    queue_release = (
        queue_release_through(config.queue_release_function) if config.queue_release_function else None
    )
    result = sweep(dynamodb, get_sfn_client(), clock, config, cursor, max_ms, queue_release)
    metrics.emit(metric_counts(result), clock=clock)
    return result.to_response()
