"""The sweeper against moto's DynamoDB in this process, with a fake Step Functions that answers what the
test sets (and moto's own Step Functions for the handler test).

Released versus kept for every execution status, status reads that fail, the lease, many lock items over
several Scan pages, the per-run budget and the cursor that continues a sweep, index items, holders of other
state machines, malformed items, and releases racing each other (sweepers, the reaper's write, the
execution's own release) on the atomic DynamoDB of localaws.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from semaphore_core.dynamo import get_client
from sweeper import handler
from sweeper.config import LockTable, SweeperConfig
from sweeper.logic import QueueReleaseError, SweepCursor, SweepResult, release_arguments, sweep

import localaws.patches.dynamodb as atomic_dynamodb
from harness import emf

TABLE = "locks"
KEY = "LockName"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:semaphore"
OTHER_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-else"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
ACQUIRED_AT_Z = "2023-11-14T22:13:20.000Z"  # as AWS writes $$.State.EnteredTime
ACQUIRED_AT_OFFSET = "2023-11-14T22:13:20.000000+00:00"  # as the emulator writes it


def arn(n: int | str, machine: str = "semaphore") -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:{machine}:e{n}"


class FakeClock:
    def __init__(self, now_ms: int = T0, step_ms: int = 0) -> None:
        self.now_ms = now_ms
        self.step_ms = step_ms

    def __call__(self) -> int:
        now = self.now_ms
        self.now_ms += self.step_ms
        return now


class FakeStepFunctions:
    """DescribeExecution from a table the test fills: a status, an error code, or unknown (does not exist)."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]:
        execution_arn = kwargs["executionArn"]
        with self._lock:
            self.calls.append(execution_arn)
        if execution_arn in self.errors:
            code = self.errors[execution_arn]
            raise ClientError({"Error": {"Code": code, "Message": code}}, "DescribeExecution")
        if execution_arn not in self.statuses:
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": "no such execution"}},
                "DescribeExecution",
            )
        return {"executionArn": execution_arn, "status": self.statuses[execution_arn]}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


@pytest.fixture
def ddb(aws_env: None) -> Iterator[Any]:
    sfn_client_factory = handler.get_sfn_client  # tests may replace it; the cache belongs to the original
    get_client.cache_clear()
    sfn_client_factory.cache_clear()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client
    get_client.cache_clear()
    sfn_client_factory.cache_clear()


@pytest.fixture
def sfn() -> FakeStepFunctions:
    return FakeStepFunctions()


def config(**overrides: Any) -> SweeperConfig:
    base = SweeperConfig(tables=(LockTable(TABLE, KEY),), state_machine_arns=frozenset({MACHINE}))
    return replace(base, **overrides)


def holder(weight: int | str, acquired_at: str = ACQUIRED_AT_Z) -> dict[str, Any]:
    return {"M": {"weight": {"N": str(weight)}, "acquiredAt": {"S": acquired_at}}}


def put_lock(client: Any, name: str, holders: dict[str, Any], count: int | None = None) -> None:
    """A lock item whose count is the sum of its holders' weights unless given."""
    if count is None:
        count = sum(int(value["M"]["weight"]["N"]) for value in holders.values())
    item: dict[str, Any] = {KEY: {"S": name}, "lockCount": {"N": str(count)}, **holders}
    client.put_item(TableName=TABLE, Item=item)


def lock(client: Any, name: str) -> dict[str, Any]:
    item = client.get_item(TableName=TABLE, Key={KEY: {"S": name}}, ConsistentRead=True).get("Item")
    assert item is not None, f"lock item {name} is gone"
    return item  # type: ignore[no-any-return]


def holders_of(item: dict[str, Any]) -> set[str]:
    return {name for name in item if name.startswith("arn:")}


def run(client: Any, sfn: FakeStepFunctions, cfg: SweeperConfig | None = None, **kwargs: Any) -> SweepResult:
    clock = kwargs.pop("clock", FakeClock())
    cursor = kwargs.pop("cursor", SweepCursor())
    return sweep(client, sfn, clock, cfg or config(), cursor, **kwargs)


