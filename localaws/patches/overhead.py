"""Take the emulator's own per-request and per-execution CPU out of the measurements.

On AWS a service answers a call without spending the caller's CPU. Here every service, every running
execution and the benchmark share one Python process on a small machine, so moto's fixed costs compete
with the executions being measured. Profiling the server under the benchmark's burst of executions showed
these costs, each removed without changing any answer:

- **Routing a request** (about a third of the server's busy time): for every request, moto's dispatcher
  lists its own package directory (``os.listdir`` plus ``isdir`` on some 200 entries) and tries every
  service's URL pattern, while holding the dispatcher's lock, to map the host name to a service. The host
  name decides the answer alone and the package never changes while the server runs, so the answer is
  kept per host name.
- **Parsing the state machine definition** (about an eighth): moto lexes and parses the definition with
  the ANTLR runtime for every execution. The syntax tree depends on the definition text only and nothing
  changes it afterwards, so it is kept per definition (a bounded number of definitions); the evaluation
  components are still built fresh from it for each execution, so executions share no state.
- **Writing DynamoDB items into responses**: moto serializes every attribute value of a response by
  walking the service model, member by member, which for a lock item with 40 queued executions took about
  three quarters of a GetItem's time (some 15 ms here, more under load). An attribute value that is
  already plain JSON (strings, booleans, lists and maps of them, as moto keeps items without binary data)
  is written as it is: the result is the same document.
- **Logging every request** (about a twentieth): werkzeug writes one access-log line per request. Only
  warnings and errors are logged now; ``LOCALAWS_REQUEST_LOG=1`` brings the access log back.
- **A new connection for every request**: werkzeug's development server answers one request per
  connection, closes it, and then keeps the thread for another 10 ms draining the socket. AWS keeps an SDK's
  connection open between calls (HTTP/1.1 keep-alive), so a Lambda handler's third DynamoDB call costs no
  connection set-up. ``KeepAliveRequestHandler`` answers request after request on one connection, as AWS
  does; a client that asks for ``Connection: close`` (or speaks HTTP/1.0) still gets it. It took some
  5 ms off a queue-mode handoff here (p50 32 ms to 27 ms: an invocation and four calls, each of which had
  opened its own connection), and poll mode's DynamoDB tasks gained as much.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.moto_server import threaded_moto_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from werkzeug.wsgi import LimitedStream, get_content_length

#: Definitions whose syntax trees are kept (least recently used ones are dropped first).
MAX_CACHED_DEFINITIONS = 64

_APPLIED = False
LOG = logging.getLogger(__name__)


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    # ThreadedMotoServer looks the handler class up by this name when it starts serving.
    threaded_moto_server.MotoRequestHandler = KeepAliveRequestHandler  # type: ignore[attr-defined]
    _route_by_host_once()
    _parse_each_definition_once()
    _write_plain_attribute_values_as_they_are()
    if os.environ.get("LOCALAWS_REQUEST_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _APPLIED = True


def _route_by_host_once() -> None:
    original = DomainDispatcherApplication.get_backend_for_host
    routes: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        # Called with the dispatcher's lock held, so the dictionary needs no lock of its own.
        try:
            return routes[host]
        except KeyError:
            backend = routes[host] = original(self, host)
            return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


class SyntaxTrees:
    """The ANTLR syntax trees of recently parsed definitions, by definition text."""

    def __init__(self, capacity: int = MAX_CACHED_DEFINITIONS) -> None:
        self.capacity = capacity
        self._trees: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, definition: str) -> Any | None:
        with self._lock:
            tree = self._trees.get(definition)
            if tree is not None:
                self._trees.move_to_end(definition)
            return tree

    def put(self, definition: str, tree: Any) -> None:
        with self._lock:
            self._trees[definition] = tree
            self._trees.move_to_end(definition)
            while len(self._trees) > self.capacity:
                self._trees.popitem(last=False)

    def __len__(self) -> int:
        return len(self._trees)


TREES = SyntaxTrees()


def _parse_each_definition_once() -> None:
    parser_class = asl_parser.AmazonStateLanguageParser
    original = parser_class.parse

    def parse(definition: str) -> tuple[Any, Any]:
        tree = TREES.get(definition)
        if tree is None:
            # A definition with syntax errors raises here and is not kept.
            program, tree = original(definition)
            TREES.put(definition, tree)
            return program, tree
        return Preprocessor().visit(tree), tree

    parser_class.parse = staticmethod(parse)  # type: ignore[method-assign]


#: The DynamoDB attribute value types whose JSON form is the value itself (no binary: that is base64-encoded).
_PLAIN_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_SETS = {"SS", "NS"}


def is_plain_attribute_value(value: Any) -> bool:
    """Whether ``value`` is a DynamoDB attribute value in wire form that needs no conversion: one type key
    with a string, boolean, string list, or a list or map of such values."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    scalar = _PLAIN_SCALARS.get(kind)
    if scalar is not None:
        return type(inner) is scalar
    if kind in _PLAIN_SETS:
        return isinstance(inner, list) and all(type(v) is str for v in inner)
    if kind == "L":
        return isinstance(inner, list) and all(is_plain_attribute_value(v) for v in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(
            type(k) is str and is_plain_attribute_value(v) for k, v in inner.items()
        )
    return False


def _write_plain_attribute_values_as_they_are() -> None:
    original = BaseJSONSerializer._serialize_type_structure

    def serialize_structure(
        self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if key and shape.name == "AttributeValue" and is_plain_attribute_value(value):
            self._default_serialize(serialized, value, shape, key)
            return
        original(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]


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
