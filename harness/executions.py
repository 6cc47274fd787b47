"""Run executions of a semaphore state machine and observe them while they run.

- ``start_executions`` / ``wait_for_executions``: start many executions, each with a unique name (moto
  names every unnamed execution "None"), and wait for all of them with a deadline.
- ``HolderSampler``: a thread that reads lock items (strongly consistent) every ~50 ms and records the
  count and the holders (attributes whose names start with ``arn:``; see docs/lock-item.md).
- History helpers: when each execution entered and left "Run work", the most work intervals that overlap,
  which states were entered, and ``assert_really_executed``, which rejects a history the emulator made up
  instead of running (moto fabricates one when execution is switched off).

Times are epoch seconds (floats) everywhere, so sampler times and history timestamps compare directly
(the local AWS runs on this machine's clock).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness import aws

#: Names of the module's states that the helpers look for (templates/semaphore.asl.json.tftpl).
ACQUIRE_STATE = "Acquire semaphore"
WORK_STATE = "Run work"
RELEASE_STATE = "Release semaphore"
RELEASE_AFTER_FAILURE_STATE = "Release semaphore after failure"
FAIL_STATE = "Fail with work error"
WAIT_STATE = "Wait for a free slot"

HOLDER_PREFIX = "arn:"
COUNT_ATTRIBUTE = "lockCount"

Event = dict[str, Any]

#: History timestamps have millisecond resolution: allow that much when comparing durations.
TIMESTAMP_RESOLUTION = 0.002


class ExecutionsTimeoutError(TimeoutError):
    """Some executions were still running at the deadline."""

    def __init__(self, running: Sequence[str], timeout: float) -> None:
        self.running = list(running)
        super().__init__(f"{len(running)} execution(s) still RUNNING after {timeout} s: {running[:5]}")


class NotReallyExecutedError(AssertionError):
    """An execution history lacks the evidence that the emulator really ran the execution."""


# --------------------------------------------------------------------------------------------------
# Starting and waiting
# --------------------------------------------------------------------------------------------------


def unique_name(prefix: str) -> str:
    """``prefix`` plus a random suffix: a name no other test or run on the same local AWS uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of ``state_machine_arn`` (known before start)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_executions(
    sfn: Any,
    state_machine_arn: str,
    inputs: Sequence[Mapping[str, Any]],
    prefix: str = "run",
    stagger: float = 0.0,
    names: Sequence[str] | None = None,
) -> list[str]:
    """Start one execution per input (named ``prefix-<i>-<random>`` unless ``names`` are given).

    ``stagger`` seconds pass between two starts. Returns the execution ARNs in input order.
    """
    if names is not None and len(names) != len(inputs):
        raise ValueError("names and inputs differ in length")
    arns = []
    batch = uuid.uuid4().hex[:6]
    for index, execution_input in enumerate(inputs):
        if index and stagger:
            time.sleep(stagger)
        name = names[index] if names is not None else f"{prefix}-{index:03d}-{batch}"
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        arns.append(response["executionArn"])
    return arns


def wait_for_executions(
    sfn: Any,
    arns: Iterable[str],
    timeout: float,
    poll: float = 0.25,
) -> dict[str, dict[str, Any]]:
    """Wait until no execution is RUNNING; returns each one's ``describe_execution`` by ARN.

    Raises ``ExecutionsTimeoutError`` naming the executions still running after ``timeout`` seconds.
    """
    pending = list(arns)
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        still_running = []
        for arn in pending:
            description = sfn.describe_execution(executionArn=arn)
            if description["status"] == "RUNNING":
                still_running.append(arn)
            else:
                done[arn] = description
        pending = still_running
        if not pending:
            return done
        if time.monotonic() >= deadline:
            raise ExecutionsTimeoutError(pending, timeout)
        time.sleep(poll)