# ----------------------------------------------------------------------------------------------------
# Released or kept, by what Step Functions says
# ----------------------------------------------------------------------------------------------------


def test_in_queue_mode_a_failed_release_call_keeps_the_holder_and_is_reported(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    sfn.statuses[arn(1)] = "ABORTED"
    put_lock(ddb, "L", {arn(1): holder(weight=1)})
    calls: list[tuple[str, str]] = []

    def failing_release(lock_name: str, execution_arn: str) -> dict[str, Any]:
        calls.append((lock_name, execution_arn))
        raise QueueReleaseError("queue-release failed: LockContentionError")

    result = run(ddb, sfn, config(queue_release_function="queue-release"), queue_release=failing_release)

    assert calls == [("L", arn(1))], "queue mode releases through the queue release function only"
    assert (result.released, result.kept, result.errors) == (0, 1, 1)
    assert "LockContentionError" in result.problems[0]
    assert holders_of(lock(ddb, "L")) == {arn(1)}, "nothing was written by the sweeper itself"


def test_the_handler_invokes_the_queue_release_function_and_reads_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FakeLambda:
        def __init__(self, reply: dict[str, Any], failed: bool) -> None:
            self.reply, self.failed = reply, failed
            self.calls: list[dict[str, Any]] = []

        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(kwargs)
            response: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(self.reply).encode())}
            if self.failed:
                response["FunctionError"] = "Unhandled"
            return response

    good = FakeLambda({"released": True, "dequeued": False}, failed=False)
    monkeypatch.setattr(handler, "get_lambda_client", lambda: good)
    assert handler.queue_release_through("queue-release")("L", arn(1)) == {
        "released": True,
        "dequeued": False,
    }
    assert good.calls[0]["FunctionName"] == "queue-release"
    assert json.loads(good.calls[0]["Payload"]) == {"lockName": "L", "executionArn": arn(1)}

    bad = FakeLambda({"errorType": "LockContentionError", "errorMessage": "busy"}, failed=True)
    monkeypatch.setattr(handler, "get_lambda_client", lambda: bad)
    with pytest.raises(QueueReleaseError, match="LockContentionError"):
        handler.queue_release_through("queue-release")("L", arn(1))


ENDED = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
ALIVE = ["RUNNING", "PENDING_REDRIVE"]


def test_ended_and_vanished_holders_are_released_with_their_recorded_weight_running_ones_kept(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    holders: dict[str, Any] = {}
    for n, status in enumerate(ENDED + ALIVE):
        sfn.statuses[arn(n)] = status
        holders[arn(n)] = holder(weight=n + 1)
    holders[arn("gone")] = holder(weight=7)  # Step Functions does not know it: ended long ago
    put_lock(ddb, "L", holders)

    result = run(ddb, sfn)

    item = lock(ddb, "L")
    alive = {arn(n) for n, status in enumerate(ENDED + ALIVE) if status in ALIVE}
    assert holders_of(item) == alive
    assert item["lockCount"] == {"N": str(sum(int(holders[a]["M"]["weight"]["N"]) for a in alive))}
    assert item["version"] == {"N": str(len(ENDED) + 1)}, "every release bumps the version once"
    assert (result.released, result.kept, result.errors, result.scanned) == (len(ENDED) + 1, len(ALIVE), 0, 1)
    assert result.complete is True
    for running in alive:
        assert item[running] == holders[running], "a running holder's entry must be left exactly as it was"


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "InternalServerError"])
def test_a_holder_whose_status_cannot_be_read_is_kept_without_a_lease(
    ddb: Any, sfn: FakeStepFunctions, code: str
) -> None:
    sfn.errors[arn(1)] = code
    put_lock(ddb, "L", {arn(1): holder(2, acquired_at="2000-01-01T00:00:00Z")})

    result = run(ddb, sfn)

    assert holders_of(lock(ddb, "L")) == {arn(1)}
    assert (result.released, result.kept, result.errors) == (0, 1, 1)
    assert code in result.problems[0]


