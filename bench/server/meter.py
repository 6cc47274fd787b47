"""Meter what AWS would bill for the requests the local AWS serves: DynamoDB request units, Lambda usage.

A plugin of the benchmark's server (``LocalAwsProcess(plugins=("bench.server.meter",))``): moto bills nothing
and reports a fixed ConsumedCapacity. ``apply`` sizes the item each GetItem, PutItem, UpdateItem and
DeleteItem touches, before and after, and adds the request units AWS would charge to ``METER``; other item
operations (Scan, Query, batches, transactions) are counted as unmetered. It listens to the local AWS's
Lambda invocations (``localaws.patches.awslambda.on_invocation``) for each one's billed duration. Section
``meter`` of ``GET /localaws/stats`` returns the totals (cumulative: a caller takes two readings and
subtracts); ``bench.usage`` reads it.

AWS bills a DynamoDB request by the size of the item it touches, not by the bytes sent: a write costs one
write request unit per started KB of the larger of the item before and after it (a failed conditional write
the item as it was; at least 1); a read one read request unit per started 4 KB of the item, half that when
eventually consistent (an absent item still costs the minimum). Sizes follow AWS's published rules
("DynamoDB item sizes and formats"): attribute names and strings in UTF-8 bytes, numbers one byte per two
significant digits plus one, binaries their raw bytes, booleans and nulls one byte, and lists and maps
3 bytes plus one per element besides their elements. A Lambda invocation is billed as one request plus its
duration, rounded up to the millisecond, times the function's memory.

Totals are kept per table and caller (the access key id that signed the request, so that an observer's reads
can be told apart) and per function. Every DynamoDB request already runs under
``localaws.patches.dynamodb``'s lock, so the item read before a write is the one the write sees.
"""

from __future__ import annotations

import base64
import math
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.responses import DynamoHandler

from localaws import admin
from localaws.lambda_environment import FunctionSpec, InvokeResult
from localaws.patches import awslambda, patch

#: Bytes per write request unit and per read request unit.
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def value_size(type_name: str, value: Any) -> int:
    """Bytes of one attribute value (without its name), given its DynamoDB type and the value as moto or
    the wire holds it: lists and maps of further values, each a ``{type: value}`` mapping or an object with
    ``type`` and ``value`` attributes (moto's ``DynamoType``)."""
    if type_name == "S":
        return len(str(value).encode())
    if type_name == "N":
        return number_size(str(value))
    if type_name == "B":
        return len(_raw_bytes(value))
    if type_name in ("BOOL", "NULL"):
        return 1
    if type_name == "SS":
        return sum(len(str(v).encode()) for v in value)
    if type_name == "NS":
        return sum(number_size(str(v)) for v in value)
    if type_name == "BS":
        return sum(len(_raw_bytes(v)) for v in value)
    if type_name == "L":
        return 3 + sum(1 + _typed_size(element) for element in value)
    if type_name == "M":
        return 3 + sum(1 + len(str(name).encode()) + _typed_size(element) for name, element in value.items())
    raise ValueError(f"unknown DynamoDB type {type_name!r}")


def number_size(text: str) -> int:
    """One byte per two significant digits (leading and trailing zeros trimmed), plus one."""
    mantissa = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = mantissa.strip("0")
    return math.ceil(len(digits) / 2) + 1


def item_size(attributes: Mapping[str, Any]) -> int:
    """Bytes of a whole item: every attribute's name plus its value."""
    return sum(len(name.encode()) + _typed_size(value) for name, value in attributes.items())


def write_units(*item_sizes: int) -> int:
    """Write request units of a write whose item was (before, after) these sizes: the larger, per started
    KB, at least 1."""
    return max(1, math.ceil(max(item_sizes, default=0) / WRITE_UNIT_BYTES))