def wait_until(
    condition: Callable[[], bool], timeout: float, poll: float = 0.05, what: str = "condition"
) -> float:
    """Poll ``condition`` until it is true; returns the time (epoch seconds) it was first seen true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(poll)
    raise TimeoutError(f"{what} not met within {timeout} s")


# --------------------------------------------------------------------------------------------------
# The lock item
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockState:
    """One read of a lock item."""

    #: Whether the item exists at all.
    exists: bool
    #: ``lockCount``, or None when the item has none.
    count: int | None
    #: Holder ARN -> the weight recorded on its entry.
    holders: Mapping[str, int]


def parse_lock_item(item: Mapping[str, Any] | None) -> LockState:
    """A DynamoDB item (low-level attribute values) as a ``LockState``."""
    if not item:
        return LockState(exists=False, count=None, holders={})
    count = int(item[COUNT_ATTRIBUTE]["N"]) if COUNT_ATTRIBUTE in item else None
    holders = {}
    for name, value in item.items():
        if name.startswith(HOLDER_PREFIX):
            weight = value.get("M", {}).get("weight", {}).get("N")
            holders[name] = int(weight) if weight is not None else 0
    return LockState(exists=True, count=count, holders=holders)


def read_lock(dynamodb: Any, table: str, key_attribute: str, lock_name: str) -> LockState:
    """A strongly consistent read of one lock item."""
    response = dynamodb.get_item(TableName=table, Key={key_attribute: {"S": lock_name}}, ConsistentRead=True)
    return parse_lock_item(response.get("Item"))


#: A holder that no execution of the state machine under test will release: another machine's execution.
FOREIGN_HOLDER = "arn:aws:states:us-east-1:123456789012:execution:another-machine:foreign-holder"


def put_foreign_holder(dynamodb: Any, table: str, key_attribute: str, lock_name: str) -> str:
    """Write the lock item with ``FOREIGN_HOLDER`` holding one slot (count 1), so a lock with limit 1 is full
    until ``remove_holder``; returns the holder's ARN."""
    dynamodb.put_item(
        TableName=table,
        Item={
            key_attribute: {"S": lock_name},
            COUNT_ATTRIBUTE: {"N": "1"},
            FOREIGN_HOLDER: {"M": {"weight": {"N": "1"}, "acquiredAt": {"S": "2024-01-01T00:00:00.000Z"}}},
        },
    )
    return FOREIGN_HOLDER


def remove_holder(dynamodb: Any, table: str, key_attribute: str, lock_name: str, holder: str) -> None:
    """Give back ``holder``'s slot of weight 1, as its release would; fails if it holds none."""
    dynamodb.update_item(
        TableName=table,
        Key={key_attribute: {"S": lock_name}},
        UpdateExpression="ADD #count :minus REMOVE #holder",
        ConditionExpression="attribute_exists(#holder)",
        ExpressionAttributeNames={"#count": COUNT_ATTRIBUTE, "#holder": holder},
        ExpressionAttributeValues={":minus": {"N": "-1"}},
    )


@dataclass(frozen=True)
class Sample:
    """The lock items read in one polling round, at ``time`` (epoch seconds, end of the round)."""

    time: float
    locks: Mapping[str, LockState]


