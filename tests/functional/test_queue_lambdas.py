"""Queue mode's functions through their real handlers, on moto's DynamoDB in this process.

DynamoDB is moto with the local AWS's patches: each request runs alone, as single-item writes do on AWS,
and an update is judged by the size of the item it leaves. Step Functions is a fake that records
SendTaskSuccess/SendTaskFailure, answers like the service for dead tokens, and tells the status of
executions, so a test can stop one or lose its token.

Every successful write of the lock item is recorded (every write bumps the item's version, and each write is
conditioned on what it read), so the tests check the whole chain of states, not only the end: never over the
limit, count equal to the holders' weights, never a head that fits left waiting, the queue in arrival order,
grants only to its head, nobody lost.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from queue_acquire import handler as acquire_handler
from queue_release import handler as release_handler
from semaphore_core import dynamo, stepfunctions
from semaphore_core.capacity import MAX_EXECUTION_ARN_LENGTH, max_queue_length_for
from semaphore_core.clock import iso8601_utc, system_clock_ms
from semaphore_core.config import LockTableConfig
from semaphore_core.errors import (
    InvalidEventError,
    LockContentionError,
    SemaphoreQueueFullError,
    WarmupTooSoonError,
)
from semaphore_core.execution_item import put_execution_item
from semaphore_core.lock_item import execution_of, iteration_holder, registry_key_name
from semaphore_core.queue import QueueLock, Waiter, join
from semaphore_core.queue import release as release_and_settle
from semaphore_core.queue_store import build_put, parse_queue_lock, transact
from sweeper.config import LockTable, SweeperConfig
from sweeper.logic import QueueReleaseError, SweepCursor, sweep

import localaws.patches.dynamodb as atomic_dynamodb
import localaws.patches.dynamodb_item_size as item_size
from harness import emf

TABLE = "locks"
LOCK = "render-farm"
T0 = 1_700_000_000_000


def arn(n: int | str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:queue-machine:e{n}"


# --- fakes -----------------------------------------------------------------------------------------------


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeStepFunctions:
    """Tokens belong to holders (executions, or Map iterations: their holder ids); a token answers once; a
    token of a holder whose execution is not running is invalid. Statuses are the executions' (asked about an
    iteration holder's id, DescribeExecution answers ExecutionDoesNotExist, as the service does).
    ``on_success`` lets a test act just before a SendTaskSuccess is answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: dict[str, str] = {}
        self.live: set[str] = set()
        self.status: dict[str, str] = {}
        self.successes: list[tuple[str, str, dict[str, Any]]] = []
        self.failures: list[tuple[str, str, str]] = []
        self.resumed: dict[str, threading.Event] = {}
        self.on_success: Callable[[str], None] | None = None
        #: Every Step Functions API the functions called (SendTaskSuccess, ...).
        self.operations: set[str] = set()

    def new_token(self, execution_arn: str) -> str:
        with self.lock:
            token = f"token-{len(self.owner)}-{execution_arn[-12:]}"
            for old, owner in self.owner.items():
                if owner == execution_arn:
                    self.live.discard(old)  # the task timed out and was retried: its old token is dead
            self.owner[token] = execution_arn
            self.live.add(token)
            self.status.setdefault(execution_of(execution_arn), "RUNNING")
            self.resumed.setdefault(execution_arn, threading.Event())
            return token

    def stop(self, execution_arn: str) -> None:
        """StopExecution: the execution and every one of its iterations."""
        with self.lock:
            self.status[execution_arn] = "ABORTED"
            self.live -= {t for t, owner in self.owner.items() if execution_of(owner) == execution_arn}

    def _answer(self, token: str, operation: str) -> str:
        owner = self.owner.get(token)
        if owner is None or self.status.get(execution_of(owner)) != "RUNNING":
            raise client_error("InvalidToken", operation)
        if token not in self.live:
            raise client_error("TaskTimedOut", operation)
        self.live.discard(token)
        return owner

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("SendTaskSuccess")
        if self.on_success is not None:
            self.on_success(kwargs["taskToken"])
        with self.lock:
            owner = self._answer(kwargs["taskToken"], "SendTaskSuccess")
            self.successes.append((owner, kwargs["taskToken"], json.loads(kwargs["output"])))
        self.resumed[owner].set()
        return {}

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("SendTaskFailure")
        with self.lock:
            owner = self._answer(kwargs["taskToken"], "SendTaskFailure")
            self.failures.append((owner, kwargs["taskToken"], kwargs["error"]))
        return {}

    def describe_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("DescribeExecution")
        status = self.status.get(kwargs["executionArn"])
        if status is None:
            raise client_error("ExecutionDoesNotExist", "DescribeExecution")
        return {"executionArn": kwargs["executionArn"], "status": status}

    def resumed_arns(self) -> list[str]:
        return [owner for owner, _, _ in self.successes]


class RecordingDynamoDB:
    """The real (moto) client; every successful write of a lock item is kept with the item written."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.writes: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        #: Called once after the next read of the lock item: another writer slipping in before the write.
        self.after_next_lock_read: Callable[[], None] | None = None
        #: Called once before the next write of a lock item reaches DynamoDB.
        self.before_next_lock_write: Callable[[], None] | None = None
        #: Called with the execution ARN of every read of a per-execution item, when it starts.
        self.on_execution_read: Callable[[str], None] = lambda _arn: None
        #: The next write of a lock item is applied, but its answer is lost: the client sends it again, as
        #: botocore does after a timeout, and returns what the copy gets (its condition fails).
        self.send_next_lock_write_twice = False
        #: GetItem calls on lock items (not per-execution items).
        self.lock_reads = 0
        #: Every DynamoDB API the functions called (GetItem, ...).
        self.operations: set[str] = set()

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("GetItem")
        key = kwargs["Key"]["LockName"]["S"]
        if key.startswith("arn:"):
            self.on_execution_read(key)
        response = dict(self.client.get_item(**kwargs))
        if not key.startswith("arn:"):
            self.lock_reads += 1
            hook = self.after_next_lock_read
            if hook is not None:
                self.after_next_lock_read = None
                hook()
        return response

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("PutItem")
        is_lock = not kwargs["Item"]["LockName"]["S"].startswith("arn:")
        if is_lock:
            self._before_lock_write()
        response = dict(self.client.put_item(**kwargs))
        if is_lock:
            with self._lock:
                self.writes.append(kwargs["Item"])
            if self._send_twice():
                return dict(self.client.put_item(**kwargs))
        return response

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("UpdateItem")
        is_lock = not kwargs["Key"]["LockName"]["S"].startswith("arn:")
        if is_lock:
            self._before_lock_write()
        response = dict(self.client.update_item(**kwargs))
        if is_lock:
            assert kwargs.get("ReturnValues") == "ALL_NEW", "every lock update returns the item it wrote"
            with self._lock:
                self.writes.append(response["Attributes"])
            if self._send_twice():
                return dict(self.client.update_item(**kwargs))
        return response

    def _send_twice(self) -> bool:
        again, self.send_next_lock_write_twice = self.send_next_lock_write_twice, False
        return again

    def _before_lock_write(self) -> None:
        hook = self.before_next_lock_write
        if hook is not None:
            self.before_next_lock_write = None
            hook()

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        self.operations.add("DeleteItem")
        return dict(self.client.delete_item(**kwargs))

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        return dict(self.client.scan(**kwargs))

    def chain(self, lock_name: str = LOCK) -> list[QueueLock]:
        """The lock's states in version order, starting from the empty lock; fails on a gap or a repeat."""
        items = sorted(
            (w for w in self.writes if w["LockName"]["S"] == lock_name), key=lambda w: int(w["version"]["N"])
        )
        versions = [int(item["version"]["N"]) for item in items]
        assert versions == list(range(1, len(items) + 1)), f"versions are not one chain: {versions}"
        return [QueueLock(), *(parse_queue_lock(item).lock for item in items)]


