"""The per-execution item (docs/lock-item.md): keyed by the holder id (an execution ARN, or an iteration
holder's ``<execution ARN>#<iteration id>``), it names the holder's lock and, in queue mode, holds the waiting
task's current token. And the registry item of an execution with iteration holders.

Tokens live here, one small item per holder, not in the lock item's queue: a token is long and the lock
item is limited to 400 KB. The queue acquire writes this item before it joins the queue (replacing the
token of an earlier attempt), so whoever grants the holder a slot finds the token to resume it with. Every
waiting iteration has its own item, so its own token.

The **registry** (key ``<execution ARN>#``, ``semaphore_core.lock_item.registry_key_name``) lists, in the
string set ``holders``, the execution ARN itself and every iteration holder the execution registered: when
the execution ends without its iterations releasing, the release of the ended execution finds their slots
through it. Registering and unregistering are set updates (``ADD``/``DELETE``), so retries are harmless;
the item goes as a whole only once the execution has ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from semaphore_core.config import LockTableConfig
from semaphore_core.dynamo import (
    AttributeValue,
    DynamoDBClient,
    is_conditional_check_failed,
    is_throttling,
    string,
)
from semaphore_core.errors import LockThrottledError
from semaphore_core.lock_item import execution_of, is_iteration_holder, registry_key_name

LOCK_NAME = "lockName"
TASK_TOKEN = "taskToken"
#: The registry's string set. It always holds the execution ARN too: a set DynamoDB would empty by the last
#: DELETE disappears, and an item with no set left could not be told from one never written.
HOLDERS = "holders"


@dataclass(frozen=True)
class ExecutionItem:
    lock_name: str | None
    task_token: str | None


def execution_key(config: LockTableConfig, holder_id: str) -> dict[str, AttributeValue]:
    """The key of the per-execution item of a holder (an execution ARN or an iteration holder id)."""
    return {config.lock_id_attribute: string(holder_id)}


def put_execution_item(
    client: DynamoDBClient, config: LockTableConfig, holder_id: str, lock_name: str, task_token: str
) -> ExecutionItem | None:
    """Write (or replace) the holder's item with its lock and current task token; returns the item it
    replaced (None on the holder's first attempt)."""
    item = {
        **execution_key(config, holder_id),
        LOCK_NAME: string(lock_name),
        TASK_TOKEN: string(task_token),
    }
    response = _call(
        lambda: client.put_item(TableName=config.table_name, Item=item, ReturnValues="ALL_OLD"), holder_id
    )
    return _parse(response.get("Attributes"))


def read_execution_item(
    client: DynamoDBClient, config: LockTableConfig, holder_id: str
) -> ExecutionItem | None:
    """A strongly consistent read; None when the holder has no item (never acquired, or released)."""
    response = _call(
        lambda: client.get_item(
            TableName=config.table_name, Key=execution_key(config, holder_id), ConsistentRead=True
        ),
        holder_id,
    )
    return _parse(response.get("Item"))


def delete_execution_item(client: DynamoDBClient, config: LockTableConfig, holder_id: str) -> None:
    """Delete the holder's item; deleting a missing item succeeds."""
    _call(
        lambda: client.delete_item(TableName=config.table_name, Key=execution_key(config, holder_id)),
        holder_id,
    )


def register_holder(client: DynamoDBClient, config: LockTableConfig, holder_id: str) -> None:
    """List an iteration holder in its execution's registry: ``ADD holders {holder id, execution ARN}``
    (creating the item on the first one). Adding what is there changes nothing, so a retry may repeat it."""
    execution_arn = execution_of(holder_id)
    _call(
        lambda: client.update_item(
            TableName=config.table_name,
            Key=execution_key(config, registry_key_name(execution_arn)),
            UpdateExpression="ADD #holders :holders",
            ExpressionAttributeNames={"#holders": HOLDERS},
            ExpressionAttributeValues={":holders": {"SS": sorted({holder_id, execution_arn})}},
        ),
        holder_id,
    )


def unregister_holder(client: DynamoDBClient, config: LockTableConfig, holder_id: str) -> None:
    """Take an iteration holder off its execution's registry (``DELETE holders {holder id}``), after it
    released. Only while the registry exists: once it has been deleted (its execution ended), an update
    would create it again as an item of nothing but its key. Removing what is not there changes nothing."""
    key = execution_key(config, registry_key_name(execution_of(holder_id)))
    try:
        _call(
            lambda: client.update_item(
                TableName=config.table_name,
                Key=key,
                UpdateExpression="DELETE #holders :holders",
                ConditionExpression="attribute_exists(#key)",
                ExpressionAttributeNames={"#holders": HOLDERS, "#key": config.lock_id_attribute},
                ExpressionAttributeValues={":holders": {"SS": [holder_id]}},
            ),
            holder_id,
        )
    except ClientError as error:
        if not is_conditional_check_failed(error):
            raise


def read_registry(client: DynamoDBClient, config: LockTableConfig, execution_arn: str) -> list[str]:
    """The iteration holders registered for ``execution_arn``, sorted (a strongly consistent read); empty
    when it has no registry. The execution ARN the set also holds is left out, as is anything that is not
    one of this execution's iteration holders."""
    response = _call(
        lambda: client.get_item(
            TableName=config.table_name,
            Key=execution_key(config, registry_key_name(execution_arn)),
            ConsistentRead=True,
        ),
        execution_arn,
    )
    item = response.get("Item")
    value = item.get(HOLDERS) if isinstance(item, Mapping) else None
    members = value.get("SS") if isinstance(value, Mapping) else None
    if not isinstance(members, list):
        return []
    return sorted(
        member
        for member in members
        if isinstance(member, str) and is_iteration_holder(member) and execution_of(member) == execution_arn
    )


def delete_registry(client: DynamoDBClient, config: LockTableConfig, execution_arn: str) -> None:
    """Delete the execution's registry, once it has ended and every holder listed there was released;
    deleting a missing item succeeds."""
    _call(
        lambda: client.delete_item(
            TableName=config.table_name, Key=execution_key(config, registry_key_name(execution_arn))
        ),
        execution_arn,
    )


def _parse(item: object) -> ExecutionItem | None:
    if not isinstance(item, Mapping) or not item:
        return None
    return ExecutionItem(lock_name=_string(item.get(LOCK_NAME)), task_token=_string(item.get(TASK_TOKEN)))


def _string(value: object) -> str | None:
    text = value.get("S") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else None


def _call(request: Callable[[], dict[str, Any]], holder_id: str) -> dict[str, Any]:
    try:
        return request()
    except ClientError as error:
        if is_throttling(error):
            raise LockThrottledError(
                f"DynamoDB throttled the item of {holder_id} after the client's retries"
            ) from error
        raise
