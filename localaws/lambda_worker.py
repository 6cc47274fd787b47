"""One warm Lambda execution environment: imports the handler once, then serves invocations until stopped.

The server starts this file as a script (``python -I lambda_worker.py FD TASK_ROOT HANDLER``) so that nothing
of this repository is importable by the handler, as on AWS where only the deployment package and the runtime
are. It therefore imports nothing from ``localaws``; the server imports the framing helpers from here instead.

Protocol on the socket inherited as FD, one frame per message: a 4-byte length of a JSON header, a 4-byte
length of a raw body, the header, the body. The worker first reports the init phase (``ready`` or
``init_error``), then answers each ``invoke`` frame with a ``result`` or an ``error`` frame whose body is the
response payload. End of file on the socket means the server stopped: the worker exits.

Handler output goes to this process's stdout/stderr, which the server points at a log file or its own
stderr (never its stdout, where the launcher waits for the readiness line).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any

_LENGTHS = struct.Struct(">II")
#: How often the worker checks that the server that started it is still alive.
_PARENT_POLL_SECONDS = 1.0


class ConnectionClosedError(Exception):
    """The other end of the worker socket went away."""


def send_frame(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_LENGTHS.pack(len(head), len(body)) + head + body)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    if size == 0:
        return b""
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = sock.recv_into(view[received:], size - received)
        if count == 0:
            raise ConnectionClosedError("socket closed mid-frame" if received else "socket closed")
        received += count
    return bytes(buffer)


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    head_len, body_len = _LENGTHS.unpack(_recv_exact(sock, _LENGTHS.size))
    header = json.loads(_recv_exact(sock, head_len))
    return header, _recv_exact(sock, body_len)


class LambdaContext:
    """The context object of the Python runtime (same attribute names and types as on AWS)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        # A string on AWS too: the runtime copies it from the environment.
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def _user_stack(exc: BaseException) -> list[str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return traceback.format_list(frames)


def load_handler(spec: str) -> tuple[Any, dict[str, Any] | None]:
    """Import ``pkg.module.func`` as the Python runtime does; on failure, the runtime's error object."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        return None, _error(
            "Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack"
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        return None, _error(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", _user_stack(exc)
        )
    except Exception as exc:
        return None, _error(type(exc).__name__, str(exc), _user_stack(exc))
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler, None


def _invoke(handler: Any, header: dict[str, Any], body: bytes) -> tuple[bool, bytes]:
    """Run one invocation; (failed, payload) where payload is the JSON response or error object."""
    context = LambdaContext(header["request_id"], header["invoked_arn"], header["deadline_ms"])
    try:
        event = json.loads(body) if body else {}
        result = handler(event, context)
    except Exception as exc:
        return True, json.dumps(_error(type(exc).__name__, str(exc), _user_stack(exc))).encode()
    try:
        return False, json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        return True, json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {exc}")).encode()


def _exit_when_orphaned(parent_pid: int) -> None:
    """Die with the server even if it is killed while a handler runs (no orphaned environments)."""
    while True:
        time.sleep(_PARENT_POLL_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(1)


def _log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _install_runtime_logging() -> None:
    """As Lambda's Python runtime does: a handler on the root logger, writing to the function's log, while
    the root logger stays at WARNING. A handler's own logger set to INFO is therefore logged, the root's
    INFO messages are not."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def serve(sock: socket.socket, task_root: str, handler_spec: str) -> int:
    started = time.perf_counter()
    _install_runtime_logging()
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    handler, init_error = load_handler(handler_spec)
    init_ms = (time.perf_counter() - started) * 1000
    if init_error is not None:
        _log(f"[ERROR] {init_error['errorType']}: {init_error['errorMessage']}")
        send_frame(sock, {"type": "init_error", "init_ms": init_ms}, json.dumps(init_error).encode())
        return 1
    send_frame(sock, {"type": "ready", "init_ms": init_ms})
    version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    while True:
        try:
            header, body = recv_frame(sock)
        except ConnectionClosedError:
            return 0
        request_id = header["request_id"]
        _log(f"START RequestId: {request_id} Version: {version}")
        begun = time.perf_counter()
        failed, payload = _invoke(handler, header, body)
        duration_ms = (time.perf_counter() - begun) * 1000
        _log(f"END RequestId: {request_id}")
        _log(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Memory Size: {os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']} MB"
        )
        send_frame(sock, {"type": "error" if failed else "result", "duration_ms": duration_ms}, payload)


def main(argv: list[str]) -> int:
    fd, task_root, handler_spec = int(argv[1]), argv[2], argv[3]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    with socket.socket(fileno=fd) as sock:
        return serve(sock, task_root, handler_spec)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
