"""One sweep: give back every slot whose holder's execution is no longer running.

Pure with respect to AWS: the DynamoDB and Step Functions clients, the clock and the cursor come in as
arguments, so the logic runs the same against AWS, moto or a stub.

For every item of every lock table (docs/lock-item.md), within a budget of items and time:

- a **lock item** (key not starting with ``arn:``): each holder entry (attribute named by a holder id)
  whose execution has ENDED or is GONE is released; one whose status cannot be read is released only when a
  lease is set and the entry is older than the lease; a RUNNING holder is never touched;
- an **item keyed by a holder** (key starting with ``arn:``: an index or per-execution item, keyed by an
  execution ARN or an iteration holder id, or an execution's registry, ``<execution ARN>#``): deleted once
  that execution is no longer running.

A holder id is an execution ARN or a Map iteration's ``<execution ARN>#<iteration id>``
(``semaphore_core.lock_item``). Step Functions knows executions only, so every holder is judged by its
execution (``execution_of``): described once per run, and a holder whose execution is RUNNING is never
released. (Asked about an iteration holder's id, DescribeExecution would answer ExecutionDoesNotExist: GONE,
and the slot would be taken from a running iteration.)

In poll mode a release is the reaper's write: ``SET lockCount = lockCount - <entry>.weight REMOVE <entry>
ADD version 1`` on condition ``attribute_exists(<entry>)``. DynamoDB reads the recorded weight as it writes,
and a holder released first by its execution or the reaper fails the condition instead of counting twice,
so the count never goes below 0.

In queue mode (a ``QueueRelease`` is given) every release goes through the queue release function instead,
as the state machine's own release and the status-change rule do: it gives the slot back *and* grants it
to the next waiters and resumes them, so a slot freed by the sweeper is not left idle. The sweeper also
removes **queued executions that have ended** (entries of the lock item's ``queue``) the same way, so no
grant is ever handed to them. The function is idempotent, so a race with any other release is harmless.

Holders and waiters of state machines this sweeper does not look after are left alone.

Nothing in an item can crash a sweep: a malformed item or entry is counted as an error and skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from semaphore_core.clock import Clock
from semaphore_core.dynamo import AttributeValue, error_code, is_conditional_check_failed, number, string
from semaphore_core.errors import LockItemCorruptError
from semaphore_core.lock_item import (
    HOLDER_ACQUIRED_AT,
    HOLDER_WEIGHT,
    LOCK_COUNT,
    VERSION,
    execution_of,
    is_holder_attribute,
)
from semaphore_core.queue_store import QUEUE, parse_queue
from sweeper.config import LockTable, SweeperConfig
from sweeper.executions import ExecutionState, State, StepFunctionsClient, execution_state, state_machine_of
from sweeper.timestamps import parse_timestamp_ms

logger = logging.getLogger(__name__)

#: Items per Scan page (fewer when less of the item budget is left).
PAGE_SIZE = 100

Key = Dict[str, AttributeValue]

#: Queue mode's release: (lock name, holder id) -> the queue release function's result (its
#: ``released`` and ``dequeued`` fields are read). Raises ``QueueReleaseError`` when the call failed.
QueueRelease = Callable[[str, str], Mapping[str, Any]]


class QueueReleaseError(Exception):
    """The queue release function could not be invoked, or failed."""


class SweeperDynamoDB(Protocol):
    """The part of the boto3 DynamoDB client the sweeper uses."""

    def scan(self, **kwargs: Any) -> dict[str, Any]: ...

    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_item(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class SweepCursor:
    """Where the next run starts: a table (index into the config's tables) and the key after which to scan.

    The handler keeps one per execution environment, so a run cut short by its budget is continued by the
    next run that lands on the same warm environment; a cold start begins again at the first table.
    """

    table_index: int = 0
    start_key: Key | None = None

    def reset(self) -> None:
        self.table_index = 0
        self.start_key = None


@dataclass
class SweepResult:
    #: Items read (lock items and items keyed by a holder).
    scanned: int = 0
    #: Holders given back by this run (``released_by_lease`` of them because of the lease).
    released: int = 0
    released_by_lease: int = 0
    #: Holders left in place: running, status unknown within the lease, or another sweeper's.
    kept: int = 0
    #: Holders released by someone else between the scan and the write.
    already_released: int = 0
    #: Items keyed by a holder of an ended execution (index, per-execution and registry items), deleted.
    index_items_deleted: int = 0
    #: Queue mode: queued executions that had ended, removed from their lock's queue.
    waiters_removed: int = 0
    #: Status reads or writes that failed, and malformed items or entries.
    errors: int = 0
    #: Whether the run reached the end of the last table (False: the budget ran out first).
    complete: bool = False
    #: Per-run notes for the log: the first few problems.
    problems: list[str] = field(default_factory=list)

    MAX_PROBLEMS = 20

    def problem(self, message: str) -> None:
        self.errors += 1
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(message)

    def to_response(self) -> dict[str, Any]:
        response = asdict(self)
        return {
            "scanned": response["scanned"],
            "released": response["released"],
            "releasedByLease": response["released_by_lease"],
            "kept": response["kept"],
            "alreadyReleased": response["already_released"],
            "indexItemsDeleted": response["index_items_deleted"],
            "waitersRemoved": response["waiters_removed"],
            "errors": response["errors"],
            "complete": response["complete"],
            "problems": response["problems"],
        }


#: The function's metrics (``semaphore_core.metrics``), every one a count per run.
METRICS = ("SlotsReclaimed", "WaitersRemoved", "SweepErrors", "SweepsIncomplete")


def metric_counts(result: SweepResult) -> dict[str, int]:
    """SlotsReclaimed: holders of ended executions (or past the lease) given back by this run: slots the
    execution's own release and the reaper both missed, so a steady non-zero count is worth a look.
    WaitersRemoved: ended executions taken out of a queue. SweepErrors: failed reads or writes and malformed
    items. SweepsIncomplete: runs that ran out of budget before the end of the last table."""
    return {
        "SlotsReclaimed": result.released,
        "WaitersRemoved": result.waiters_removed,
        "SweepErrors": result.errors,
        "SweepsIncomplete": int(not result.complete),
    }


class _Budget:
    def __init__(self, clock: Clock, max_items: int, max_ms: int) -> None:
        self._clock = clock
        self._deadline_ms = clock() + max_ms
        self.items_left = max_items

    def exhausted(self) -> bool:
        return self.items_left <= 0 or self._clock() >= self._deadline_ms


def sweep(
    dynamodb: SweeperDynamoDB,
    sfn: StepFunctionsClient,
    clock: Clock,
    config: SweeperConfig,
    cursor: SweepCursor,
    max_ms: int | None = None,
    queue_release: QueueRelease | None = None,
) -> SweepResult:
    """Sweeps from ``cursor`` until every table is done or the budget is spent; moves ``cursor`` along.
    ``queue_release``: queue mode's release (module doc); None for poll mode's plain write."""
    result = SweepResult()
    budget = _Budget(
        clock, config.max_items, max_ms if max_ms is not None else int(config.max_seconds * 1000)
    )
    statuses: dict[str, ExecutionState] = {}
    if cursor.table_index >= len(config.tables):
        cursor.reset()
    while cursor.table_index < len(config.tables):
        table = config.tables[cursor.table_index]
        finished = _sweep_table(
            _Sweep(dynamodb, sfn, clock, config, statuses, result, queue_release), table, cursor, budget
        )
        if not finished:
            break
        cursor.table_index += 1
        cursor.start_key = None
    else:
        result.complete = True
        cursor.reset()
    logger.info(json.dumps({"outcome": "swept", **result.to_response()}))
    return result


@dataclass
class _Sweep:
    """One run's clients, settings and running totals."""

    dynamodb: SweeperDynamoDB
    sfn: StepFunctionsClient
    clock: Clock
    config: SweeperConfig
    statuses: dict[str, ExecutionState]
    result: SweepResult
    queue_release: QueueRelease | None

    def state(self, execution_arn: str) -> ExecutionState:
        """One DescribeExecution per execution and run: its holder entries, queue entries and items (those of
        its iteration holders too) share it."""
        if execution_arn not in self.statuses:
            self.statuses[execution_arn] = execution_state(self.sfn, execution_arn)
        return self.statuses[execution_arn]


def _sweep_table(run: _Sweep, table: LockTable, cursor: SweepCursor, budget: _Budget) -> bool:
    """Scans one table from the cursor; True when its end was reached, False when the budget ran out."""
    result = run.result
    while True:
        if budget.exhausted():
            return False
        request: dict[str, Any] = {"TableName": table.name, "Limit": min(PAGE_SIZE, budget.items_left)}
        if cursor.start_key is not None:
            request["ExclusiveStartKey"] = cursor.start_key
        try:
            page = run.dynamodb.scan(**request)
        except (ClientError, BotoCoreError) as error:
            result.problem(f"scan of {table.name} failed: {_describe(error)}")
            return False  # try again from the same place next run
        for item in page.get("Items", []):
            if budget.exhausted():
                return False
            budget.items_left -= 1
            result.scanned += 1
            key = _key_of(item, table)
            if key is None:
                result.problem(f"{table.name}: an item without a string {table.lock_id_attribute!r} key")
                continue
            _sweep_item(run, table, key, item)
            cursor.start_key = key
        last = page.get("LastEvaluatedKey")
        if not last:
            return True
        cursor.start_key = last


def _sweep_item(run: _Sweep, table: LockTable, key: Key, item: Mapping[str, Any]) -> None:
    name = key[table.lock_id_attribute]["S"]
    if is_holder_attribute(name):
        _sweep_index_item(run, table, key, name)
        return
    for attribute, value in item.items():
        if is_holder_attribute(attribute):
            _sweep_holder(run, table, key, attribute, value)
    if run.queue_release is not None and QUEUE in item:
        for waiter in _queued(run, table, key, item[QUEUE]):
            _sweep_waiter(run, table, key, waiter)


def _sweep_holder(run: _Sweep, table: LockTable, key: Key, holder: str, value: object) -> None:
    result = run.result
    where = f"{table.name}/{key[table.lock_id_attribute]['S']}/{holder}"
    fields = value.get("M") if isinstance(value, Mapping) else None
    if not isinstance(fields, Mapping) or not _is_whole_positive(fields.get(HOLDER_WEIGHT)):
        result.kept += 1
        result.problem(f"{where}: not a holder entry with a whole, positive weight: {value!r}"[:300])
        return
    execution = execution_of(holder)
    if not _looks_after(run.config, execution):
        result.kept += 1
        return
    state = run.state(execution)
    if state.state is State.RUNNING:
        result.kept += 1
        return
    by_lease = False
    if state.state is State.UNKNOWN:
        if not _lease_expired(run.config, fields, run.clock):
            result.kept += 1
            result.problem(f"{where}: status unknown ({state.detail}), kept")
            return
        by_lease = True
        result.problem(f"{where}: status unknown ({state.detail}), released: older than the lease")
    _release(run, table, key, holder, where, state, by_lease)


def _release(
    run: _Sweep,
    table: LockTable,
    key: Key,
    holder: str,
    where: str,
    state: ExecutionState,
    by_lease: bool,
) -> None:
    result = run.result
    if run.queue_release is not None:
        outcome = _call_queue_release(run, key[table.lock_id_attribute]["S"], holder, where)
        if outcome is None:
            result.kept += 1
            return
        if not outcome.get("released"):
            result.already_released += 1
            return
    else:
        try:
            run.dynamodb.update_item(**release_arguments(table, key, holder))
        except ClientError as error:
            if is_conditional_check_failed(error):
                result.already_released += 1
                return
            result.kept += 1
            result.problem(f"{where}: release failed: {_describe(error)}")
            return
        except BotoCoreError as error:
            result.kept += 1
            result.problem(f"{where}: release failed: {_describe(error)}")
            return
    result.released += 1
    if by_lease:
        result.released_by_lease += 1
    _log("released", table, key, holder, state, byLease=by_lease)


def _queued(run: _Sweep, table: LockTable, key: Key, value: object) -> list[str]:
    """The execution ARNs in a lock item's ``queue`` attribute. A malformed queue is a problem, not a crash,
    and none of it is acted on."""
    try:
        return [waiter.execution_arn for waiter in parse_queue(value)]
    except LockItemCorruptError as error:
        run.result.problem(f"{table.name}/{key[table.lock_id_attribute]['S']}: {error}"[:300])
        return []


def _sweep_waiter(run: _Sweep, table: LockTable, key: Key, waiter: str) -> None:
    """A queued holder whose execution has ended (or is gone) leaves the queue; one whose execution is running
    or unknown stays."""
    execution = execution_of(waiter)
    if not _looks_after(run.config, execution):
        return
    state = run.state(execution)
    if state.state in (State.RUNNING, State.UNKNOWN):
        return
    where = f"{table.name}/{key[table.lock_id_attribute]['S']}/queue/{waiter}"
    outcome = _call_queue_release(run, key[table.lock_id_attribute]["S"], waiter, where)
    if outcome is not None and outcome.get("dequeued"):
        run.result.waiters_removed += 1
        _log("removed from the queue", table, key, waiter, state)


def _call_queue_release(
    run: _Sweep, lock_name: str, execution_arn: str, where: str
) -> Mapping[str, Any] | None:
    assert run.queue_release is not None
    try:
        return run.queue_release(lock_name, execution_arn)
    except QueueReleaseError as error:
        run.result.problem(f"{where}: queue release failed: {error}"[:300])
        return None


def _log(
    outcome: str, table: LockTable, key: Key, execution_arn: str, state: ExecutionState, **more: Any
) -> None:
    logger.info(
        json.dumps(
            {
                "outcome": outcome,
                "table": table.name,
                "lockName": key[table.lock_id_attribute]["S"],
                "executionArn": execution_arn,
                "executionStatus": state.detail,
                **more,
            }
        )
    )


def release_arguments(table: LockTable, key: Key, holder: str) -> dict[str, Any]:
    """The UpdateItem that gives back ``holder``'s recorded weight, once (the reaper's write)."""
    return {
        "TableName": table.name,
        "Key": key,
        "UpdateExpression": "SET #count = #count - #holder.#weight REMOVE #holder ADD #version :one",
        "ConditionExpression": "attribute_exists(#holder)",
        "ExpressionAttributeNames": {
            "#count": LOCK_COUNT,
            "#holder": holder,
            "#weight": HOLDER_WEIGHT,
            "#version": VERSION,
        },
        "ExpressionAttributeValues": {":one": number(1)},
    }


def _sweep_index_item(run: _Sweep, table: LockTable, key: Key, name: str) -> None:
    """An index, per-execution or registry item (``name``: its key) goes once its execution has ended."""
    execution_arn = execution_of(name)
    if not _looks_after(run.config, execution_arn):
        return
    state = run.state(execution_arn)
    if state.state in (State.RUNNING, State.UNKNOWN):
        # A running execution needs it to find its lock again; an unknown one may be running.
        return
    try:
        run.dynamodb.delete_item(TableName=table.name, Key=key)
    except (ClientError, BotoCoreError) as error:
        run.result.problem(f"{table.name}/{name}: index item delete failed: {_describe(error)}")
        return
    run.result.index_items_deleted += 1


def _looks_after(config: SweeperConfig, execution_arn: str) -> bool:
    if not config.state_machine_arns:
        return True
    return state_machine_of(execution_arn) in config.state_machine_arns


def _lease_expired(config: SweeperConfig, fields: Mapping[str, Any], clock: Clock) -> bool:
    lease_ms = config.lease_ms
    if lease_ms is None:
        return False
    acquired = fields.get(HOLDER_ACQUIRED_AT)
    acquired_ms = parse_timestamp_ms(acquired.get("S") if isinstance(acquired, Mapping) else None)
    if acquired_ms is None:
        return False  # no age to judge by: never released on a guess
    return clock() - acquired_ms >= lease_ms


def _key_of(item: Mapping[str, Any], table: LockTable) -> Key | None:
    value = item.get(table.lock_id_attribute)
    if not isinstance(value, Mapping) or not isinstance(value.get("S"), str):
        return None
    return {table.lock_id_attribute: string(value["S"])}


def _is_whole_positive(value: object) -> bool:
    if not isinstance(value, Mapping) or not isinstance(value.get("N"), str):
        return False
    text = value["N"].strip()
    return text.isdigit() and int(text) > 0


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    return f"{type(error).__name__}: {error}"
