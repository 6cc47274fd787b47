"""Whether an execution that holds a slot is still running, as Step Functions tells it.

``execution_state`` never raises: an execution is RUNNING (leave its slot alone), ENDED (any final status),
GONE (Step Functions does not know it: ended and expired, or never existed) or UNKNOWN (its status could not
be read: throttled, denied, an Express execution, a malformed ARN). Only ENDED and GONE are certain enough to
release a slot; UNKNOWN is released only under a lease.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

#: Statuses in which an execution may still use its slot. PENDING_REDRIVE: a redriven execution about to run.
RUNNING_STATUSES = frozenset({"RUNNING", "PENDING_REDRIVE"})
DOES_NOT_EXIST = "ExecutionDoesNotExist"

# arn:<partition>:states:<region>:<account>:execution:<state machine>:<execution name>
# arn:<partition>:states:<region>:<account>:express:<state machine>:<execution name>:<id>
_EXECUTION = re.compile(
    r"^arn:(?P<partition>[a-z-]+):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":(?:execution:(?P<machine>[A-Za-z0-9_-]{1,80}):[^:]+"
    r"|express:(?P<express_machine>[A-Za-z0-9_-]{1,80}):[^:]+:[^:]+)$"
)


class StepFunctionsClient(Protocol):
    """The part of the boto3 Step Functions client the sweeper uses."""

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]: ...


class State(enum.Enum):
    RUNNING = "running"
    ENDED = "ended"
    GONE = "gone"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ExecutionState:
    state: State
    #: The execution's status, or why it is GONE/UNKNOWN (an error code).
    detail: str


def state_machine_of(execution_arn: str) -> str | None:
    """The state machine ARN of an execution ARN (Standard or Express); None when it is not one."""
    match = _EXECUTION.match(execution_arn)
    if match is None:
        return None
    machine = match["machine"] or match["express_machine"]
    return f"arn:{match['partition']}:states:{match['region']}:{match['account']}:stateMachine:{machine}"


def is_express(execution_arn: str) -> bool:
    match = _EXECUTION.match(execution_arn)
    return match is not None and match["express_machine"] is not None


def execution_state(sfn: StepFunctionsClient, execution_arn: str) -> ExecutionState:
    if state_machine_of(execution_arn) is None:
        return ExecutionState(State.UNKNOWN, "not an execution ARN")
    if is_express(execution_arn):
        return ExecutionState(State.UNKNOWN, "an Express execution (DescribeExecution serves Standard only)")
    try:
        response = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "")) or "ClientError"
        if code == DOES_NOT_EXIST:
            return ExecutionState(State.GONE, code)
        return ExecutionState(State.UNKNOWN, code)
    except BotoCoreError as error:  # connection failures, timeouts: the status is simply unknown
        return ExecutionState(State.UNKNOWN, type(error).__name__)
    status = str(response.get("status", ""))
    if status in RUNNING_STATUSES:
        return ExecutionState(State.RUNNING, status)
    if not status:
        return ExecutionState(State.UNKNOWN, "no status in DescribeExecution's response")
    return ExecutionState(State.ENDED, status)
