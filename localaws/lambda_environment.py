"""One Lambda execution environment: a worker process that holds a function's handler warm.

``ExecutionEnvironment`` starts ``localaws/lambda_worker.py`` with the function's code as its task root, the
function's environment variables plus those the Lambda runtime sets, and the local endpoint; it waits for
the init phase, then runs invocations one at a time over a socket pair. A handler that overruns the
function's timeout is killed with its process, and the call is answered as AWS answers it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO

from localaws import lambda_worker

WORKER_SCRIPT = Path(lambda_worker.__file__).resolve()
#: The init phase may take this long (AWS allows 10 s) or the function's timeout, whichever is longer.
INIT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class FunctionSpec:
    """What an environment is built from. Two specs compare equal when an environment of one can serve the
    other: any change of code or configuration compares unequal, so it gets fresh environments."""

    function_name: str
    function_arn: str
    version: str
    region: str
    handler: str
    runtime: str
    code_sha256: str
    timeout_seconds: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    revision: str
    code_zip: bytes = field(compare=False, repr=False)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes
    #: None on success, "Unhandled" when the handler failed (the X-Amz-Function-Error header).
    function_error: str | None
    #: The handler's own time, as the worker measured it (None when it did not finish).
    duration_ms: float | None
    #: The init phase (process start and handler import) when this call had a cold start, else None.
    init_ms: float | None = None


class EnvironmentGoneError(Exception):
    """The environment cannot serve more invocations (it timed out, crashed or failed to init)."""


class CodeCache:
    """Deployment packages extracted once per CodeSha256 under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def task_root(self, spec: FunctionSpec) -> Path:
        name = spec.code_sha256.replace("/", "_").replace("+", "-").rstrip("=") or "empty"
        target = self.root / name
        if target.is_dir():
            return target
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if not target.is_dir():
                self.root.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
                with zipfile.ZipFile(BytesIO(spec.code_zip)) as bundle:
                    bundle.extractall(staging)
                staging.rename(target)
        return target


def runtime_environment(
    spec: FunctionSpec, task_root: Path, endpoint: str, log_stream: str
) -> dict[str, str]:
    """Environment variables as the Lambda runtime sets them, plus the local endpoint."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        # boto3 >= 1.28 sends every client here, so handlers talk to this local AWS.
        "AWS_ENDPOINT_URL": endpoint,
    }
    env.update(dict(spec.environment))
    # Reserved variables: AWS rejects functions that set them, and the runtime's values win.
    env.update(
        {
            "_HANDLER": spec.handler,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
        }
    )
    return env


def timeout_payload(request_id: str, timeout_seconds: float) -> bytes:
    """What AWS returns (with X-Amz-Function-Error: Unhandled) when a handler overruns its timeout."""
    message = f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds"
    return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()


def exit_payload(request_id: str, returncode: int | None) -> bytes:
    """What AWS returns when the runtime process dies during an invocation."""
    status = f"exit status {returncode}" if returncode is not None and returncode >= 0 else "signal: killed"
    message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()


class ExecutionEnvironment:
    """A worker process with the handler imported; serves one invocation at a time."""

    def __init__(self, spec: FunctionSpec, task_root: Path, endpoint: str, log: IO[bytes] | None) -> None:
        self.spec = spec
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[{spec.version}]{uuid.uuid4().hex}"
        self.last_used = time.monotonic()
        self._init_ms: float | None = None
        self._init_error: bytes | None = None
        parent_end, child_end = socket.socketpair()
        self._sock = parent_end
        output = log.fileno() if log is not None else sys.stderr.fileno()
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    str(WORKER_SCRIPT),
                    str(child_end.fileno()),
                    str(task_root),
                    spec.handler,
                ],
                cwd=task_root,
                env=runtime_environment(spec, task_root, endpoint, self.log_stream),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                pass_fds=(child_end.fileno(),),
            )
        finally:
            child_end.close()
        self._init()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _init(self) -> None:
        self._sock.settimeout(max(INIT_TIMEOUT_SECONDS, self.spec.timeout_seconds))
        try:
            header, body = lambda_worker.recv_frame(self._sock)
        except TimeoutError:
            self.close()
            self._init_error = timeout_payload("init", max(INIT_TIMEOUT_SECONDS, self.spec.timeout_seconds))
            return
        except (OSError, lambda_worker.ConnectionClosedError):
            self.close()
            self._init_error = exit_payload("init", self._proc.returncode)
            return
        self._init_ms = float(header["init_ms"])
        if header["type"] == "init_error":
            self._init_error = body
            self.close()

    def invoke(self, request_id: str, payload: bytes, invoked_arn: str) -> InvokeResult:
        """Run one invocation; failures of the handler or the runtime come back as AWS reports them.
        Raises ``EnvironmentGoneError`` only when the worker had exited before the call."""
        if self._init_error is not None:
            return InvokeResult(self._init_error, "Unhandled", None, self._take_init_ms())
        if self._proc.poll() is not None:
            raise EnvironmentGoneError(f"worker {self.pid} exited with {self._proc.returncode}")
        timeout = self.spec.timeout_seconds
        started = time.time()
        header = {
            "request_id": request_id,
            "invoked_arn": invoked_arn,
            "deadline_ms": int((started + timeout) * 1000),
        }
        try:
            self._sock.settimeout(timeout)
            lambda_worker.send_frame(self._sock, header, payload)
            reply, body = lambda_worker.recv_frame(self._sock)
        except TimeoutError:
            self.close()
            return InvokeResult(timeout_payload(request_id, timeout), "Unhandled", None, self._take_init_ms())
        except (OSError, lambda_worker.ConnectionClosedError):
            self.close()
            return InvokeResult(
                exit_payload(request_id, self._proc.returncode), "Unhandled", None, self._take_init_ms()
            )
        finally:
            self.last_used = time.monotonic()
        error = "Unhandled" if reply["type"] == "error" else None
        return InvokeResult(body, error, float(reply["duration_ms"]), self._take_init_ms())

    def _take_init_ms(self) -> float | None:
        init_ms, self._init_ms = self._init_ms, None
        return init_ms

    @property
    def alive(self) -> bool:
        return self._init_error is None and self._proc.poll() is None

    def close(self) -> None:
        """Stop the worker now (it holds no state worth a graceful exit) and reap it. Thread-safe: killing
        the process first makes a call blocked on its socket in another thread return at once."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._sock.close()
        self._proc.wait()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
