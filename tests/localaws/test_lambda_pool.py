"""``EnvironmentPool`` with stand-in environments: a full pool serves queued calls first come, first
served."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from localaws.lambda_environment import FunctionSpec, InvokeResult
from localaws.lambda_pool import EnvironmentPool, PoolRetiredError

SPEC = FunctionSpec(
    function_name="f",
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
    version="$LATEST",
    region="us-east-1",
    handler="h.h",
    runtime="python3.12",
    code_sha256="x",
    timeout_seconds=3,
    memory_mb=128,
    environment=(),
    revision="1",
    code_zip=b"",
)


class StandIn:
    """An environment whose calls record their order and, for a named call, wait for a gate."""

    def __init__(self, served: list[str], gates: dict[str, threading.Event]) -> None:
        self.served = served
        self.gates = gates
        self.last_used = time.monotonic()
        self.alive = True

    def invoke(self, request_id: str, payload: bytes, invoked_arn: str) -> InvokeResult:
        self.served.append(request_id)
        gate = self.gates.get(request_id)
        if gate is not None:
            assert gate.wait(5)
        self.last_used = time.monotonic()
        return InvokeResult(b"{}", None, 1.0)

    def close(self) -> None:
        self.alive = False


def _pool(max_size: int, served: list[str], gates: dict[str, threading.Event]) -> EnvironmentPool:
    return EnvironmentPool(SPEC, lambda spec: StandIn(served, gates), max_size, idle_seconds=60)  # type: ignore[arg-type,return-value]


def _call(pool: EnvironmentPool, name: str, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            pool.invoke(name, b"{}", SPEC.function_arn)
        except BaseException as error:  # reported by the test
            errors.append(error)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_queued_calls_are_served_in_arrival_order() -> None:
    served: list[str] = []
    gate = threading.Event()
    pool = _pool(1, served, {"first": gate})
    errors: list[BaseException] = []
    threads = [_call(pool, "first", errors)]
    _wait_until(lambda: served == ["first"])
    for index in range(6):
        threads.append(_call(pool, f"queued-{index}", errors))
        _wait_until(lambda index=index: pool.waiting == index + 1)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert not errors
    assert served == ["first"] + [f"queued-{index}" for index in range(6)]


class NewcomerAtRelease(EnvironmentPool):
    """Once, right as an environment is given back, a new call arrives (in the releasing thread, so it
    reaches the pool before any waiting thread can wake)."""

    newcomer_due = True

    def _release(self, environment: Any) -> None:
        super()._release(environment)
        if self.newcomer_due:
            self.newcomer_due = False
            self.invoke("newcomer", b"{}", SPEC.function_arn)


@dataclass
class OneRunningOneWaiting:
    pool: EnvironmentPool
    served: list[str]
    errors: list[BaseException]
    first: threading.Thread
    waiting: threading.Thread


def _one_running_one_waiting(
    gates: dict[str, threading.Event], pool_class: type[EnvironmentPool] = EnvironmentPool
) -> OneRunningOneWaiting:
    """A pool of one environment, busy with call "first" (until ``gates["first"]`` is set), and call
    "waiting" queued for it."""
    served: list[str] = []
    pool = pool_class(SPEC, lambda spec: StandIn(served, gates), 1, idle_seconds=60)  # type: ignore[arg-type,return-value]
    errors: list[BaseException] = []
    first = _call(pool, "first", errors)
    _wait_until(lambda: served == ["first"])
    waiting = _call(pool, "waiting", errors)
    _wait_until(lambda: pool.waiting == 1)
    return OneRunningOneWaiting(pool, served, errors, first, waiting)


def test_a_freed_environment_goes_to_the_oldest_waiting_call_not_to_a_newcomer() -> None:
    first_gate, waiting_gate = threading.Event(), threading.Event()
    scene = _one_running_one_waiting({"first": first_gate, "waiting": waiting_gate}, NewcomerAtRelease)
    first_gate.set()
    # The environment went straight to the waiting call: the newcomer queues behind it.
    _wait_until(lambda: scene.pool.waiting == 1 and scene.served == ["first", "waiting"])
    waiting_gate.set()
    for thread in (scene.first, scene.waiting):
        thread.join(5)
    assert not scene.errors
    assert scene.served == ["first", "waiting", "newcomer"]


def test_a_retired_pool_sends_its_waiting_calls_elsewhere() -> None:
    gate = threading.Event()
    scene = _one_running_one_waiting({"first": gate})
    scene.pool.retire()
    scene.waiting.join(5)
    assert [type(error) for error in scene.errors] == [PoolRetiredError]
    gate.set()
    scene.first.join(5)
    assert scene.served == ["first"]


def test_a_larger_cap_admits_waiting_calls_at_once() -> None:
    gate = threading.Event()
    scene = _one_running_one_waiting({"first": gate})
    scene.pool.resize(2)
    scene.waiting.join(5)
    assert scene.served == ["first", "waiting"]
    gate.set()
    scene.first.join(5)
    assert not scene.errors


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Any:
    yield
    assert not [
        t for t in threading.enumerate() if t.name.startswith(("first", "queued", "waiting", "newcomer"))
    ]
