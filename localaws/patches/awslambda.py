"""Run a deployed Lambda function's real handler instead of moto's stand-in.

Without Docker, moto answers Invoke with the request payload (or a canned string): no handler code runs and
no failure ever happens. This patch runs the handler from the function's deployed zip in a warm execution
environment (``localaws.lambda_pool``), with the function's environment variables, what the Lambda runtime
sets, and ``AWS_ENDPOINT_URL`` pointing at this server so boto3 in the handler talks to the local AWS.

- ``RequestResponse``: the handler's result; a handler exception comes back as HTTP 200 with
  ``X-Amz-Function-Error: Unhandled`` and ``{"errorType", "errorMessage", "stackTrace"}``, so Step Functions
  Catch/Retry match it by the exception's class name; an overrun is killed and reported as
  ``Sandbox.Timedout`` ("Task timed out after N.00 seconds").
- ``Event``: 202 at once, the handler runs in the background (no retries).
- ``DryRun``: 204, nothing runs.

Environments are per function version and configuration; at most ``ReservedConcurrentExecutions`` of them
(default ``LOCALAWS_LAMBDA_MAX_CONCURRENCY``, 10) run at once and further calls queue; an environment idle for
``LOCALAWS_LAMBDA_IDLE_SECONDS`` (300) is stopped. Handler output goes to
``$LOCALAWS_LAMBDA_LOG_DIR/<function>.log`` when that is set, else to the server's stderr. Every worker
stops with the server. Only Python runtimes with zip packages run; others fail with InvalidRuntimeException.

``on_invocation(listener)`` lets a server plugin see each invocation's function and result (the benchmark's
billing meter adds up the billed durations); this module knows nothing of what listens.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import make_function_arn
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from localaws.lambda_environment import FunctionSpec, InvokeResult
from localaws.lambda_pool import (
    DEFAULT_IDLE_SECONDS,
    DEFAULT_MAX_CONCURRENCY,
    LambdaRuntime,
    RuntimeStoppedError,
)
from localaws.patches import patch, sfn_lambda

#: Told of every invocation that ran, synchronous or not, on the invoking thread, after it ended.
InvocationListener = Callable[[FunctionSpec, InvokeResult], None]

_LISTENERS: list[InvocationListener] = []
_LOCK = threading.Lock()
_RUNTIME: LambdaRuntime | None = None
_STOPPED = False
_ENDPOINT = {"url": f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"}


class TooManyRequestsError(JsonRESTError):
    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


@patch
def apply() -> None:
    LambdaFunction.invoke = _function_invoke  # type: ignore[method-assign]
    LambdaBackend.invoke = _backend_invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = _backend_invoke  # type: ignore[method-assign]
    _retire_on_delete()
    _read_the_qualifier()
    _hook_server_lifecycle()
    atexit.register(shutdown)
    sfn_lambda.apply()


def on_invocation(listener: InvocationListener) -> None:
    """Call ``listener(spec, result)`` after every invocation that ran from now on."""
    with _LOCK:
        _LISTENERS.append(listener)


def runtime() -> LambdaRuntime:
    """The process's Lambda runtime, created on first use."""
    global _RUNTIME
    with _LOCK:
        if _STOPPED:
            raise RuntimeStoppedError("the local AWS is stopping: no more invocations")
        if _RUNTIME is None:
            log_dir = os.environ.get("LOCALAWS_LAMBDA_LOG_DIR")
            _RUNTIME = LambdaRuntime(
                work_dir=Path(tempfile.mkdtemp(prefix="localaws-lambda-")),
                endpoint=lambda: _ENDPOINT["url"],
                log_dir=Path(log_dir) if log_dir else None,
                idle_seconds=float(os.environ.get("LOCALAWS_LAMBDA_IDLE_SECONDS", DEFAULT_IDLE_SECONDS)),
            )
        return _RUNTIME


def shutdown() -> None:
    """Stop every execution environment (the server is stopping)."""
    global _RUNTIME, _STOPPED
    with _LOCK:
        _STOPPED = True
        current, _RUNTIME = _RUNTIME, None
    if current is not None:
        current.shutdown()


def _hook_server_lifecycle() -> None:
    """Learn the endpoint handlers must call when the server starts; stop the workers when it stops."""
    original_start = ThreadedMotoServer.start
    original_stop = ThreadedMotoServer.stop

    def start(self: ThreadedMotoServer) -> None:
        global _STOPPED
        with _LOCK:
            _STOPPED = False
        original_start(self)
        host, port = self.get_host_and_port()
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        _ENDPOINT["url"] = f"http://{host}:{port}"

    def stop(self: ThreadedMotoServer) -> None:
        try:
            original_stop(self)
        finally:
            shutdown()

    ThreadedMotoServer.start = start  # type: ignore[method-assign]
    ThreadedMotoServer.stop = stop  # type: ignore[method-assign]


