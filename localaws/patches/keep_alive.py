"""Keep an SDK's connection open between requests (HTTP/1.1 keep-alive), as AWS does.

werkzeug's development server, which moto serves with, answers one request per connection, closes it, and
then keeps the thread for another 10 ms draining the socket. AWS keeps an SDK's connection open between
calls, so a Lambda handler's third DynamoDB call costs no connection set-up. ``KeepAliveRequestHandler``
answers request after request on one connection; a client that asks for ``Connection: close`` (or speaks
HTTP/1.0) still gets it. It took some 5 ms off a queue-mode handoff here (p50 32 ms to 27 ms: an invocation
and four calls, each of which had opened its own connection), and poll mode's DynamoDB tasks gained as much.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server import threaded_moto_server
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.wsgi import LimitedStream, get_content_length

from localaws.patches import patch

LOG = logging.getLogger(__name__)


@patch
def apply() -> None:
    # ThreadedMotoServer looks the handler class up by this name when it starts serving.
    threaded_moto_server.MotoRequestHandler = KeepAliveRequestHandler  # type: ignore[attr-defined]


#: Response headers the handler sets itself: the body's length, and whether the connection stays open.
_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}


class _Response:
    """What the WSGI application answered: status, headers and any body written through ``write``."""

    def __init__(self) -> None:
        self.status = "500 Internal Server Error"
        self.headers: list[tuple[str, str]] = []
        self.written: list[bytes] = []

    def start(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        self.status, self.headers = status, list(headers)
        return self.written.append


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, but the connection stays open for the client's next request (HTTP/1.1
    keep-alive) unless the client asked to close it. The whole response is built before it is sent, so it
    always carries its Content-Length; the rest of the request body is read before the next request."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY the body would wait for the client's
    # delayed acknowledgement of the headers (some 40 ms), which a connection used once never showed.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        if not environ.get("wsgi.input_terminated"):  # not chunked: the body is Content-Length bytes
            length = get_content_length(environ) or 0  # absent, negative or not a number: no body
            environ["wsgi.input"] = LimitedStream(self.rfile, length)  # type: ignore[arg-type]
        response = _Response()
        try:
            payload = _run(self.server.app, environ, response)
        except Exception:
            LOG.exception("localaws: %s %s failed", self.command, self.path)
            response, payload = _Response(), b""
            self.close_connection = True
        try:
            _drain(environ["wsgi.input"])
        except (OSError, ValueError):
            self.close_connection = True
        self._send(response, payload, head=self.command == "HEAD")

    def _send(self, response: _Response, payload: bytes, head: bool) -> None:
        code, _, reason = response.status.partition(" ")
        self.send_response(int(code), reason)
        declared = None
        for name, value in response.headers:
            if name.lower() == "content-length":
                declared = value
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if int(code) not in (204, 304):
            self.send_header("Content-Length", declared if head and declared else str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(payload)


def _run(app: Any, environ: dict[str, Any], response: _Response) -> bytes:
    chunks: Iterable[bytes] = app(environ, response.start)
    try:
        return b"".join([*response.written, *chunks])
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _drain(body: Any) -> None:
    """Read what the application left of the request body, so the next request starts where it should."""
    while body.read(65536):
        pass