class HolderSampler:
    """Reads lock items every ``interval`` seconds in a background thread while a test runs.

    Use as a context manager (or ``start``/``stop``); ``samples`` holds one ``Sample`` per round. Read
    errors are kept in ``errors`` rather than killing the thread, and ``stop`` raises the first one so a
    sampler that silently saw nothing cannot make a test pass.
    """

    def __init__(
        self,
        endpoint: str,
        table: str,
        lock_names: Sequence[str],
        key_attribute: str = "LockName",
        interval: float = 0.05,
    ) -> None:
        self.table = table
        self.lock_names = list(lock_names)
        self.key_attribute = key_attribute
        self.interval = interval
        self.samples: list[Sample] = []
        self.errors: list[Exception] = []
        # Signed as an observer: its reads are no part of what the semaphore costs (bench.server.meter).
        self._dynamodb = aws.client("dynamodb", endpoint, access_key_id=aws.OBSERVER_ACCESS_KEY_ID)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="holder-sampler", daemon=True)

    def start(self) -> HolderSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.errors:
            raise self.errors[0]

    def __enter__(self) -> HolderSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                locks = {
                    name: read_lock(self._dynamodb, self.table, self.key_attribute, name)
                    for name in self.lock_names
                }
                self.samples.append(Sample(time=time.time(), locks=locks))
            except Exception as error:  # kept and re-raised by stop()
                self.errors.append(error)
            self._stop.wait(self.interval)

    # Summaries ------------------------------------------------------------------------------------

    def states(self, lock_name: str | None = None) -> list[LockState]:
        """Every sampled state of one lock (the only one when the sampler watches a single lock)."""
        name = lock_name if lock_name is not None else self._single_lock()
        return [sample.locks[name] for sample in self.samples]

    def max_holders(self, lock_name: str | None = None) -> int:
        return max((len(state.holders) for state in self.states(lock_name)), default=0)

    def max_count(self, lock_name: str | None = None) -> int:
        return max((state.count or 0 for state in self.states(lock_name)), default=0)

    def min_count(self, lock_name: str | None = None) -> int:
        return min((state.count or 0 for state in self.states(lock_name)), default=0)

    def holders_seen(self, lock_name: str | None = None) -> set[str]:
        """Every ARN that held the lock in at least one sample."""
        return {arn for state in self.states(lock_name) for arn in state.holders}

    def _single_lock(self) -> str:
        if len(self.lock_names) != 1:
            raise ValueError("this sampler watches several locks: name one")
        return self.lock_names[0]


# --------------------------------------------------------------------------------------------------
# Histories
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """From ``start`` to ``end`` (epoch seconds), holding ``weight`` slots (1 unless a test weighs it)."""

    start: float
    end: float
    weight: int = 1

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def contains(self, moment: float) -> bool:
        return self.start <= moment <= self.end


def executions_of(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of a state machine (``ListExecutions``, all pages), newest first."""
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, PaginationConfig={"PageSize": 1000}
    )
    return [execution for page in pages for execution in page["executions"]]


def history(sfn: Any, arn: str) -> list[Event]:
    """Every event of an execution's history, oldest first."""
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, PaginationConfig={"PageSize": 1000}
    )
    return [event for page in pages for event in page["events"]]


def _timestamp(event: Event) -> float:
    return float(event["timestamp"].timestamp())


def _state_name(event: Event, details: str) -> str | None:
    name = event.get(details, {}).get("name")
    return str(name) if name is not None else None


def entered_states(events: Sequence[Event]) -> list[str]:
    """Names of the states entered, in order (a state entered twice appears twice)."""
    return [name for event in events if (name := _state_name(event, "stateEnteredEventDetails"))]


def state_intervals(events: Sequence[Event], state_name: str) -> list[Interval]:
    """Each time the history entered and then exited ``state_name`` (an entry never exited is left out)."""
    intervals = []
    entered: float | None = None
    for event in events:
        if _state_name(event, "stateEnteredEventDetails") == state_name:
            entered = _timestamp(event)
        elif _state_name(event, "stateExitedEventDetails") == state_name and entered is not None:
            intervals.append(Interval(entered, _timestamp(event)))
            entered = None
    return intervals


def iteration_intervals(events: Sequence[Event], state_name: str) -> dict[str, Interval]:
    """Map iterations that hold their own slot (the module's map_state): when each entered and then exited
    ``state_name``, by the holder id its input carries (``$.semaphore.holder``). Iterations run side by side,
    so their events interleave in one history: entries and exits are paired by holder, not by order. An
    iteration that entered without exiting is left out."""
    entered: dict[str, float] = {}
    intervals: dict[str, Interval] = {}
    for event in events:
        for details, exiting in (("stateEnteredEventDetails", False), ("stateExitedEventDetails", True)):
            if _state_name(event, details) != state_name:
                continue
            text = event[details].get("output" if exiting else "input") or "{}"
            holder = (json.loads(text).get("semaphore") or {}).get("holder")
            if not isinstance(holder, str):
                continue
            if not exiting:
                entered[holder] = _timestamp(event)
            elif holder in entered:
                intervals[holder] = Interval(entered.pop(holder), _timestamp(event))
    return intervals


