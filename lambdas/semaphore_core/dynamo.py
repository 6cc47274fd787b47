"""Small DynamoDB helpers: the client (one per execution environment), error classification and the
low-level attribute-value format (``{"N": "3"}``), used directly so no (de)serializer guesses types.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Mapping, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from semaphore_core.errors import LockItemCorruptError

#: One DynamoDB attribute value in the low-level format, e.g. ``{"N": "3"}`` or ``{"M": {...}}``.
AttributeValue = Dict[str, Any]
#: An item as the low-level API returns it.
Item = Mapping[str, AttributeValue]

#: Error codes DynamoDB uses when it sheds load. botocore retries them itself first (standard mode).
THROTTLING_ERROR_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

#: Few attempts: a caller of these functions is a state machine that waits and retries on its own, so a
#: long in-Lambda backoff would only hold a slot-less execution in a billed Lambda.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=4,
)


class DynamoDBClient(Protocol):
    """The part of the boto3 DynamoDB client these functions use (a stub in tests needs only these)."""

    def update_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def get_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def put_item(self, **kwargs: Any) -> dict[str, Any]: ...

    def delete_item(self, **kwargs: Any) -> dict[str, Any]: ...


@functools.lru_cache(maxsize=None)
def get_client() -> DynamoDBClient:
    """The DynamoDB client of this execution environment, created on first use and reused while warm.

    boto3 reads the region from the runtime's environment and honours ``AWS_ENDPOINT_URL`` when set.
    """
    client: DynamoDBClient = boto3.client("dynamodb", config=CLIENT_CONFIG)
    return client


def error_code(error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    return str(code)


def is_throttling(error: ClientError) -> bool:
    return error_code(error) in THROTTLING_ERROR_CODES


def is_conditional_check_failed(error: ClientError) -> bool:
    return error_code(error) == CONDITIONAL_CHECK_FAILED


def old_item_of(error: ClientError) -> Item | None:
    """The item a failed conditional write saw (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), if any."""
    item = error.response.get("Item")
    return item if isinstance(item, Mapping) else None


def number(value: int) -> AttributeValue:
    return {"N": str(value)}


def string(value: str) -> AttributeValue:
    return {"S": value}


def parse_int(value: object, what: str) -> int:
    """An integral ``{"N": ...}`` value as an int; anything else means the item is not in the shared shape."""
    if not isinstance(value, Mapping) or not isinstance(value.get("N"), str):
        raise LockItemCorruptError(f"{what} must be a number attribute, got {value!r}")
    try:
        parsed = Decimal(value["N"])
    except InvalidOperation:
        raise LockItemCorruptError(f"{what} is not a number: {value['N']!r}") from None
    if parsed != parsed.to_integral_value():
        raise LockItemCorruptError(f"{what} must be a whole number, got {value['N']}")
    return int(parsed)
