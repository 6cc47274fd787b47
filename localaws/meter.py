"""What AWS would bill for the requests the local AWS serves: DynamoDB request units and Lambda usage.

AWS bills a DynamoDB request by the size of the item it touches, not by the bytes sent: a write costs one
write request unit per started KB of the larger of the item before and after it (a failed conditional write
the item as it was; at least 1); a read one read request unit per started 4 KB of the item, half that when
eventually consistent (an absent item still costs the minimum). Sizes follow AWS's published rules
("DynamoDB item sizes and formats"): attribute names and strings in UTF-8 bytes, numbers one byte per two
significant digits plus one, binaries their raw bytes, booleans and nulls one byte, and lists and maps
3 bytes plus one per element besides their elements. A Lambda invocation is billed as one request plus its
duration, rounded up to the millisecond, times the function's memory.

``Meter`` keeps the totals per table and caller (the access key id that signed the request, so that an
observer's reads can be told apart) and per function; ``localaws.patches.meter`` feeds it and serves it as
section ``meter`` of ``/localaws/stats``.
"""

from __future__ import annotations

import base64
import math
import threading
from collections.abc import Mapping
from typing import Any

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