def _read_the_qualifier() -> None:
    """Invoke's ``?Qualifier=`` is read as ``qualifier`` (so moto ignored it and ran $LATEST), and failing
    that from the payload's own ``qualifier`` key. Hand it the real query parameter, or None."""
    original = LambdaResponse.invoke

    def invoke(self: LambdaResponse) -> Any:
        self.querystring["qualifier"] = [self.querystring.get("Qualifier", [None])[0]]
        return original(self)

    LambdaResponse.invoke = invoke  # type: ignore[method-assign]


def _retire_on_delete() -> None:
    """A deleted function's warm environments stop at once instead of idling out."""
    original = LambdaBackend.delete_function

    def delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
        fn = self.get_function(function_name, qualifier)
        original(self, function_name, qualifier)
        with _LOCK:
            current = _RUNTIME
        if current is not None:
            current.retire(make_function_arn(fn.region, fn.account_id, fn.function_name), qualifier)

    LambdaBackend.delete_function = delete_function  # type: ignore[method-assign]


def _backend_invoke(
    self: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    if function_name.startswith("arn:"):
        invoked_arn = function_name  # as the caller named it, qualified or not
    else:
        invoked_arn = make_function_arn(fn.region, fn.account_id, fn.function_name)
    if qualifier and not invoked_arn.endswith(f":{qualifier}"):
        invoked_arn += f":{qualifier}"
    payload = invoke_function(fn, body, headers, response_headers, invoked_arn)
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _function_invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    return invoke_function(self, body, request_headers, response_headers, self.function_arn)


def invoke_function(
    fn: LambdaFunction, body: Any, request_headers: Any, response_headers: dict[str, str], invoked_arn: str
) -> bytes:
    """Invoke ``fn`` as the Invoke API does; returns the response payload and fills the response headers."""
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    payload = _payload_bytes(body)
    spec = function_spec(fn)
    concurrency = _max_concurrency(fn)
    response_headers["x-amz-executed-version"] = spec.version
    if invocation_type == "DryRun":
        return b""
    request_id = str(uuid.uuid4())
    response_headers["x-amzn-requestid"] = request_id
    if invocation_type == "Event":
        threading.Thread(
            target=_invoke_quietly,
            args=(spec, concurrency, request_id, payload, invoked_arn),
            name=f"lambda-event-{spec.function_name}",
            daemon=True,
        ).start()
        return b""
    result = _invoke(spec, concurrency, request_id, payload, invoked_arn)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    return result.payload


def function_spec(fn: LambdaFunction) -> FunctionSpec:
    runtime_name = fn.run_time or ""
    if fn.package_type != "Zip" or not runtime_name.startswith("python"):
        raise LambdaClientError(
            "InvalidRuntimeException",
            f"localaws runs Python zip functions only, not {fn.package_type} {runtime_name}",
        )
    return FunctionSpec(
        function_name=fn.function_name,
        function_arn=make_function_arn(fn.region, fn.account_id, fn.function_name),
        version=str(fn.version),
        region=fn.region,
        handler=fn.handler or "",
        runtime=runtime_name,
        code_sha256=fn.code_sha_256,
        timeout_seconds=float(fn.timeout),
        memory_mb=int(fn.memory_size),
        environment=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
        revision=str(fn.last_modified),
        code_zip=getattr(fn, "code_bytes", b""),
    )


def _max_concurrency(fn: LambdaFunction) -> int:
    reserved = fn.reserved_concurrency
    if reserved is None or reserved == "":
        return int(os.environ.get("LOCALAWS_LAMBDA_MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY))
    if int(reserved) <= 0:
        raise TooManyRequestsError("Rate Exceeded.")
    return int(reserved)


def _payload_bytes(body: Any) -> bytes:
    if body is None or body == "" or body == b"":
        return b"{}"
    data = body if isinstance(body, bytes) else str(body).encode()
    try:
        json.loads(data)
    except ValueError as exc:
        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc
    return data


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return str(value) if value is not None else None


def _invoke(spec: FunctionSpec, concurrency: int, request_id: str, payload: bytes, arn: str) -> InvokeResult:
    result = runtime().invoke(spec, concurrency, request_id, payload, arn)
    with _LOCK:
        listeners = tuple(_LISTENERS)
    for listener in listeners:
        listener(spec, result)
    return result


def _invoke_quietly(spec: FunctionSpec, concurrency: int, request_id: str, payload: bytes, arn: str) -> None:
    """An asynchronous invocation: the caller already has its 202, failures only reach the logs."""
    try:
        _invoke(spec, concurrency, request_id, payload, arn)
    except Exception as exc:
        print(f"localaws: async invoke of {spec.function_name} failed: {exc!r}", file=sys.stderr)