@dataclass
class World:
    ddb: RecordingDynamoDB
    sfn: FakeStepFunctions
    raw: Any
    monkeypatch: pytest.MonkeyPatch
    tokens: dict[str, str] = field(default_factory=dict)

    def set_limit(self, limit: int, tps_limit: float | None = None) -> None:
        """The release function's configuration (the root module sets it from concurrency_limit)."""
        self.monkeypatch.setenv("SEMAPHORE_LIMIT", str(limit))
        self.monkeypatch.setenv("SEMAPHORE_TPS_LIMIT", "" if tps_limit is None else str(tps_limit))

    def acquire(
        self,
        execution_arn: str,
        weight: int = 1,
        limit: int | None = None,
        arrived_at: int | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """The acquire task's call; ``arrived_at`` (epoch ms): the state's entered time (None: left out)."""
        token = self.sfn.new_token(execution_arn)
        self.tokens[execution_arn] = token
        event = {
            "lockName": LOCK,
            "executionArn": execution_arn,
            "weight": weight,
            "limit": limit if limit is not None else int(os.environ["SEMAPHORE_LIMIT"]),
            "tpsLimit": None,
            "maxQueueLength": 1000,
            "taskToken": token,
            **({} if arrived_at is None else {"arrivedAt": iso8601_utc(arrived_at)}),
            **overrides,
        }
        return retry_contention(lambda: acquire_handler.lambda_handler(event, None))

    def release(
        self, execution_arn: str, lock_name: str | None = LOCK, ended: bool | None = None
    ) -> dict[str, Any]:
        """The release state's call, or with ``ended`` the status-change rule's for an ended execution."""
        event: dict[str, Any] = {"lockName": lock_name, "executionArn": execution_arn}
        if ended is not None:
            event["ended"] = ended
        return retry_contention(lambda: release_handler.lambda_handler(event, None))

    def lock(self, lock_name: str = LOCK) -> QueueLock:
        item = self.raw.get_item(TableName=TABLE, Key={"LockName": {"S": lock_name}}, ConsistentRead=True)
        return parse_queue_lock(item.get("Item")).lock

    def registry(self, execution_arn: str) -> set[str] | None:
        """The holder ids in the execution's registry; None when it has none."""
        item = self.execution_item(registry_key_name(execution_arn))
        return None if item is None else set(item["holders"]["SS"])

    def execution_item(self, execution_arn: str) -> dict[str, Any] | None:
        key = {"LockName": {"S": execution_arn}}
        item: dict[str, Any] | None = self.raw.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item


def retry_contention(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What the state machine's Retry does with LockContentionError."""
    for _ in range(50):
        try:
            return call()
        except LockContentionError:
            time.sleep(0.01)
    raise AssertionError("still contended after 50 attempts")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    atomic_dynamodb.apply()
    item_size.apply()
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("LOCK_TABLE_NAME", TABLE)
    monkeypatch.setenv("LOCK_ID_ATTRIBUTE", "LockName")
    monkeypatch.setenv("SEMAPHORE_LIMIT", "4")
    monkeypatch.setenv("SEMAPHORE_TPS_LIMIT", "")
    with mock_aws():
        raw = boto3.client("dynamodb")
        raw.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "LockName", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockName", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        recording = RecordingDynamoDB(raw)
        fake = FakeStepFunctions()
        monkeypatch.setattr(dynamo, "get_client", lambda: recording)
        monkeypatch.setattr(stepfunctions, "get_client", lambda: fake)
        yield World(ddb=recording, sfn=fake, raw=raw, monkeypatch=monkeypatch)


def check_chain(chain: list[QueueLock], limit: int) -> tuple[list[str], list[str]]:
    """Checks every recorded state and step; returns (executions in the order they first appeared, grant
    order)."""
    arrivals: list[str] = []
    grants: list[str] = []
    for before, after in itertools.pairwise(chain):
        assert after.count <= limit, after
        assert after.count == sum(h.weight for h in after.holders.values()), after
        if after.queue:
            assert after.count + after.queue[0].weight > limit, f"a head that fits was left waiting: {after}"
        times = [w.arrived_at for w in after.queue]
        assert times == sorted(times), f"the queue is not in arrival order: {after.queue}"
        known = set(before.holders) | {w.execution_arn for w in before.queue}
        queued = [w for w in after.queue if w.execution_arn not in known]
        new = [w.execution_arn for w in queued] + [a for a in after.holders if a not in known]
        assert len(new) <= 1, f"one write enqueued several executions: {new}"
        arrivals += new
        granted = [a for a in after.holders if a not in before.holders]
        # Grants are heads of the queue as it stood, without the waiters that left it ungranted (released),
        # with the newcomer in its place by arrival (one granted at once went first), in order.
        still_queued = {w.execution_arn for w in after.queue}
        line_waiters = tuple(
            w for w in before.queue if w.execution_arn in still_queued or w.execution_arn in after.holders
        )
        for waiter in queued:
            line_waiters = join(line_waiters, waiter)
        line = [w.execution_arn for w in line_waiters]
        if new and not queued:
            line.insert(0, new[0])
        assert granted == line[: len(granted)] or sorted(granted) == sorted(line[: len(granted)]), (
            f"granted {granted}, but the queue was {line}"
        )
        grants += line[: len(granted)]
    return arrivals, grants


# --- concurrency -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [(1,), (1, 2)], ids=["weight-1", "weights-1-and-2"])
def test_concurrent_acquirers_and_releasers_keep_every_invariant(
    world: World, weights: tuple[int, ...]
) -> None:
    limit = 4
    executions = 32
    rng = random.Random(len(weights))
    weight_of = {arn(n): rng.choice(weights) for n in range(executions)}
    start = threading.Barrier(8)
    held_at_once: list[int] = []
    holding: set[str] = set()
    guard = threading.Lock()
    errors: list[BaseException] = []
    # Arrival times in a random order unrelated to the order the calls run in: a call often reaches the lock
    # after executions that arrived later, and must take its place ahead of them (tested exactly elsewhere).
    arrival_of = dict(
        zip(weight_of, (T0 + n for n in rng.sample(range(executions), executions)), strict=True)
    )

    def run(names: list[str]) -> None:
        try:
            start.wait()
            for name in names:
                arrived = arrival_of[name]
                world.acquire(name, weight=weight_of[name], limit=limit, arrived_at=arrived)
                assert world.sfn.resumed[name].wait(20), f"{name} was never resumed"
                with guard:
                    holding.add(name)
                    held_at_once.append(sum(weight_of[h] for h in holding))
                time.sleep(rng.random() * 0.003)
                with guard:
                    holding.discard(name)
                world.release(name)
        except BaseException as error:
            errors.append(error)

    names = list(weight_of)
    threads = [threading.Thread(target=run, args=(names[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[0]

    arrivals, _grants = check_chain(world.ddb.chain(), limit)
    assert sorted(arrivals) == sorted(names), "every execution queued or was granted exactly once"
    assert max(held_at_once) <= limit
    assert sorted(world.sfn.resumed_arns()) == sorted(names), "each execution resumed exactly once"
    final = world.lock()
    assert final.count == 0 and not final.holders and not final.queue
    assert all(world.execution_item(name) is None for name in names), "per-execution items left behind"


def test_weighted_waiters_are_never_overtaken(world: World) -> None:
    world.acquire(arn(0), weight=3)
    world.acquire(arn(1), weight=2)  # does not fit (3 + 2 > 4): waits
    world.acquire(arn(2), weight=1)  # would fit, but must not overtake
    assert world.lock().queue == (
        Waiter(arn(1), 2, world.lock().queue[0].arrived_at),
        Waiter(arn(2), 1, world.lock().queue[1].arrived_at),
    )
    assert world.sfn.resumed_arns() == [arn(0)]
    world.release(arn(0))
    assert world.sfn.resumed_arns() == [arn(0), arn(1), arn(2)]
    assert world.lock().count == 3


# --- resumes that fail -----------------------------------------------------------------------------------


def test_a_stopped_waiter_s_grant_goes_to_the_next_one(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    world.acquire(arn(2))
    world.sfn.stop(arn(1))  # StopExecution while queued; no reaper ran

    result = world.release(arn(0))

    assert result["dropped"] == [arn(1)]
    assert result["resumed"] == [arn(2)]
    lock = world.lock()
    assert set(lock.holders) == {arn(2)} and lock.count == 1 and not lock.queue
    assert world.execution_item(arn(1)) is None, "the ended execution's item is cleaned up"


def test_a_token_replaced_by_a_re_check_is_used_instead(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    stale = world.tokens[arn(1)]

    def re_check_starts(token: str) -> None:
        # The waiting task timed out just now: its retried acquire has written its new token (its first
        # step) but not yet looked at the lock when the resume with the old token lands.
        if token == stale:
            world.sfn.on_success = None
            world.tokens[arn(1)] = world.sfn.new_token(arn(1))
            put_execution_item(world.ddb, LockTableConfig(TABLE), arn(1), LOCK, world.tokens[arn(1)])

    world.sfn.on_success = re_check_starts
    result = world.release(arn(0))

    assert result["resumed"] == [arn(1)]
    assert world.sfn.successes[-1][:2] == (arn(1), world.tokens[arn(1)])
    assert world.tokens[arn(1)] != stale


def test_a_re_check_racing_with_the_resume_resumes_exactly_once(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    stale = world.tokens[arn(1)]

    def re_check_runs(token: str) -> None:
        if token == stale:  # the whole retried acquire runs before the old token's resume lands
            world.sfn.on_success = None
            world.acquire(arn(1))

    world.sfn.on_success = re_check_runs
    result = world.release(arn(0))

    assert result["granted"] == [arn(1)] and result["dropped"] == []
    assert world.sfn.resumed_arns() == [arn(0), arn(1)], "resumed once, by its own re-check"
    assert world.lock().count == 1


def test_a_lost_resume_is_recovered_by_the_re_check(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    world.raw.delete_item(TableName=TABLE, Key={"LockName": {"S": arn(1)}})  # its token is lost

    result = world.release(arn(0))
    assert result["granted"] == [arn(1)] and result["resumed"] == []
    assert not world.sfn.resumed[arn(1)].is_set(), "nothing to resume it with"
    assert set(world.lock().holders) == {arn(1)}, "but the slot is its own, not handed on"

    again = world.acquire(arn(1))  # the waiting task's timeout: a retried acquire

    assert again["alreadyHeld"] and again["status"] == "holding"
    owner, token, output = world.sfn.successes[-1]
    assert (owner, token) == (arn(1), world.tokens[arn(1)])
    assert output["alreadyHeld"] is True and output["granted"] is True
    assert world.lock().count == 1, "not counted twice"


def test_a_re_check_while_queued_keeps_the_place(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    world.acquire(arn(2))
    again = world.acquire(arn(1))
    assert again["status"] == "queued" and again["position"] == 0 and again["version"] == 3
    assert [w.execution_arn for w in world.lock().queue] == [arn(1), arn(2)]
    assert world.execution_item(arn(1))["taskToken"]["S"] == world.tokens[arn(1)]


def test_a_throttled_resume_leaves_the_grant_to_the_waiter_s_re_check(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))

    def throttled(token: str) -> None:
        world.sfn.on_success = None
        raise client_error("ThrottlingException", "SendTaskSuccess")

    world.sfn.on_success = throttled
    result = world.release(arn(0))

    assert result["granted"] == [arn(1)] and result["resumed"] == [] and result["dropped"] == []
    assert set(world.lock().holders) == {arn(1)}, "the slot stays granted to the waiter"
    again = world.acquire(arn(1))
    assert again["alreadyHeld"] and world.sfn.resumed_arns() == [arn(0), arn(1)]


def test_an_arrival_settles_a_head_left_waiting_by_a_pure_decrement(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    # The sweeper (or a poll-mode writer) gives arn(0)'s slot back without settling the queue.
    world.raw.update_item(
        TableName=TABLE,
        Key={"LockName": {"S": LOCK}},
        UpdateExpression="SET lockCount = lockCount - :one REMOVE #holder ADD version :one",
        ExpressionAttributeNames={"#holder": arn(0)},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert world.lock().queue and world.lock().count == 0, "a fitting head, idle"

    world.acquire(arn(2))  # the next arrival's append shows the idle head: it settles

    assert world.sfn.resumed_arns() == [arn(0), arn(1)]
    lock = world.lock()
    assert set(lock.holders) == {arn(1)} and [w.execution_arn for w in lock.queue] == [arn(2)]


# --- arrival order and targeted writes -------------------------------------------------------------------


def test_a_slow_call_is_queued_by_when_its_execution_arrived(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 10)
    world.acquire(arn(2), arrived_at=T0 + 20)
    world.acquire(arn(3), arrived_at=T0 + 5)  # entered the acquire state before e1, its call ran last

    assert [w.execution_arn for w in world.lock().queue] == [arn(3), arn(1), arn(2)]
    for _ in range(3):
        world.release(world.sfn.resumed_arns()[-1])
    assert world.sfn.resumed_arns() == [arn(0), arn(3), arn(1), arn(2)]


def test_arrivals_joining_the_tail_do_not_make_a_release_lose_its_race(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)

    def arrivals_slip_in() -> None:  # between the release's read and its write
        world.acquire(arn(2), arrived_at=T0 + 2)
        world.acquire(arn(3), arrived_at=T0 + 3)

    world.ddb.after_next_lock_read = arrivals_slip_in
    result = world.release(arn(0))

    assert result["attempts"] == 1, "one read and one write, although the item changed in between"
    assert result["granted"] == [arn(1)] and result["resumed"] == [arn(1)]
    lock = world.lock()
    assert set(lock.holders) == {arn(1)} and [w.execution_arn for w in lock.queue] == [arn(2), arn(3)]
    check_chain(world.ddb.chain(), 1)


def test_a_release_that_saw_no_waiter_sees_one_that_joined_before_its_write(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    # The newcomer finds the lock full and joins the queue after the release read it, before it wrote:
    # the release must not free the slot past it.
    world.ddb.after_next_lock_read = lambda: world.acquire(arn(1), arrived_at=T0 + 1)

    result = world.release(arn(0))

    assert result["attempts"] == 2 and result["granted"] == [arn(1)]
    assert set(world.lock().holders) == {arn(1)} and world.sfn.resumed_arns() == [arn(0), arn(1)]


def test_a_release_racing_with_another_release_grants_each_waiter_once(world: World) -> None:
    world.set_limit(2)
    for n in range(4):
        world.acquire(arn(n), arrived_at=T0 + n)
    world.ddb.after_next_lock_read = lambda: world.release(arn(1))  # both would grant the head, e2
    reads_before = world.ddb.lock_reads

    result = world.release(arn(0))

    assert result["attempts"] == 2 and result["granted"] == [arn(3)]
    # One read by this release and one by the other: the lost write returned the item it found.
    assert world.ddb.lock_reads - reads_before == 2
    assert sorted(world.sfn.resumed_arns()) == sorted([arn(0), arn(1), arn(2), arn(3)])
    lock = world.lock()
    assert set(lock.holders) == {arn(2), arn(3)} and lock.count == 2 and not lock.queue
    check_chain(world.ddb.chain(), 2)


def test_a_release_reads_the_granted_waiter_s_token_while_it_writes_the_grant(world: World) -> None:
    """The handoff waits for the write and the token read side by side, not one after the other."""
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)
    token_read = threading.Event()
    world.ddb.on_execution_read = lambda key: token_read.set() if key == arn(1) else None
    read_during_write: list[bool] = []
    world.ddb.before_next_lock_write = lambda: read_during_write.append(token_read.wait(timeout=5))

    result = world.release(arn(0))

    assert read_during_write == [True]
    assert result["granted"] == result["resumed"] == [arn(1)]
    assert world.sfn.resumed_arns() == [arn(0), arn(1)]


def test_a_token_read_for_a_grant_that_lost_its_race_resumes_nobody(world: World) -> None:
    world.set_limit(1)
    for n in range(3):
        world.acquire(arn(n), arrived_at=T0 + n)
    # e1 is stopped, and the sweeper's release removes it from the queue between this release's read and
    # its write: the first decision granted e1 (and started reading its token) for nothing.
    world.sfn.stop(arn(1))
    world.ddb.after_next_lock_read = lambda: world.release(arn(1))

    result = world.release(arn(0))

    assert result["attempts"] == 2 and result["granted"] == result["resumed"] == [arn(2)]
    assert world.sfn.resumed_arns() == [arn(0), arn(2)]
    lock = world.lock()
    assert set(lock.holders) == {arn(2)} and not lock.queue


def test_a_grant_whose_write_was_sent_twice_still_resumes_the_grantee(world: World) -> None:
    """The release's write is applied but answered as a failed condition (its request went twice): the
    grant stands, so the release must resume the grantee, not decide again and leave it to its re-check."""
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)
    world.ddb.send_next_lock_write_twice = True

    result = world.release(arn(0))

    assert result["released"] and result["granted"] == result["resumed"] == [arn(1)]
    assert world.sfn.resumed_arns() == [arn(0), arn(1)]
    lock = world.lock()
    assert set(lock.holders) == {arn(1)} and lock.count == 1 and not lock.queue
    check_chain(world.ddb.chain(), 1)


def test_a_last_attempt_whose_write_was_sent_twice_is_not_reported_as_lost(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)
    world.ddb.send_next_lock_write_twice = True

    # A single attempt: its write is applied, then answered as a failed condition.
    committed = transact(
        world.ddb,
        LockTableConfig(TABLE),
        LOCK,
        lambda lock, now: release_and_settle(lock, arn(0), 1, None, now),
        system_clock_ms,
        time.sleep,
        max_attempts=1,
    )

    assert committed.written and [w.execution_arn for w in committed.outcome.granted] == [arn(1)]
    assert set(world.lock().holders) == {arn(1)}


def test_an_acquire_whose_write_was_sent_twice_is_queued_once(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(2), arrived_at=T0 + 2)
    world.ddb.send_next_lock_write_twice = True  # the read-modify-write placing e1 ahead of e2

    result = world.acquire(arn(1), arrived_at=T0 + 1)

    assert result["status"] == "queued" and result["position"] == 0
    assert [w.execution_arn for w in world.lock().queue] == [arn(1), arn(2)]


# --- permissions ------------------------------------------------------------------------------------------

QUEUE_MODULE = Path(__file__).resolve().parents[2] / "modules" / "queue-lambdas" / "main.tf"


def granted_actions(sid: str) -> set[str]:
    """The actions of the queue functions' policy statement ``sid``, read from the module's HCL."""
    found = re.search(rf'sid\s*=\s*"{sid}"\s*actions\s*=\s*\[([^\]]*)\]', QUEUE_MODULE.read_text())
    assert found is not None, f"no statement {sid} in {QUEUE_MODULE}"
    return set(re.findall(r'"([a-z]+:[A-Za-z]+)"', found.group(1)))


def test_the_queue_functions_role_allows_every_call_they_make(world: World) -> None:
    """moto does not enforce IAM: this ties the calls the functions make to what their role allows."""
    world.set_limit(1, tps_limit=50)
    world.acquire(arn(0), arrived_at=T0, tpsLimit=50)  # granted at once
    world.acquire(arn(2), arrived_at=T0 + 2, tpsLimit=50)  # appended
    world.acquire(arn(1), arrived_at=T0 + 1, tpsLimit=50)  # placed ahead by read-modify-write
    world.acquire(arn(3), arrived_at=T0 + 3, tpsLimit=50)
    world.sfn.stop(arn(1))
    world.release(arn(0))  # targeted write; e1's dead token: described, its grant passed on to e2
    world.release(arn(3), lock_name=None)  # a waiter leaving from the middle: the whole item
    world.release(arn(2))
    used = {f"dynamodb:{op}" for op in world.ddb.operations} | {f"states:{op}" for op in world.sfn.operations}
    allowed = (
        granted_actions("LockTable")
        | granted_actions("TaskCallbacks")
        | granted_actions("DescribeExecutions")
    )
    assert {"dynamodb:UpdateItem", "dynamodb:PutItem", "states:DescribeExecution"} <= used, used
    assert used <= allowed, f"called but not allowed: {sorted(used - allowed)}"


# --- the sweeper in queue mode ----------------------------------------------------------------------------


def sweep_queue_mode(world: World) -> dict[str, Any]:
    """One sweep of the table, releasing through the real queue release handler, as the deployed sweeper
    does through its function."""

    def queue_release(lock_name: str, execution_arn: str) -> dict[str, Any]:
        try:
            return world.release(execution_arn, lock_name=lock_name)
        except Exception as error:  # the deployed sweeper sees the function's error (FunctionError)
            raise QueueReleaseError(f"{type(error).__name__}: {error}") from error

    config = SweeperConfig(tables=(LockTable(TABLE, "LockName"),), queue_release_function="queue-release")
    result = sweep(world.ddb, world.sfn, lambda: T0, config, SweepCursor(), queue_release=queue_release)
    return result.to_response()


def test_the_sweeper_hands_an_ended_holder_s_slot_to_the_next_waiter(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)
    world.sfn.stop(arn(0))  # stopped while holding; its status event was lost

    swept = sweep_queue_mode(world)

    assert swept["released"] == 1 and swept["errors"] == 0, swept
    assert world.sfn.resumed_arns() == [arn(0), arn(1)], "the next waiter got the slot and was resumed"
    lock = world.lock()
    assert set(lock.holders) == {arn(1)} and lock.count == 1 and not lock.queue
    again = sweep_queue_mode(world)
    assert again["released"] == 0 and again["kept"] == 1, "the running holder is left alone"


def test_the_sweeper_removes_ended_waiters_from_the_queue(world: World) -> None:
    world.set_limit(1)
    for n in range(4):
        world.acquire(arn(n), arrived_at=T0 + n)
    world.sfn.stop(arn(1))
    world.sfn.stop(arn(3))

    swept = sweep_queue_mode(world)

    assert swept["waitersRemoved"] == 2 and swept["released"] == 0 and swept["errors"] == 0, swept
    lock = world.lock()
    assert set(lock.holders) == {arn(0)} and [w.execution_arn for w in lock.queue] == [arn(2)]
    assert world.execution_item(arn(1)) is None and world.execution_item(arn(3)) is None
    world.release(arn(0))
    assert world.sfn.resumed_arns() == [arn(0), arn(2)], "the slot went to the live waiter, never to the void"


def test_the_sweeper_reports_a_malformed_queue_without_crashing(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(arn(1), arrived_at=T0 + 1)
    world.sfn.stop(arn(0))
    world.raw.update_item(  # an entry whose id is not a string attribute
        TableName=TABLE,
        Key={"LockName": {"S": LOCK}},
        UpdateExpression="SET #queue = list_append(#queue, :bad)",
        ExpressionAttributeNames={"#queue": "queue"},
        ExpressionAttributeValues={":bad": {"L": [{"M": {"id": {"S": "x"}, "w": {"S": "one"}}}]}},
    )

    swept = sweep_queue_mode(world)

    # The queue release refuses the corrupt item (the holder is kept and reported); the sweep goes on.
    assert (swept["released"], swept["kept"], swept["waitersRemoved"]) == (0, 1, 0), swept
    problems = " | ".join(swept["problems"])
    assert "LockItemCorruptError" in problems and "queue[1].w must be a number" in problems, problems


# --- release ---------------------------------------------------------------------------------------------


def test_release_is_idempotent(world: World) -> None:
    world.acquire(arn(0))
    first = world.release(arn(0))
    assert first["released"] and first["releasedWeight"] == 1
    again = world.release(arn(0))
    assert not again["released"] and not again["dequeued"]
    never = world.release(arn(99))
    assert not never["released"]
    assert world.lock().count == 0
    assert len(world.ddb.writes) == 2, "a release of nothing writes nothing"


def test_the_reaper_s_release_reads_the_lock_name_from_the_execution_item(world: World) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    world.sfn.stop(arn(1))
    reaped = world.release(arn(1), lock_name=None)  # the reaper, for an execution that ended while queued
    assert reaped["lockName"] == LOCK and reaped["dequeued"] and not reaped["released"]
    assert not world.lock().queue and world.execution_item(arn(1)) is None
    nothing = world.release(arn(1), lock_name=None)
    assert nothing == {**nothing, "lockName": None, "released": False}


# --- Map iterations as holders ---------------------------------------------------------------------------


def it(n: int | str, iteration_id: str) -> str:
    """The holder id of one Map iteration of execution ``n``."""
    return iteration_holder(arn(n), iteration_id)


def test_iterations_of_one_execution_wait_and_are_resumed_each_with_its_own_token(world: World) -> None:
    world.set_limit(1)
    first, second = it(1, "0.48213"), it(1, "1.90377")
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(first, arrived_at=T0 + 1)
    world.acquire(second, arrived_at=T0 + 2)
    world.acquire(arn(2), arrived_at=T0 + 3)

    assert [w.execution_arn for w in world.lock().queue] == [first, second, arn(2)]
    assert world.registry(arn(1)) == {arn(1), first, second}, "listed before they queued"
    tokens = {h: world.execution_item(h)["taskToken"]["S"] for h in (first, second)}  # type: ignore[index]
    assert tokens == {first: world.tokens[first], second: world.tokens[second]}
    assert tokens[first] != tokens[second], "each waiting iteration keeps its own token"
    assert world.execution_item(arn(1)) is None, "the execution itself holds nothing"

    assert world.release(arn(0))["resumed"] == [first]
    assert world.release(first)["resumed"] == [second]
    assert world.registry(arn(1)) == {arn(1), second}, "an iteration's own release takes it off"
    assert world.release(second)["resumed"] == [arn(2)]

    assert [(owner, token) for owner, token, _ in world.sfn.successes] == [
        (h, world.tokens[h]) for h in (arn(0), first, second, arn(2))
    ], "each resumed with its own token"
    assert world.execution_item(first) is None and world.execution_item(second) is None
    assert world.registry(arn(1)) == {arn(1)}, "the registry itself stays until the execution has ended"
    check_chain(world.ddb.chain(), 1)


def test_a_granted_iteration_without_a_token_is_judged_by_its_execution_s_status(world: World) -> None:
    world.set_limit(1)
    waiting = it(1, "0.5")
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(waiting, arrived_at=T0 + 1)
    world.raw.delete_item(TableName=TABLE, Key={"LockName": {"S": waiting}})  # its token is lost

    result = world.release(arn(0))

    # Its execution runs: the grant stays its own (its re-check resumes it). Described by its holder id,
    # Step Functions would have said ExecutionDoesNotExist and the slot would have been passed on.
    assert result["granted"] == [waiting] and result["dropped"] == [] and result["resumed"] == []
    assert set(world.lock().holders) == {waiting}


def _an_execution_with_iterations_holding_and_waiting(world: World, lock_name: str | None) -> dict[str, int]:
    """Limit 4: e0 (1) and two iterations of e1 (1 and 2) hold; an iteration of e1 (1), e2 (1), another
    iteration of e1 (1) and e3 (2) wait, in that order. Returns the weight of each of e1's iterations."""
    world.set_limit(4)
    weights = {it(1, "0.7"): 1, it(1, "1.3"): 2, it(1, "2.9"): 1, it(1, "3.1"): 1}
    world.acquire(arn(0), arrived_at=T0)
    world.acquire(it(1, "0.7"), weight=1, arrived_at=T0 + 1)
    world.acquire(it(1, "1.3"), weight=2, arrived_at=T0 + 2)
    world.acquire(it(1, "2.9"), weight=1, arrived_at=T0 + 3)
    world.acquire(arn(2), weight=1, arrived_at=T0 + 4)
    world.acquire(it(1, "3.1"), weight=1, arrived_at=T0 + 5)
    world.acquire(arn(3), weight=2, arrived_at=T0 + 6)
    lock = world.lock()
    assert lock.count == 4 and set(lock.holders) == {arn(0), it(1, "0.7"), it(1, "1.3")}
    assert [w.execution_arn for w in lock.queue] == [it(1, "2.9"), arn(2), it(1, "3.1"), arn(3)]
    assert world.registry(arn(1)) == {arn(1), *weights}
    if lock_name is None:  # the lock name came from the input: the per-execution items name it
        assert all(world.execution_item(h)["lockName"]["S"] == LOCK for h in weights)  # type: ignore[index]
    return weights


@pytest.mark.parametrize("lock_name", [LOCK, None], ids=["static-lock-name", "lock-name-from-input"])
def test_the_release_of_an_ended_execution_releases_every_iteration_in_its_registry(
    world: World, lock_name: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = _an_execution_with_iterations_holding_and_waiting(world, lock_name)
    before = world.lock()

    # The state machine's own release of the execution-level holder: e1 still runs its iterations.
    running = world.release(arn(1), lock_name=lock_name)
    assert running["holders"] == [] and not running["released"] and not running["dequeued"]
    assert world.lock() == before, "its iteration holders are left alone"
    assert world.registry(arn(1)) == {arn(1), *weights}
    assert all(world.execution_item(h) is not None for h in weights)

    metrics_on(world.monkeypatch)
    capsys.readouterr()
    world.sfn.stop(arn(1))
    writes = len(world.ddb.writes)
    ended = world.release(arn(1), lock_name=lock_name, ended=True)

    lock = world.lock()
    assert lock.count == before.count - 3 + 3, "e1's 3 back; e2 (1) and e3 (2) granted"
    assert not any(execution_of(h) == arn(1) for h in lock.holders), lock.holders
    assert not lock.queue
    assert set(lock.holders) == {arn(0), arn(2), arn(3)}
    assert ended["resumed"] == ended["granted"] == [arn(2), arn(3)] and ended["dropped"] == []
    assert world.sfn.resumed_arns()[-2:] == [arn(2), arn(3)]
    assert len(world.ddb.writes) == writes + 1, "one write for the one lock"
    assert ended["ended"] is True and not ended["released"] and not ended["dequeued"]
    assert ended["holders"] == [
        {
            "executionArn": holder,
            "lockName": LOCK,
            "released": holder in (it(1, "0.7"), it(1, "1.3")),
            "releasedWeight": weight if holder in (it(1, "0.7"), it(1, "1.3")) else None,
            "dequeued": holder in (it(1, "2.9"), it(1, "3.1")),
        }
        for holder, weight in sorted(weights.items())
    ]
    assert all(world.execution_item(h) is None for h in weights), "every per-holder item deleted"
    assert world.registry(arn(1)) is None, "the registry deleted"
    counted = metric_totals(emf_documents(capsys))
    assert (counted["Releases"], counted["Resumes"]) == (2, 2), counted

    again = world.release(arn(1), lock_name=lock_name, ended=True)
    assert again["holders"] == [] and not again["released"] and again["granted"] == []
    assert world.lock() == lock and len(world.ddb.writes) == writes + 1, "the same event changes nothing"
    check_chain(world.ddb.chain(), 4)


def test_an_ended_release_racing_with_an_iteration_s_own_release_gives_each_slot_back_once(
    world: World,
) -> None:
    world.set_limit(2)
    world.acquire(it(1, "0.1"), arrived_at=T0)
    world.acquire(it(1, "1.1"), arrived_at=T0 + 1)
    world.acquire(arn(2), arrived_at=T0 + 2)
    world.acquire(arn(3), arrived_at=T0 + 3)
    world.release(it(1, "0.1"))  # the iteration's own release: e2 is granted
    world.sfn.stop(arn(1))

    ended = world.release(arn(1), ended=True)

    assert [h["executionArn"] for h in ended["holders"]] == [it(1, "1.1")]
    assert ended["holders"][0]["releasedWeight"] == 1 and ended["granted"] == [arn(3)]
    lock = world.lock()
    assert set(lock.holders) == {arn(2), arn(3)} and lock.count == 2
    assert world.release(it(1, "1.1"))["released"] is False, "its own release, late, changes nothing"
    assert world.registry(arn(1)) is None, "and does not bring the registry back"
    assert world.lock() == lock


def test_the_sweeper_judges_iteration_holders_and_waiters_by_their_execution(world: World) -> None:
    world.set_limit(2)
    world.acquire(it(1, "0.1"), arrived_at=T0)  # e1 runs
    world.acquire(it(2, "0.1"), arrived_at=T0 + 1)  # e2 will have ended
    world.acquire(it(1, "1.1"), arrived_at=T0 + 2)
    world.acquire(it(2, "1.1"), arrived_at=T0 + 3)
    world.sfn.stop(arn(2))

    swept = sweep_queue_mode(world)

    assert (swept["released"], swept["waitersRemoved"], swept["errors"]) == (1, 1, 0), swept
    lock = world.lock()
    assert set(lock.holders) == {it(1, "0.1"), it(1, "1.1")} and not lock.queue
    assert world.sfn.resumed_arns()[-1] == it(1, "1.1"), "the freed slot went to the running iteration"
    assert world.registry(arn(2)) is None and world.execution_item(it(2, "0.1")) is None
    assert world.registry(arn(1)) == {arn(1), it(1, "0.1"), it(1, "1.1")}, "a running execution's kept"


# --- capacity --------------------------------------------------------------------------------------------


def test_a_full_queue_fails_the_newcomer_and_keeps_everyone_else(world: World) -> None:
    world.set_limit(1)
    for n in range(4):
        world.acquire(arn(n), maxQueueLength=3)
    with pytest.raises(SemaphoreQueueFullError):
        world.acquire(arn(4), maxQueueLength=3)
    lock = world.lock()
    assert [w.execution_arn for w in lock.queue] == [arn(1), arn(2), arn(3)]
    assert world.execution_item(arn(4)) is None
    world.release(arn(0))
    assert world.sfn.resumed_arns() == [arn(0), arn(1)]


def test_a_thousand_waiters_with_the_longest_arns_fit_in_one_item(world: World) -> None:
    def long_arn(n: int) -> str:
        prefix = f"arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:{n:06d}:"
        return prefix + "x" * (MAX_EXECUTION_ARN_LENGTH - len(prefix))

    holders = {long_arn(n): 1 for n in range(4)}
    queue = tuple(Waiter(long_arn(n), 1, 9_999_999_999_999) for n in range(4, 1003))
    lock = QueueLock(count=4, holders={a: _holder() for a in holders}, queue=queue)
    config = LockTableConfig(table_name=TABLE)
    world.raw.put_item(**build_put(config, LOCK, parse_queue_lock(None), lock))
    for n in range(1003):
        world.sfn.status[long_arn(n)] = "RUNNING"
    world.tokens[long_arn(4)] = world.sfn.new_token(long_arn(4))
    put_execution_item(world.ddb, config, long_arn(4), LOCK, world.tokens[long_arn(4)])

    joined = world.acquire(long_arn(1003), limit=4)  # the 1,000th waiter
    assert joined["position"] == 999
    with pytest.raises(SemaphoreQueueFullError):
        world.acquire(long_arn(1004), limit=4)
    released = world.release(long_arn(0))
    assert released["granted"] == released["resumed"] == [long_arn(4)]

    # The longest queue allowed next to 4 holders passes DynamoDB's (moto's) item size check.
    longest = max_queue_length_for(4)
    full = QueueLock(
        count=4,
        holders={a: _holder() for a in holders},
        queue=tuple(Waiter(long_arn(n), 99999, 9_999_999_999_999) for n in range(4, 4 + longest)),
    )
    world.raw.put_item(**build_put(config, "at-capacity", parse_queue_lock(None), full))


def _holder() -> Any:
    from semaphore_core.lock_item import Holder

    return Holder(weight=1, acquired_at="2024-05-01T12:00:00.123Z")


# --- warm-up ---------------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def clock(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1000)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    for module in (acquire_handler, release_handler):
        monkeypatch.setattr(module, "clock", fake.clock)
        monkeypatch.setattr(module, "sleep", fake.sleep)
    return fake


def _grant_times(world: World) -> list[int]:
    return [output["grantedAt"] for _, _, output in world.sfn.successes]


def test_warmup_spaces_grants_and_an_admissible_waiter_pumps_itself(
    world: World, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.set_limit(3, tps_limit=2)
    for n in range(3):
        world.acquire(arn(n), tpsLimit=2)
    assert world.sfn.resumed_arns() == [arn(0), arn(1), arn(2)]
    times = _grant_times(world)
    assert [b - a for a, b in itertools.pairwise(times)] == [500, 500]
    assert fake_time.slept == [0.5, 0.5]

    world.acquire(arn(3), tpsLimit=2)  # full: waits for a release, without sleeping
    assert fake_time.slept == [0.5, 0.5]
    fake_time.now += 100
    released = world.release(arn(0))  # frees a slot 100 ms after the last grant: the release waits 400 ms
    assert released["resumed"] == [arn(3)]
    assert _grant_times(world)[-1] - times[-1] == 500


def test_a_slow_rate_makes_the_waiter_re_check_instead_of_sleeping(
    world: World, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_on(monkeypatch)
    world.set_limit(2, tps_limit=0.2)  # one grant per 5 s: too long to sleep through
    world.acquire(arn(0), tpsLimit=0.2)
    with pytest.raises(WarmupTooSoonError):
        world.acquire(arn(1), tpsLimit=0.2)
    assert [w.execution_arn for w in world.lock().queue] == [arn(1)], "it keeps its place"
    fake_time.now += 5000
    again = world.acquire(arn(1), tpsLimit=0.2)  # the task's Retry, after the grant interval
    assert again["status"] == "holding"
    counted = metric_totals(emf_documents(capsys))
    assert (counted["GrantedAtOnce"], counted["WarmupWaits"], counted["ReChecks"]) == (1, 1, 1), counted

    world.acquire(arn(2), tpsLimit=0.2)  # the lock is full: it waits for a release
    fake_time.now += 1000
    nudged = world.release(arn(0))  # frees a slot 1 s after the last grant: 4 s to go, so nudge the head
    assert nudged["nudged"] == [arn(2)]
    assert world.sfn.failures[-1][0] == arn(2) and world.sfn.failures[-1][2] == "WarmupTooSoonError"


# --- events ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"weight": 5},
        {"executionArn": "arn:" + "x" * MAX_EXECUTION_ARN_LENGTH},
        {"lockName": "arn:looks-like-an-execution"},
        {"maxQueueLength": 0},
        {"taskToken": ""},
        {"arrivedAt": "yesterday"},
        {"arrivedAt": "2024-01-01T00:00:00"},  # no time zone
        {"arrivedAt": 1700000000000},
        {"arrivedAtt": "2024-01-01T00:00:00Z"},  # misspelt optional field
        {"executionArn": arn(1) + "#"},  # a registry's key, not a holder
        {"executionArn": arn(1) + "#3 1"},
        {"executionArn": arn(1) + "#3.1#2"},
        {"executionArn": arn(1) + "#" + "9" * 41},
        {"executionArn": "arn:" + "x" * (MAX_EXECUTION_ARN_LENGTH - 6) + "#3.1"},  # too long in all
    ],
)
def test_a_malformed_acquire_writes_nothing(world: World, overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        world.acquire(arn(1), **overrides)
    assert world.ddb.writes == []
    assert world.raw.scan(TableName=TABLE)["Count"] == 0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"lockName": LOCK, "executionArn": arn(1) + "#"}, "iteration id"),
        ({"lockName": LOCK, "executionArn": arn(1) + "#a/b"}, "iteration id"),
        ({"lockName": LOCK, "executionArn": "execution#1.2"}, "must start with 'arn:'"),
        ({"lockName": LOCK, "executionArn": arn(1) + "#1.2", "ended": True}, "ended is for an execution ARN"),
        ({"lockName": None, "executionArn": arn(1), "ended": "true"}, "ended must be true or false"),
        ({"lockName": None, "executionArn": arn(1), "ended": None}, "ended must be true or false"),
        ({"lockName": None, "executionArn": arn(1), "ended": 1}, "ended must be true or false"),
        ({"lockName": None, "executionArn": arn(1), "endedd": True}, "unknown endedd"),
    ],
)
def test_a_malformed_release_writes_nothing(world: World, event: dict[str, Any], message: str) -> None:
    world.acquire(it(1, "1.2"))
    world.acquire(arn(1))
    table = world.raw.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    writes = len(world.ddb.writes)
    with pytest.raises(InvalidEventError, match=message):
        release_handler.lambda_handler(event, None)
    assert len(world.ddb.writes) == writes
    assert world.raw.scan(TableName=TABLE, ConsistentRead=True)["Items"] == table


# --- metrics ---------------------------------------------------------------------------------------------


def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings the module gives the functions when metrics_namespace is set."""
    monkeypatch.setenv("METRICS_NAMESPACE", "SfnSemaphore")
    monkeypatch.setenv("METRICS_SEMAPHORE", "render")


def emf_documents(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The Embedded Metric Format documents the handlers printed since the last call."""
    return emf.documents(capsys.readouterr().out.splitlines())


def metric_totals(documents: list[dict[str, Any]]) -> dict[str, int]:
    """Each metric summed over the documents, as CloudWatch's Sum statistic would; checks each document
    declares exactly the numbers it carries, under the one dimension."""
    totals: dict[str, int] = {}
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "SfnSemaphore" and directive["Dimensions"] == [["Semaphore"]]
        assert document["Semaphore"] == "render" and document["lockName"] == LOCK
        names = [m["Name"] for m in directive["Metrics"]]
        assert names == [k for k, v in document.items() if isinstance(v, int) and k != "_aws"]
        for name in names:
            totals[name] = totals.get(name, 0) + document[name]
    return totals


def test_metrics_count_grants_waits_handoffs_passed_on_grants_and_recovered_resumes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_on(world.monkeypatch)
    world.set_limit(1)
    for n in range(3):
        world.acquire(arn(n))
    world.sfn.stop(arn(1))  # stopped while queued: its grant goes on to e2
    world.release(arn(0))
    world.acquire(arn(3))
    world.raw.delete_item(TableName=TABLE, Key={"LockName": {"S": arn(3)}})  # e3's token is lost
    world.release(arn(2))  # grants e3, cannot resume it
    world.acquire(arn(3))  # e3's re-check finds it holding and resumes itself

    documents = emf_documents(capsys)

    assert len(documents) == 7, "one per invocation"
    assert metric_totals(documents) == {
        "GrantedAtOnce": 1,  # e0
        "Queued": 3,  # e1, e2, e3 (on their first calls)
        "ReChecks": 1,
        "ResumesRecovered": 1,
        "Resumes": 3,  # e0 by itself, e2 by the first release, e3 by its re-check
        "GrantsPassedOn": 1,  # e1's
        "Releases": 2,
        "LockWriteRetries": 0,
        "WarmupWaits": 0,
        "QueueFull": 0,
        "LockContention": 0,
    }
    assert world.sfn.resumed_arns() == [arn(0), arn(2), arn(3)], "the counts match what happened"


def test_a_full_queue_and_lost_races_are_counted_when_the_call_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_on(world.monkeypatch)
    world.set_limit(1)
    world.acquire(arn(0), maxQueueLength=1)
    world.acquire(arn(1), maxQueueLength=1)
    capsys.readouterr()

    with pytest.raises(SemaphoreQueueFullError):
        world.acquire(arn(2), maxQueueLength=1)
    full = metric_totals(emf_documents(capsys))

    def lose_every_race(*_args: Any) -> None:
        raise LockContentionError("lost ten races")

    world.monkeypatch.setattr(release_handler, "release", lose_every_race)
    with pytest.raises(LockContentionError):
        release_handler.lambda_handler({"lockName": LOCK, "executionArn": arn(0)}, None)
    contended = metric_totals(emf_documents(capsys))

    assert full["QueueFull"] == 1 and sum(full.values()) == 1
    assert contended["LockContention"] == 1 and sum(contended.values()) == 1


def test_no_metrics_are_printed_without_a_namespace(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.set_limit(1)
    world.acquire(arn(0))
    world.acquire(arn(1))
    world.release(arn(0))
    assert world.sfn.resumed_arns() == [arn(0), arn(1)]
    assert emf_documents(capsys) == []
