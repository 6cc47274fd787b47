"""Step Functions' side of Lambda tasks, once handlers really run (applied by ``localaws.patches.awslambda``).

- A ``.waitForTaskToken`` task with ``HeartbeatSeconds`` now sees a callback sent while the Lambda was still
  being invoked. moto sets up the heartbeat wait only after the invocation returns and then waits for the
  next heartbeat before looking at the outcome, so a handler that calls ``SendTaskSuccess`` on its own token
  before returning (a semaphore granting at once) was ignored until the heartbeat expired and the task
  failed with a timeout. On AWS the task succeeds at once.
- The interpreter's Lambda and DynamoDB clients are built once per region and reused (with their
  connection pools) instead of once per task: creating a boto3 client costs milliseconds and a new
  connection each time, which showed up in every ``lambda:invoke``, DynamoDB task and handoff. Building
  clients from several threads at once is also unsafe.

What the interpreter does with a failed invocation needs no change: for ``lambda:invoke`` (with or without
``.waitForTaskToken``) and for a plain function ARN it takes the error name from the payload's
``errorType`` and the cause from the payload, so Catch and Retry match the handler's exception class.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_dynamodb,
)

from localaws.patches import patch


@patch
def apply() -> None:
    _see_early_callbacks()
    _reuse_lambda_clients()


def _see_early_callbacks() -> None:
    task_class = state_task_service_callback.StateTaskServiceCallback
    original = task_class._wait_for_task_token_heartbeat

    def wait_for_task_token_heartbeat(
        self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        early = callback_endpoint.get_outcome()
        if early is not None:
            return early
        return original(self, env, callback_endpoint, heartbeat_endpoint)

    task_class._wait_for_task_token_heartbeat = wait_for_task_token_heartbeat  # type: ignore[method-assign]


def _reuse_lambda_clients() -> None:
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # Built as moto builds it, which ignores state_credentials (every client uses the same test keys),
        # so the region and service name identify the client; plus a pool for concurrent executions.
        key = (region, service)
        client = clients.get(key)
        if client is None:
            with lock:
                client = clients.get(key)
                if client is None:
                    client = clients[key] = _client(region, service)
        return client

    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    # The poll-mode semaphore's acquire, check and release are DynamoDB tasks: the same reuse applies.
    state_task_service_dynamodb.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def _client(region: str, service: str) -> Any:
    kwargs: dict[str, Any] = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id="ak",
        aws_secret_access_key="sk",
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=64,
        ),
        **kwargs,
    )
