"""Step Functions execution status changes, as AWS reports them (the source of status-change events).

moto's interpreter (``moto.stepfunctions.parser``) runs an execution on a thread and sets its final status in
``BaseExecutionWorkerCommunication.terminated`` when that thread ends: SUCCEEDED, FAILED (a Fail state or an
uncaught error), TIMED_OUT (the machine's ``TimeoutSeconds``) or ABORTED (StopExecution). Gaps closed here:

- StopExecution only asked the interpreter to stop: the execution stayed RUNNING, and StopExecution
  answered without a ``stopDate``, until the current state returned, which for a ``.waitForTaskToken`` task
  could be never. On AWS the execution is ABORTED when StopExecution returns. Now it is.
- DescribeExecution and ListExecutions left out ``stopDate`` of a TIMED_OUT execution. Now they include it.

``install(on_change)`` calls ``on_change(execution)`` once when a Standard execution starts (RUNNING) and
once when it ends, always in that order; Express, synchronous and TestState executions are left out, since
AWS sends status-change events for Standard workflows only.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import (
    BaseExecutionWorkerCommunication,
    Execution,
    SyncExecution,
)
from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
from moto.stepfunctions.responses import StepFunctionResponse

OnChange = Callable[[Execution], None]

#: Set on an execution once its final status is decided (by StopExecution or by the interpreter).
_FINAL = "_localaws_final"
_LOCK_ATTR = "_localaws_lock"
_LOCKS_GUARD = threading.Lock()
_INSTALLED = False


def install(on_change: OnChange) -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    _hook_start(on_change)
    _hook_terminated(on_change)
    _hook_stop(on_change)
    _hook_timed_out_stop_date()
    _INSTALLED = True


def reports_status_changes(execution: Execution) -> bool:
    """Whether AWS sends status-change events for this execution (Standard workflows only)."""
    if isinstance(execution, SyncExecution | TestStateExecution):
        return False
    return str(getattr(execution, "sm_type", "STANDARD") or "STANDARD").upper() == "STANDARD"


def _lock(execution: Execution) -> threading.Lock:
    lock = getattr(execution, _LOCK_ATTR, None)
    if lock is None:
        with _LOCKS_GUARD:
            lock = getattr(execution, _LOCK_ATTR, None)
            if lock is None:
                lock = threading.Lock()
                setattr(execution, _LOCK_ATTR, lock)
    return lock


def _hook_start(on_change: OnChange) -> None:
    original = Execution.start

    def start(self: Execution) -> None:
        # Held until RUNNING is reported, so a very short execution cannot report its end first.
        with _lock(self):
            original(self)
            if reports_status_changes(self):
                on_change(self)

    Execution.start = start  # type: ignore[method-assign]


def _hook_terminated(on_change: OnChange) -> None:
    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        execution = self.execution
        with _lock(execution):
            if getattr(execution, _FINAL, False):
                return  # already ABORTED by StopExecution, and reported
            original(self)
            setattr(execution, _FINAL, True)
            if reports_status_changes(execution):
                on_change(execution)

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def _hook_stop(on_change: OnChange) -> None:
    original = Execution.stop

    def stop(self: Execution, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        with _lock(self):
            if getattr(self, _FINAL, False) or self.exec_status != ExecutionStatus.RUNNING:
                return
            env = _wait_for_environment(self)
            if env is not None and not env.is_running():
                return  # the last state already ended: the interpreter reports the outcome in a moment
            if env is not None:
                original(self, stop_date, error, cause)
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = datetime.datetime.now(tz=datetime.UTC)
            self.error = error or None
            self.cause = cause or None
            setattr(self, _FINAL, True)
            if reports_status_changes(self):
                on_change(self)

    Execution.stop = stop  # type: ignore[method-assign]


def _wait_for_environment(execution: Execution, timeout: float = 1.0) -> Any:
    """The interpreter's environment; a stop right after the start may come before the thread made it."""
    deadline = time.monotonic() + timeout
    while True:
        env = execution.exec_worker.env if execution.exec_worker is not None else None
        if env is not None or time.monotonic() >= deadline:
            return env
        time.sleep(0.005)


def _hook_timed_out_stop_date() -> None:
    original_describe = StepFunctionResponse.describe_execution
    original_list = StepFunctionResponse.list_executions

    def describe_execution(self: StepFunctionResponse) -> Any:
        result = original_describe(self)
        body = result.result
        if isinstance(body, dict):
            _add_timed_out_stop_date(self, body)
        return result

    def list_executions(self: StepFunctionResponse) -> Any:
        result = original_list(self)
        body = result.result
        for item in body.get("executions", []) if isinstance(body, dict) else []:
            _add_timed_out_stop_date(self, item)
        return result

    StepFunctionResponse.describe_execution = describe_execution  # type: ignore[method-assign]
    StepFunctionResponse.list_executions = list_executions  # type: ignore[method-assign]


def _add_timed_out_stop_date(response: StepFunctionResponse, execution: dict[str, Any]) -> None:
    if execution.get("status") == ExecutionStatus.TIMED_OUT and "stopDate" not in execution:
        found = response.stepfunction_backend.describe_execution(execution["executionArn"])
        execution["stopDate"] = found.stop_date