def state_entered_times(events: Sequence[Event], state_name: str) -> list[float]:
    """When the history entered ``state_name``, each time."""
    return [
        _timestamp(event) for event in events if _state_name(event, "stateEnteredEventDetails") == state_name
    ]


def work_interval(events: Sequence[Event]) -> Interval | None:
    """When the execution entered and left "Run work" (its Parallel); None if it never did both."""
    intervals = state_intervals(events, WORK_STATE)
    return intervals[0] if intervals else None


def max_overlap(intervals: Iterable[Interval]) -> int:
    """The most weight (the most intervals, at weight 1) inside at one moment. Touching intervals (one ends as
    the next starts) do not overlap: a slot is handed on only after the holder has left the work."""
    points = []
    for interval in intervals:
        points.append((interval.start, interval.weight))
        points.append((interval.end, -interval.weight))
    # At equal times, exits (negative) sort before entries (positive).
    points.sort()
    current = best = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def overlap_at(intervals: Iterable[Interval], moment: float) -> int:
    """How many intervals contain ``moment``."""
    return sum(1 for interval in intervals if interval.contains(moment))


def dynamodb_task_outputs(events: Sequence[Event]) -> list[tuple[str, dict[str, Any]]]:
    """(resource, parsed output) of every DynamoDB task that succeeded, e.g. ("updateItem", {...})."""
    outputs = []
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if event["type"] == "TaskSucceeded" and details and details.get("resourceType") == "dynamodb":
            outputs.append((str(details["resource"]), json.loads(details.get("output") or "null")))
    return outputs


def queue_grants(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Queue mode: the resume outputs (SendTaskSuccess) the acquire tasks of one history received, the queue
    Lambdas' grants (``grantedAt``: when the decision granted them, epoch ms), in history order."""
    found = []
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if event["type"] == "TaskSucceeded" and details and details.get("resourceType") == "lambda":
            output = json.loads(details["output"])
            if isinstance(output, dict) and output.get("granted"):
                found.append(output)
    return found


def execution_failure(events: Sequence[Event]) -> tuple[str | None, str | None]:
    """(error, cause) of an ExecutionFailed event, or (None, None) when there is none."""
    for event in events:
        if event["type"] == "ExecutionFailed":
            details = event.get("executionFailedEventDetails", {})
            return details.get("error"), details.get("cause")
    return None, None


def assert_really_executed(events: Sequence[Event], table_name: str, work_seconds: float) -> None:
    """Raise ``NotReallyExecutedError`` unless the history shows this module's states really running.

    Evidence required: the acquire and release DynamoDB updates succeeded with outputs DynamoDB produced
    for ``table_name`` (consumed capacity on that table), "Run work" was entered and exited, and it took at
    least ``work_seconds`` (the work's Wait). A history made up by the emulator has none of these.
    """
    problems = []
    updates = [output for resource, output in dynamodb_task_outputs(events) if resource == "updateItem"]
    if len(updates) < 2:
        problems.append(f"expected the acquire and release updateItem tasks to succeed, found {len(updates)}")
    for output in updates:
        consumed = (output or {}).get("ConsumedCapacity", {})
        if consumed.get("TableName") != table_name:
            problems.append(f"updateItem output does not come from table {table_name}: {output}")
    interval = work_interval(events)
    if interval is None:
        problems.append(f'"{WORK_STATE}" was not both entered and exited')
    elif interval.seconds < work_seconds - TIMESTAMP_RESOLUTION:
        problems.append(
            f'"{WORK_STATE}" took {interval.seconds:.3f} s, less than the work\'s {work_seconds} s'
        )
    if problems:
        raise NotReallyExecutedError("; ".join(problems))
