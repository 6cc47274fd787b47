"""Warm execution environments per function, as Lambda keeps them.

``LambdaRuntime`` holds one ``EnvironmentPool`` per function version. A pool reuses an idle environment
when it has one, starts a new one (a cold start) while fewer than its cap exist, and queues the call
otherwise, first come first served: a freed environment goes to the oldest queued call, never to a call
that came later (Lambda itself queues nothing: it scales out or throttles, so a call here must not wait
behind calls that arrived after it). Environments idle for longer than ``idle_seconds`` are stopped. When a
function's code or configuration changes, its pool is retired: idle environments stop at once, busy ones
when their call ends, and later calls start fresh environments from the new spec.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from localaws.lambda_environment import (
    CodeCache,
    EnvironmentGoneError,
    ExecutionEnvironment,
    FunctionSpec,
    InvokeResult,
    exit_payload,
    remove_tree,
)

#: Lambda reclaims an idle environment after some minutes; this is the local default.
DEFAULT_IDLE_SECONDS = 300.0
#: Environments per function when it has no reserved concurrency.
DEFAULT_MAX_CONCURRENCY = 10

EnvironmentFactory = Callable[[FunctionSpec], ExecutionEnvironment]


class PoolRetiredError(Exception):
    """The pool was replaced (new code or configuration) while a call waited for it."""


class RuntimeStoppedError(Exception):
    """The local AWS is shutting down: no more invocations."""


class _Turn:
    """A queued call: woken with an environment, with leave to start one, or because the pool retired."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.environment: ExecutionEnvironment | None = None
        self.retired = False