def test_express_and_malformed_holder_names_are_never_described_nor_released(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    express = "arn:aws:states:us-east-1:123456789012:express:semaphore:e1:0f9a"
    put_lock(ddb, "L", {express: holder(1), "arn:not-an-execution": holder(1)})

    result = run(ddb, sfn, config(state_machine_arns=frozenset()))

    assert holders_of(lock(ddb, "L")) == {express, "arn:not-an-execution"}
    assert sfn.calls == []
    assert (result.released, result.kept, result.errors) == (0, 2, 2)


def test_an_express_holder_of_this_semaphore_is_released_by_the_lease_alone(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    express = "arn:aws:states:us-east-1:123456789012:express:semaphore:e1:0f9a"
    put_lock(ddb, "L", {express: holder(1)})

    young = run(ddb, sfn, config(lease_seconds=60), clock=FakeClock(T0 + 59_000))
    old = run(ddb, sfn, config(lease_seconds=60), clock=FakeClock(T0 + 61_000))

    assert (young.kept, old.released_by_lease) == (1, 1)
    assert holders_of(lock(ddb, "L")) == set()
    assert sfn.calls == []


# ----------------------------------------------------------------------------------------------------
# The lease
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("acquired_at", [ACQUIRED_AT_Z, ACQUIRED_AT_OFFSET, "2023-11-14T23:13:20.5+01:00"])
def test_the_lease_releases_an_unreadable_holder_once_it_is_old_enough(
    ddb: Any, sfn: FakeStepFunctions, acquired_at: str
) -> None:
    sfn.errors[arn(1)] = "ThrottlingException"
    put_lock(ddb, "L", {arn(1): holder(3, acquired_at=acquired_at)})
    lease = config(lease_seconds=600)

    early = run(ddb, sfn, lease, clock=FakeClock(T0 + 599_000))
    assert holders_of(lock(ddb, "L")) == {arn(1)}
    assert early.kept == 1

    late = run(ddb, sfn, lease, clock=FakeClock(T0 + 601_000))
    item = lock(ddb, "L")
    assert holders_of(item) == set()
    assert item["lockCount"] == {"N": "0"}
    assert (late.released, late.released_by_lease) == (1, 1)


def test_the_lease_never_releases_a_running_holder_nor_guesses_a_missing_age(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    sfn.statuses[arn(1)] = "RUNNING"
    sfn.errors[arn(2)] = "ThrottlingException"
    sfn.errors[arn(3)] = "ThrottlingException"
    put_lock(
        ddb,
        "L",
        {
            arn(1): holder(1, acquired_at="2000-01-01T00:00:00Z"),
            arn(2): holder(1, acquired_at="2000-01-01T00:00:00"),  # no zone: its age would be a guess
            arn(3): {"M": {"weight": {"N": "1"}}},  # no acquiredAt at all
        },
    )

    result = run(ddb, sfn, config(lease_seconds=1), clock=FakeClock(T0 + 10**9))

    assert holders_of(lock(ddb, "L")) == {arn(1), arn(2), arn(3)}
    assert (result.released, result.kept) == (0, 3)


# ----------------------------------------------------------------------------------------------------
# Many lock items, the budget and the cursor
# ----------------------------------------------------------------------------------------------------


def _many_locks(client: Any, sfn: FakeStepFunctions, count: int) -> None:
    """``count`` lock items, each with one ended holder (weight 2) and one running holder (weight 1)."""
    for n in range(count):
        ended, running = arn(f"{n}-ended"), arn(f"{n}-running")
        sfn.statuses[ended] = "ABORTED"
        sfn.statuses[running] = "RUNNING"
        put_lock(client, f"customer-{n:04d}", {ended: holder(2), running: holder(1)})


def _assert_all_swept(client: Any, count: int) -> None:
    items = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    assert len(items) == count
    for item in items:
        n = int(item[KEY]["S"].split("-")[1])
        assert holders_of(item) == {arn(f"{n}-running")}, item[KEY]
        assert item["lockCount"] == {"N": "1"}, item[KEY]


def test_a_sweep_covers_every_lock_item_across_scan_pages(ddb: Any, sfn: FakeStepFunctions) -> None:
    _many_locks(ddb, sfn, 250)  # three Scan pages of at most 100

    result = run(ddb, sfn)

    assert (result.scanned, result.released, result.kept, result.complete) == (250, 250, 250, True)
    _assert_all_swept(ddb, 250)


def test_the_item_budget_stops_a_run_and_the_next_run_continues_where_it_stopped(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    _many_locks(ddb, sfn, 100)
    cursor = SweepCursor()
    runs = []
    while not (runs and runs[-1].complete):
        runs.append(run(ddb, sfn, config(max_items=30), cursor=cursor))
        assert len(runs) <= 5, "the sweep must finish in ceil(100 / 30) runs"

    assert [r.scanned for r in runs] == [30, 30, 30, 10], "no item twice, none skipped"
    assert [r.complete for r in runs] == [False, False, False, True]
    assert sum(r.released for r in runs) == 100
    _assert_all_swept(ddb, 100)
    assert cursor == SweepCursor(), "a complete sweep starts the next one from the beginning"


def test_the_time_budget_stops_a_run_early(ddb: Any, sfn: FakeStepFunctions) -> None:
    _many_locks(ddb, sfn, 20)
    slow = FakeClock(step_ms=1_000)  # every look at the clock is one second later

    result = run(ddb, sfn, clock=slow, max_ms=5_000)

    assert 0 < result.scanned < 20
    assert result.complete is False


def test_several_tables_are_swept_in_turn(ddb: Any, sfn: FakeStepFunctions) -> None:
    ddb.create_table(
        TableName="other-locks",
        KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sfn.statuses[arn(1)] = sfn.statuses[arn(2)] = "FAILED"
    put_lock(ddb, "L", {arn(1): holder(1)})
    ddb.put_item(TableName="other-locks", Item={"Id": {"S": "M"}, "lockCount": {"N": "4"}, arn(2): holder(4)})

    result = run(ddb, sfn, config(tables=(LockTable(TABLE, KEY), LockTable("other-locks", "Id"))))

    assert result.released == 2
    other = ddb.get_item(TableName="other-locks", Key={"Id": {"S": "M"}}, ConsistentRead=True)["Item"]
    assert holders_of(other) == set()
    assert other["lockCount"] == {"N": "0"}


# ----------------------------------------------------------------------------------------------------
# Index items and other state machines' holders
# ----------------------------------------------------------------------------------------------------


def test_index_items_of_executions_no_longer_running_are_deleted(ddb: Any, sfn: FakeStepFunctions) -> None:
    sfn.statuses[arn("ended")] = "ABORTED"
    sfn.statuses[arn("running")] = "RUNNING"
    sfn.errors[arn("unknown")] = "ThrottlingException"
    for name in ("ended", "running", "unknown", "gone"):
        ddb.put_item(TableName=TABLE, Item={KEY: {"S": arn(name)}, "lockName": {"S": "customer-1"}})

    result = run(ddb, sfn)

    left = {item[KEY]["S"] for item in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]}
    assert left == {arn("running"), arn("unknown")}
    assert result.index_items_deleted == 2


def test_holders_and_index_items_of_other_state_machines_are_left_alone(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    theirs = arn(1, machine="someone-else")
    sfn.statuses[theirs] = "ABORTED"
    put_lock(ddb, "L", {theirs: holder(1)})
    ddb.put_item(TableName=TABLE, Item={KEY: {"S": theirs}, "lockName": {"S": "L"}})

    result = run(ddb, sfn)

    assert holders_of(lock(ddb, "L")) == {theirs}
    assert lock(ddb, theirs)["lockName"] == {"S": "L"}
    assert sfn.calls == [], "another machine's executions are not even described"
    assert (result.released, result.kept, result.errors) == (0, 1, 0)

    shared = run(ddb, sfn, config(state_machine_arns=frozenset({MACHINE, OTHER_MACHINE})))
    assert shared.released == 1
    assert holders_of(lock(ddb, "L")) == set()


# ----------------------------------------------------------------------------------------------------
# Map iterations as holders: judged by their execution
# ----------------------------------------------------------------------------------------------------


def iteration(n: int | str, iteration_id: str) -> str:
    return f"{arn(n)}#{iteration_id}"


def test_an_iteration_holder_is_judged_by_its_execution_s_status(ddb: Any, sfn: FakeStepFunctions) -> None:
    sfn.statuses[arn("running")] = "RUNNING"
    sfn.statuses[arn("ended")] = "FAILED"
    holders = {
        iteration("running", "0.11"): holder(1),
        iteration("running", "1.22"): holder(2),
        iteration("ended", "0.33"): holder(3),
        iteration("gone", "4.44"): holder(4),  # Step Functions does not know its execution
        arn("running"): holder(1),
    }
    put_lock(ddb, "L", holders)

    result = run(ddb, sfn)

    item = lock(ddb, "L")
    assert holders_of(item) == {iteration("running", "0.11"), iteration("running", "1.22"), arn("running")}
    assert item["lockCount"] == {"N": "4"}
    assert (result.released, result.kept, result.errors) == (2, 3, 0)
    assert sorted(sfn.calls) == sorted([arn("running"), arn("ended"), arn("gone")]), (
        "described by execution ARN, once per execution, never by holder id"
    )


def test_an_iteration_holder_of_another_state_machine_is_left_alone(ddb: Any, sfn: FakeStepFunctions) -> None:
    theirs = f"{arn(1, machine='someone-else')}#0.1"
    sfn.statuses[arn(1, machine="someone-else")] = "ABORTED"
    put_lock(ddb, "L", {theirs: holder(1)})

    result = run(ddb, sfn)

    assert holders_of(lock(ddb, "L")) == {theirs} and sfn.calls == []
    assert (result.released, result.kept) == (0, 1)


def test_registry_and_per_holder_items_go_once_their_execution_has_ended(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    sfn.statuses[arn("running")] = "RUNNING"
    sfn.statuses[arn("ended")] = "TIMED_OUT"
    sfn.errors[arn("unknown")] = "ThrottlingException"
    keys = []
    for name in ("running", "ended", "unknown"):
        registry = {KEY: {"S": f"{arn(name)}#"}, "holders": {"SS": [arn(name), iteration(name, "0.1")]}}
        per_holder = {KEY: {"S": iteration(name, "0.1")}, "lockName": {"S": "L"}}
        for item in (registry, per_holder):
            ddb.put_item(TableName=TABLE, Item=item)
            keys.append(item[KEY]["S"])

    result = run(ddb, sfn)

    left = {item[KEY]["S"] for item in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]}
    assert left == {f"{arn('running')}#", iteration("running", "0.1"), f"{arn('unknown')}#"} | {
        iteration("unknown", "0.1")
    }
    assert result.index_items_deleted == 2
    assert sorted(set(sfn.calls)) == sorted([arn("running"), arn("ended"), arn("unknown")])
    assert len(sfn.calls) == 3, "one DescribeExecution per execution and run"


# ----------------------------------------------------------------------------------------------------
# Malformed items
# ----------------------------------------------------------------------------------------------------


def test_malformed_items_and_entries_are_counted_and_skipped_never_fatal(
    ddb: Any, sfn: FakeStepFunctions
) -> None:
    for name in ("not-a-map", "no-weight", "text-weight", "fraction-weight", "zero-weight", "good"):
        sfn.statuses[arn(name)] = "FAILED"
    sfn.statuses[arn("no-count")] = "FAILED"
    put_lock(
        ddb,
        "mixed",
        {
            arn("not-a-map"): {"S": "oops"},
            arn("no-weight"): {"M": {"acquiredAt": {"S": ACQUIRED_AT_Z}}},
            arn("text-weight"): {"M": {"weight": {"S": "2"}}},
            arn("fraction-weight"): holder("1.5"),
            arn("zero-weight"): holder(0),
            arn("good"): holder(2),
        },
        count=9,
    )
    # A holder on an item without lockCount: the write cannot subtract from nothing.
    ddb.put_item(TableName=TABLE, Item={KEY: {"S": "no-count"}, arn("no-count"): holder(1)})
    ddb.put_item(TableName=TABLE, Item={KEY: {"S": "just-a-name"}})
    ddb.put_item(TableName=TABLE, Item={KEY: {"S": arn("index-without-name")}})

    result = run(ddb, sfn)

    mixed = lock(ddb, "mixed")
    assert arn("good") not in mixed, "a good holder next to bad ones is still released"
    assert mixed["lockCount"] == {"N": "7"}
    bad = ("not-a-map", "no-weight", "text-weight", "fraction-weight", "zero-weight")
    assert holders_of(mixed) == {arn(n) for n in bad}
    assert holders_of(lock(ddb, "no-count")) == {arn("no-count")}
    assert result.released == 1
    assert result.errors == 6  # five bad entries, one failed release
    assert result.complete is True


# ----------------------------------------------------------------------------------------------------
# Racing releases
# ----------------------------------------------------------------------------------------------------


def _own_release(client: Any, name: str, holder_arn: str, weight: int) -> bool:
    """The semaphore's own release step (templates/semaphore.asl.json.tftpl); True if it released."""
    try:
        client.update_item(
            TableName=TABLE,
            Key={KEY: {"S": name}},
            UpdateExpression="ADD #count :negativeWeight, #version :one REMOVE #holder",
            ConditionExpression="attribute_exists(#holder)",
            ExpressionAttributeNames={"#count": "lockCount", "#version": "version", "#holder": holder_arn},
            ExpressionAttributeValues={":negativeWeight": {"N": str(-weight)}, ":one": {"N": "1"}},
        )
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return False
    return True


def _reaper_release(client: Any, name: str, holder_arn: str) -> bool:
    """The reaper's release (the same write as the sweeper's); True if it released."""
    try:
        client.update_item(**release_arguments(LockTable(TABLE, KEY), {KEY: {"S": name}}, holder_arn))
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
        return False
    return True


def test_racing_releases_give_each_slot_back_exactly_once(ddb: Any, sfn: FakeStepFunctions) -> None:
    """Two sweepers, the reaper and each execution's own release race on every holder of one lock.

    Each holder's weight must come back exactly once: the count ends at 0 (never below), and the number of
    writes that released equals the number of holders. Without the condition on the holder's existence,
    every racer would subtract the weight again.
    """
    atomic_dynamodb.apply()
    weights = {arn(n): 1 + n % 3 for n in range(24)}
    for holder_arn in weights:
        sfn.statuses[holder_arn] = "ABORTED"
    put_lock(ddb, "hot", {a: holder(w) for a, w in weights.items()})
    released: list[str] = []
    results: list[SweepResult] = []
    failures: list[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(4)

    def racer(kind: str) -> None:
        try:
            client = boto3.client("dynamodb")
            start.wait()
            if kind == "sweeper":
                result = run(client, sfn)
                with guard:
                    results.append(result)
                return
            for holder_arn, weight in weights.items():
                if kind == "own":
                    won = _own_release(client, "hot", holder_arn, weight)
                else:
                    won = _reaper_release(client, "hot", holder_arn)
                if won:
                    with guard:
                        released.append(holder_arn)
        except BaseException as error:  # reported below, from the main thread
            failures.append(error)

    threads = [threading.Thread(target=racer, args=(k,)) for k in ("sweeper", "sweeper", "own", "reaper")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    item = lock(ddb, "hot")
    assert item["lockCount"] == {"N": "0"}
    assert holders_of(item) == set()
    swept = sum(r.released for r in results)
    assert len(released) + swept == len(weights), "every holder released exactly once"
    assert len(set(released)) == len(released)


def test_a_second_sweep_finds_nothing_left_to_release(ddb: Any, sfn: FakeStepFunctions) -> None:
    sfn.statuses[arn(1)] = "TIMED_OUT"
    put_lock(ddb, "L", {arn(1): holder(2)}, count=2)

    first, second = run(ddb, sfn), run(ddb, sfn)

    assert (first.released, second.released) == (1, 0)
    assert lock(ddb, "L")["lockCount"] == {"N": "0"}


# ----------------------------------------------------------------------------------------------------
# Through the handler, with moto's Step Functions
# ----------------------------------------------------------------------------------------------------


def test_the_handler_sweeps_with_real_execution_statuses(
    ddb: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = boto3.client("stepfunctions")
    definition = '{"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": true}}}'
    machine = sfn.create_state_machine(
        name="semaphore", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    running = sfn.start_execution(stateMachineArn=machine, name="running")["executionArn"]
    stopped = sfn.start_execution(stateMachineArn=machine, name="stopped")["executionArn"]
    sfn.stop_execution(executionArn=stopped)
    never = machine.replace(":stateMachine:", ":execution:") + ":never-started"
    put_lock(ddb, "L", {running: holder(1), stopped: holder(2), never: holder(1)})
    ddb.put_item(TableName=TABLE, Item={KEY: {"S": stopped}, "lockName": {"S": "L"}})
    monkeypatch.setenv("LOCK_TABLES", '{"locks": "LockName"}')
    monkeypatch.setenv("STATE_MACHINE_ARNS", f'["{machine}"]')
    monkeypatch.setenv("LOCK_LEASE_SECONDS", "")
    monkeypatch.setenv("METRICS_NAMESPACE", "SfnSemaphore")
    monkeypatch.setenv("METRICS_SEMAPHORE", "semaphore")
    monkeypatch.setattr(handler, "cursor", SweepCursor())
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)

    response = handler.lambda_handler({"source": "aws.events", "detail": {}}, context)
    printed = emf.documents(capsys.readouterr().out.splitlines())

    assert response == {
        "scanned": 2,
        "released": 2,
        "releasedByLease": 0,
        "kept": 1,
        "alreadyReleased": 0,
        "indexItemsDeleted": 1,
        "waitersRemoved": 0,
        "errors": 0,
        "complete": True,
        "problems": [],
    }
    item = lock(ddb, "L")
    assert holders_of(item) == {running}
    assert item["lockCount"] == {"N": "1"}
    (metrics,) = printed  # one Embedded Metric Format line per run
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SfnSemaphore"
    assert {k: metrics[k] for k in ("Semaphore", "SlotsReclaimed", "WaitersRemoved", "SweepErrors")} == {
        "Semaphore": "semaphore",
        "SlotsReclaimed": 2,
        "WaitersRemoved": 0,
        "SweepErrors": 0,
    }
    assert metrics["SweepsIncomplete"] == 0


def test_the_handler_leaves_no_time_budget_when_the_invocation_is_nearly_over(
    ddb: Any, sfn: FakeStepFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    _many_locks(ddb, sfn, 3)
    monkeypatch.setenv("LOCK_TABLES", '{"locks": "LockName"}')
    monkeypatch.setattr(handler, "get_sfn_client", lambda: sfn)
    monkeypatch.setattr(handler, "cursor", SweepCursor())
    almost_over = SimpleNamespace(get_remaining_time_in_millis=lambda: handler.SAFETY_MARGIN_MS - 1)

    response = handler.lambda_handler({}, almost_over)

    assert (response["scanned"], response["complete"]) == (0, False)
    assert handler.cursor == SweepCursor(), "nothing read, so the next run starts at the same place"


def test_configuration_errors_name_the_setting(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> None:
    from semaphore_core.errors import ConfigurationError

    for env, message in itertools.chain(
        [({}, "LOCK_TABLES is not set")],
        [({"LOCK_TABLES": "[]"}, "JSON object")],
        [({"LOCK_TABLES": '{"t!": "K"}'}, "not a valid table/key pair")],
        [({"LOCK_TABLES": '{"locks": "K"}', "STATE_MACHINE_ARNS": '["arn:nope"]'}, "not state machine")],
        [({"LOCK_TABLES": '{"locks": "K"}', "LOCK_LEASE_SECONDS": "-5"}, "LOCK_LEASE_SECONDS")],
        [
            (
                {"LOCK_TABLES": '{"locks": "K"}', "QUEUE_RELEASE_FUNCTION": "no spaces"},
                "QUEUE_RELEASE_FUNCTION",
            )
        ],
    ):
        with pytest.raises(ConfigurationError, match=message):
            SweeperConfig.from_environment(env)
