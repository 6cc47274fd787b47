"""Meter what AWS would bill: DynamoDB request units per table and caller, Lambda usage per function.

moto bills nothing and reports a fixed ConsumedCapacity. This patch sizes the item each GetItem, PutItem,
UpdateItem and DeleteItem touches, before and after, and adds the request units AWS would charge to
``localaws.meter.METER``; other item operations (Scan, Query, batches, transactions) are counted as
unmetered. The Lambda patch records each invocation's billed duration there. Section ``meter`` of
``GET /localaws/stats`` returns the totals (cumulative: a caller takes two readings and subtracts).

Every DynamoDB request already runs under ``localaws.patches.dynamodb``'s lock, so the item read before a
write is the one the write sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.responses import DynamoHandler

from localaws import admin
from localaws.meter import METER, item_size, read_units, write_units

#: Item operations whose request units this patch does not work out; they are counted by name.
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
_APPLIED = False


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    _meter(DynamoHandler, "get_item", _read)
    for name in ("put_item", "update_item", "delete_item"):
        _meter(DynamoHandler, name, _write)
    for name in UNMETERED:
        if hasattr(DynamoHandler, name):
            _count(DynamoHandler, name)
    section = admin.Section(get_config=dict, set_config=_no_settings, get_stats=METER.snapshot)
    admin.register_section("meter", section)
    admin.install()
    _APPLIED = True


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