class EnvironmentPool:
    """Execution environments of one function version with one spec."""

    def __init__(
        self, spec: FunctionSpec, start: EnvironmentFactory, max_size: int, idle_seconds: float
    ) -> None:
        self.spec = spec
        self.max_size = max_size
        self.idle_seconds = idle_seconds
        self._start = start
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._size = 0
        self._retired = False
        self._killed = False
        #: Calls waiting for an environment, oldest first.
        self._queue: deque[_Turn] = deque()

    @property
    def size(self) -> int:
        """Environments alive or starting."""
        return self._size

    @property
    def waiting(self) -> int:
        """Calls queued for an environment."""
        return len(self._queue)

    def invoke(self, request_id: str, payload: bytes, invoked_arn: str) -> InvokeResult:
        environment = self._acquire()
        if environment is None:
            try:
                environment = self._start(self.spec)
            except BaseException:
                self._forget(None)
                raise
            with self._lock:
                self._busy.add(environment)
                killed = self._killed
            if killed:  # the server stopped while this environment started: kill_all could not see it
                environment.close()
        try:
            result = environment.invoke(request_id, payload, invoked_arn)
        except EnvironmentGoneError:
            self._forget(environment)
            return InvokeResult(exit_payload(request_id, None), "Unhandled", None)
        except BaseException:
            self._forget(environment)
            raise
        self._release(environment)
        return result

    def _acquire(self) -> ExecutionEnvironment | None:
        """An idle environment, or None when the caller may start one; waits its turn while the pool is
        full."""
        expired: list[ExecutionEnvironment] = []
        try:
            with self._lock:
                if self._retired:
                    raise PoolRetiredError(self.spec.function_arn)
                if not self._queue:  # nobody is ahead of this call
                    deadline = time.monotonic() - self.idle_seconds
                    while self._idle:
                        environment = self._idle.pop()
                        if environment.last_used > deadline and environment.alive:
                            self._busy.add(environment)
                            return environment
                        expired.append(environment)
                        self._size -= 1
                    if self._size < self.max_size:
                        self._size += 1
                        return None
                turn = _Turn()
                self._queue.append(turn)
        finally:
            for environment in expired:
                environment.close()
        turn.ready.wait()
        if turn.retired:
            raise PoolRetiredError(self.spec.function_arn)
        return turn.environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            self._busy.discard(environment)
            if not self._retired and environment.alive:
                if self._queue:  # straight to the oldest waiting call
                    turn = self._queue.popleft()
                    self._busy.add(environment)
                    turn.environment = environment
                    turn.ready.set()
                else:
                    self._idle.append(environment)
                return
        self._forget(environment)

    def _forget(self, environment: ExecutionEnvironment | None) -> None:
        with self._lock:
            if environment is not None:
                self._busy.discard(environment)
            self._size -= 1
            self._admit_waiting()
        if environment is not None:
            environment.close()

    def resize(self, max_size: int) -> None:
        """A new cap (the function's reserved concurrency changed); a larger one admits waiting calls."""
        with self._lock:
            self.max_size = max_size
            self._admit_waiting()

    def _admit_waiting(self) -> None:
        """Let the oldest waiting calls start environments while there is room (called holding the lock)."""
        while self._queue and not self._retired and self._size < self.max_size:
            self._size += 1
            self._queue.popleft().ready.set()

    def reap_idle(self) -> int:
        """Stop environments idle for longer than ``idle_seconds``; how many were stopped."""
        deadline = time.monotonic() - self.idle_seconds
        with self._lock:
            expired = [e for e in self._idle if e.last_used <= deadline]
            self._idle = [e for e in self._idle if e.last_used > deadline]
            self._size -= len(expired)
            self._admit_waiting()
        for environment in expired:
            environment.close()
        return len(expired)

    def retire(self) -> None:
        """Stop idle environments now, busy ones when their call ends; waiting calls go elsewhere."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            waiting, self._queue = list(self._queue), deque()
            for turn in waiting:  # they start over in the pool that replaces this one
                turn.retired = True
                turn.ready.set()
        for environment in idle:
            environment.close()

    def kill_all(self) -> None:
        """Retire, and stop the busy environments too (their calls end with a runtime exit error)."""
        self.retire()
        with self._lock:
            self._killed = True
            busy = list(self._busy)
        for environment in busy:
            environment.close()


class LambdaRuntime:
    """Every function's pool, the code cache, the log files and the idle reaper of one server."""

    def __init__(
        self,
        work_dir: Path,
        endpoint: Callable[[], str],
        log_dir: Path | None = None,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.idle_seconds = idle_seconds
        self._endpoint = endpoint
        self._code = CodeCache(work_dir / "code")
        self._lock = threading.Lock()
        self._pools: dict[str, EnvironmentPool] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._stopped = threading.Event()
        self._reaper: threading.Thread | None = None

    def invoke(
        self, spec: FunctionSpec, max_concurrency: int, request_id: str, payload: bytes, invoked_arn: str
    ) -> InvokeResult:
        while True:
            pool = self._pool_for(spec, max_concurrency)
            try:
                return pool.invoke(request_id, payload, invoked_arn)
            except PoolRetiredError:
                continue

    def pool(self, spec: FunctionSpec) -> EnvironmentPool | None:
        """The current pool of the function version ``spec`` names (for inspection)."""
        with self._lock:
            return self._pools.get(_pool_key(spec))

    def retire(self, function_arn: str, version: str | None = None) -> None:
        """Stop a deleted function's environments (every version, or just ``version``)."""
        with self._lock:
            keys = [
                key
                for key, pool in self._pools.items()
                if pool.spec.function_arn == function_arn and version in (None, pool.spec.version)
            ]
            pools = [self._pools.pop(key) for key in keys]
        for pool in pools:
            pool.retire()

    def _pool_for(self, spec: FunctionSpec, max_concurrency: int) -> EnvironmentPool:
        key = _pool_key(spec)
        with self._lock:
            if self._stopped.is_set():
                raise RuntimeStoppedError("the local AWS is stopping")
            pool = self._pools.get(key)
            if pool is not None and pool.spec == spec:
                pool.resize(max_concurrency)
                return pool
            fresh = EnvironmentPool(spec, self._start, max_concurrency, self.idle_seconds)
            self._pools[key] = fresh
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="lambda-reaper", daemon=True)
                self._reaper.start()
        if pool is not None:
            pool.retire()
        return fresh

    def _start(self, spec: FunctionSpec) -> ExecutionEnvironment:
        if self._stopped.is_set():
            raise RuntimeStoppedError("the local AWS is stopping")
        return ExecutionEnvironment(spec, self._code.task_root(spec), self._endpoint(), self._log_for(spec))

    def _log_for(self, spec: FunctionSpec) -> IO[bytes] | None:
        if self.log_dir is None:
            return None
        with self._lock:
            log = self._logs.get(spec.function_name)
            if log is None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log = open(self.log_dir / f"{spec.function_name}.log", "ab")  # noqa: SIM115
                self._logs[spec.function_name] = log
            return log

    def _reap_forever(self) -> None:
        interval = min(max(self.idle_seconds / 4, 0.05), 30.0)
        while not self._stopped.wait(interval):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap_idle()

    def shutdown(self) -> None:
        """Stop every environment and remove the extracted code (log files stay)."""
        with self._lock:
            self._stopped.set()
            pools, self._pools = list(self._pools.values()), {}
            logs, self._logs = list(self._logs.values()), {}
        for pool in pools:
            pool.kill_all()
        for log in logs:
            log.close()
        if self._reaper is not None:
            self._reaper.join(timeout=5)
        remove_tree(self.work_dir)


def _pool_key(spec: FunctionSpec) -> str:
    return f"{spec.function_arn}:{spec.version}"