def read_units(size: int | None, consistent: bool) -> float:
    """Read request units of reading one item of ``size`` bytes (None: no such item)."""
    units = max(1, math.ceil((size or 0) / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _typed_size(value: Any) -> int:
    if isinstance(value, Mapping):
        ((type_name, inner),) = value.items()
        return value_size(type_name, inner)
    return value_size(value.type, value.value)


def _raw_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return str(value).encode()


class Meter:
    """Thread-safe totals; ``snapshot`` returns a JSON-ready copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dynamodb: dict[str, dict[str, dict[str, Any]]] = {}
        self._lambda: dict[str, dict[str, Any]] = {}

    def record_dynamodb(
        self, table: str, caller: str, operation: str, read: float = 0.0, write: int = 0, metered: bool = True
    ) -> None:
        with self._lock:
            totals = self._dynamodb.setdefault(table, {}).setdefault(
                caller, {"read_units": 0.0, "write_units": 0, "requests": {}, "unmetered": {}}
            )
            counts = totals["requests"] if metered else totals["unmetered"]
            counts[operation] = counts.get(operation, 0) + 1
            totals["read_units"] += read
            totals["write_units"] += write

    def record_invocation(self, function_name: str, memory_mb: int, duration_ms: float | None) -> None:
        """One invocation; ``duration_ms`` None when the handler did not finish (billed as 0 ms here)."""
        billed_ms = math.ceil(duration_ms) if duration_ms is not None else 0
        with self._lock:
            totals = self._lambda.setdefault(
                function_name, {"invocations": 0, "billed_ms": 0, "gb_seconds": 0.0, "memory_mb": memory_mb}
            )
            totals["invocations"] += 1
            totals["billed_ms"] += billed_ms
            totals["gb_seconds"] += memory_mb / 1024 * billed_ms / 1000
            totals["memory_mb"] = memory_mb

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "dynamodb": {
                    table: {
                        caller: {
                            **totals,
                            "requests": dict(totals["requests"]),
                            "unmetered": dict(totals["unmetered"]),
                        }
                        for caller, totals in callers.items()
                    }
                    for table, callers in self._dynamodb.items()
                },
                "lambda": {name: dict(totals) for name, totals in self._lambda.items()},
            }


#: The server's one meter.
METER = Meter()

#: Item operations whose request units the meter does not work out; they are counted by name.
UNMETERED = (
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "batch_execute_statement",
    "execute_transaction",
)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


@patch
def apply() -> None:
    _meter(DynamoHandler, "get_item", _read)
    for name in ("put_item", "update_item", "delete_item"):
        _meter(DynamoHandler, name, _write)
    for name in UNMETERED:
        if hasattr(DynamoHandler, name):
            _count(DynamoHandler, name)
    section = admin.Section(get_config=dict, set_config=_no_settings, get_stats=METER.snapshot)
    admin.register_section("meter", section)
    admin.install()
    awslambda.on_invocation(_record_invocation)


def _record_invocation(spec: FunctionSpec, result: InvokeResult) -> None:
    METER.record_invocation(spec.function_name, spec.memory_mb, result.duration_ms)


def caller_of(handler: DynamoHandler) -> str:
    """The access key id in the request's signature ("" when unsigned)."""
    match = _CREDENTIAL.search(str(handler.headers.get("Authorization", "")))
    return match.group(1) if match else ""


def _operation(method_name: str) -> str:
    return "".join(part.capitalize() for part in method_name.split("_"))


def _meter(handler_class: type, method_name: str, measure: Callable[..., Any]) -> None:
    original = getattr(handler_class, method_name)
    operation = _operation(method_name)

    def metered(self: DynamoHandler) -> Any:
        return measure(self, operation, lambda: original(self))

    setattr(handler_class, method_name, metered)


def _count(handler_class: type, method_name: str) -> None:
    original = getattr(handler_class, method_name)
    operation = _operation(method_name)

    def counted(self: DynamoHandler) -> Any:
        result = original(self)
        METER.record_dynamodb(str(self.body.get("TableName", "")), caller_of(self), operation, metered=False)
        return result

    setattr(handler_class, method_name, counted)


def _current_size(handler: DynamoHandler) -> int | None:
    """Size of the item the request's key names, as stored now; None if there is none (or no such table)."""
    body = handler.body
    try:
        table = handler.dynamodb_backend.get_table(body["TableName"])
        key = body.get("Key")
        if key is None:  # PutItem: the key is in the item
            item = body["Item"]
            key = {name: item[name] for name in (table.hash_key_attr, table.range_key_attr) if name}
        hash_key, range_key = handler.dynamodb_backend.get_keys_value(table, key)
        stored = table.get_item(hash_key, range_key)
    except Exception:  # a malformed request or a missing table: moto answers it with its own error
        return None
    return None if stored is None else item_size(stored.attrs)


def _read(handler: DynamoHandler, operation: str, call: Callable[[], Any]) -> Any:
    result = call()  # raises for a bad request, which AWS does not bill
    consistent = bool(handler.body.get("ConsistentRead", False))
    units = read_units(_current_size(handler), consistent)
    METER.record_dynamodb(handler.body["TableName"], caller_of(handler), operation, read=units)
    return result


def _write(handler: DynamoHandler, operation: str, call: Callable[[], Any]) -> Any:
    before = _current_size(handler) or 0
    try:
        result = call()
    except ConditionalCheckFailed:
        METER.record_dynamodb(
            handler.body["TableName"], caller_of(handler), operation, write=write_units(before)
        )
        raise
    after = _current_size(handler) or 0
    METER.record_dynamodb(
        handler.body["TableName"], caller_of(handler), operation, write=write_units(before, after)
    )
    return result


def _no_settings(values: dict[str, Any]) -> None:
    if values:
        raise admin.InvalidConfigError(f"section 'meter' has no settings; got {sorted(values)}")
