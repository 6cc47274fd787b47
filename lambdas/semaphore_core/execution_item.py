"""The per-execution item (docs/lock-item.md): keyed by the execution ARN, it names the execution's lock and,
in queue mode, holds the waiting task's current token.

Tokens live here, one small item per execution, not in the lock item's queue: a token is long and the lock
item is limited to 400 KB. The queue acquire writes this item before it joins the queue (replacing the
token of an earlier attempt), so whoever grants the execution a slot finds the token to resume it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from semaphore_core.config import LockTableConfig
from semaphore_core.dynamo import AttributeValue, DynamoDBClient, is_throttling, string
from semaphore_core.errors import LockThrottledError

LOCK_NAME = "lockName"
TASK_TOKEN = "taskToken"


@dataclass(frozen=True)
class ExecutionItem:
    lock_name: str | None
    task_token: str | None


def execution_key(config: LockTableConfig, execution_arn: str) -> dict[str, AttributeValue]:
    return {config.lock_id_attribute: string(execution_arn)}


def put_execution_item(
    client: DynamoDBClient, config: LockTableConfig, execution_arn: str, lock_name: str, task_token: str
) -> ExecutionItem | None:
    """Write (or replace) the execution's item with its lock and current task token; returns the item it
    replaced (None on the execution's first attempt)."""
    item = {
        **execution_key(config, execution_arn),
        LOCK_NAME: string(lock_name),
        TASK_TOKEN: string(task_token),
    }
    response = _call(
        lambda: client.put_item(TableName=config.table_name, Item=item, ReturnValues="ALL_OLD"), execution_arn
    )
    return _parse(response.get("Attributes"))


def read_execution_item(
    client: DynamoDBClient, config: LockTableConfig, execution_arn: str
) -> ExecutionItem | None:
    """A strongly consistent read; None when the execution has no item (never acquired, or released)."""
    response = _call(
        lambda: client.get_item(
            TableName=config.table_name, Key=execution_key(config, execution_arn), ConsistentRead=True
        ),
        execution_arn,
    )
    return _parse(response.get("Item"))


def delete_execution_item(client: DynamoDBClient, config: LockTableConfig, execution_arn: str) -> None:
    """Delete the execution's item; deleting a missing item succeeds."""
    _call(
        lambda: client.delete_item(TableName=config.table_name, Key=execution_key(config, execution_arn)),
        execution_arn,
    )


def _parse(item: object) -> ExecutionItem | None:
    if not isinstance(item, Mapping) or not item:
        return None
    return ExecutionItem(lock_name=_string(item.get(LOCK_NAME)), task_token=_string(item.get(TASK_TOKEN)))


def _string(value: object) -> str | None:
    text = value.get("S") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else None


def _call(request: Callable[[], dict[str, Any]], execution_arn: str) -> dict[str, Any]:
    try:
        return request()
    except ClientError as error:
        if is_throttling(error):
            raise LockThrottledError(
                f"DynamoDB throttled the item of execution {execution_arn} after the client's retries"
            ) from error
        raise
