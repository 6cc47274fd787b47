"""Take moto's own per-request and per-execution CPU out of the benchmark's measurements.

A plugin of the benchmark's server (``LocalAwsProcess(plugins=("bench.server.speedups",))``). On AWS a
service answers a call without spending the caller's CPU. Here every service, every running execution and
the benchmark share one Python process on a small machine, so moto's fixed costs compete with the executions
being measured. Profiling the server under the benchmark's burst of executions showed these costs, each
removed without changing any answer:

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

The end-to-end tests do without them (measured: tests/e2e/test_contention.py 57 s with them, 64 s without;
tests/e2e/test_queue.py 116 s and 119 s), so the local AWS itself keeps only what AWS does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

from localaws.patches import patch

#: Definitions whose syntax trees are kept (least recently used ones are dropped first).
MAX_CACHED_DEFINITIONS = 64


@patch
def apply() -> None:
    _route_by_host_once()
    _parse_each_definition_once()
    _write_plain_attribute_values_as_they_are()
    if os.environ.get("LOCALAWS_REQUEST_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)


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
