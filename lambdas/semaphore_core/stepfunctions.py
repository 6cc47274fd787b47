"""The Step Functions client of the queue functions (resume, nudge and look up executions), and how its
errors are read."""

from __future__ import annotations

import functools
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

#: A token that can no longer resume anything: its task timed out, was stopped, or already got its answer.
DEAD_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
EXECUTION_DOES_NOT_EXIST = "ExecutionDoesNotExist"
RUNNING = "RUNNING"

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


class StepFunctionsClient(Protocol):
    """The part of the boto3 Step Functions client the queue functions use (a fake in tests needs only
    these)."""

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]: ...

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]: ...


@functools.lru_cache(maxsize=None)
def get_client() -> StepFunctionsClient:
    """The Step Functions client of this execution environment, created on first use."""
    client: StepFunctionsClient = boto3.client("stepfunctions", config=CLIENT_CONFIG)
    return client


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_dead_token(error: ClientError) -> bool:
    return error_code(error) in DEAD_TOKEN_ERRORS
