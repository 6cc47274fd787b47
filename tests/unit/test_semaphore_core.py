"""Pure helpers shared by the lock functions: item shape, validation, clock, configuration, error names."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from semaphore_core import errors
from semaphore_core.clock import iso8601_utc, parse_iso8601_ms
from semaphore_core.config import lock_table_config
from semaphore_core.dynamo import (
    is_conditional_check_failed,
    is_throttling,
    old_item_of,
    parse_int,
)
from semaphore_core.lock_item import (
    Holder,
    LockItem,
    execution_of,
    holder_value,
    is_holder_attribute,
    is_iteration_holder,
    is_valid_iteration_id,
    iteration_holder,
    registry_key_name,
)
from semaphore_core.validation import (
    optional_bool,
    optional_positive_number,
    require_exact_keys,
    require_holder_id,
    require_int,
    require_object,
    require_str,
)

HOLDER = "arn:aws:states:us-east-1:123456789012:execution:m:e1"


# Lock item -----------------------------------------------------------------------------------------------


def test_a_missing_item_is_an_empty_lock() -> None:
    assert LockItem.from_dynamodb(None) == LockItem(count=0, next_grant_at=None, holders={})
    assert LockItem.from_dynamodb({}) == LockItem()


def test_holders_are_exactly_the_attributes_named_by_an_arn() -> None:
    item = {
        "LockName": {"S": "arn:looks-like-a-holder-but-is-the-key-value"},
        "lockCount": {"N": "3"},
        "nextGrantAt": {"N": "1700000000500"},
        HOLDER: holder_value(2, "2024-01-01T00:00:00.000Z"),
        "arn:aws:states:us-east-1:123456789012:execution:m:e2": {"M": {"weight": {"N": "1"}}},
        "aRn:not-a-holder": {"S": "x"},
    }
    parsed = LockItem.from_dynamodb(item)
    assert parsed.count == 3
    assert parsed.next_grant_at == 1_700_000_000_500
    assert parsed.holders == {
        HOLDER: Holder(weight=2, acquired_at="2024-01-01T00:00:00.000Z"),
        "arn:aws:states:us-east-1:123456789012:execution:m:e2": Holder(weight=1, acquired_at=None),
    }
    assert parsed.holders_weight == 3


@pytest.mark.parametrize(
    "name",
    ["arn:aws:states:us-east-1:1:execution:m:e", "arn:", "arn:aws-cn:states:cn-north-1:1:execution:m:e"],
)
def test_is_holder_attribute(name: str) -> None:
    assert is_holder_attribute(name)


@pytest.mark.parametrize("name", ["LockName", "lockCount", "nextGrantAt", "ARN:x", " arn:x", "ar"])
def test_is_not_holder_attribute(name: str) -> None:
    assert not is_holder_attribute(name)


# Holder ids ------------------------------------------------------------------------------------------------


def test_an_iteration_holder_is_its_execution_s_arn_a_hash_and_an_iteration_id() -> None:
    holder = iteration_holder(HOLDER, "3.1837462")
    assert holder == HOLDER + "#3.1837462"
    assert is_holder_attribute(holder) and is_iteration_holder(holder)
    assert execution_of(holder) == HOLDER
    assert execution_of(HOLDER) == HOLDER and not is_iteration_holder(HOLDER)
    assert registry_key_name(HOLDER) == HOLDER + "#"
    assert execution_of(registry_key_name(HOLDER)) == HOLDER
    assert not is_iteration_holder(registry_key_name(HOLDER)), "a registry key names no iteration"


@pytest.mark.parametrize("iteration_id", ["0.1", "3.1837462", "a", "x" * 40, "A-b_c.9"])
def test_valid_iteration_ids(iteration_id: str) -> None:
    assert is_valid_iteration_id(iteration_id)
    assert require_holder_id({"k": iteration_holder(HOLDER, iteration_id)}, "k", max_length=300)


@pytest.mark.parametrize("iteration_id", ["", "x" * 41, "1#2", "a b", "1:2", "1/2", "é", "1\n"])
def test_invalid_iteration_ids(iteration_id: str) -> None:
    assert not is_valid_iteration_id(iteration_id)
    with pytest.raises(errors.InvalidEventError, match="k must be an execution ARN, optionally followed"):
        require_holder_id({"k": f"{HOLDER}#{iteration_id}"}, "k", max_length=300)


def test_a_holder_id_is_bounded_as_a_whole_and_starts_with_arn() -> None:
    assert require_holder_id({"k": HOLDER}, "k", max_length=len(HOLDER)) == HOLDER
    with pytest.raises(errors.InvalidEventError, match="characters long"):
        require_holder_id({"k": HOLDER + "#1.2"}, "k", max_length=len(HOLDER) + 3)
    with pytest.raises(errors.InvalidEventError, match="must start with 'arn:'"):
        require_holder_id({"k": "execution#1.2"}, "k", max_length=300)


def test_optional_bool() -> None:
    assert optional_bool({}, "k") is False
    assert optional_bool({}, "k", default=True) is True
    assert optional_bool({"k": True}, "k") is True and optional_bool({"k": False}, "k") is False
    for value in (None, 1, 0, "true", [True]):
        with pytest.raises(errors.InvalidEventError, match="k must be true or false"):
            optional_bool({"k": value}, "k")


def test_holder_value_matches_the_documented_shape() -> None:
    assert holder_value(3, "2024-05-01T12:00:00.123Z") == {
        "M": {"weight": {"N": "3"}, "acquiredAt": {"S": "2024-05-01T12:00:00.123Z"}}
    }


@pytest.mark.parametrize(
    "item",
    [
        {"lockCount": {"S": "3"}},
        {"lockCount": {"N": "1.5"}},
        {"lockCount": {"N": "three"}},
        {"nextGrantAt": {"N": "1e400x"}},
        {HOLDER: {"S": "weight 1"}},
        {HOLDER: {"M": {"acquiredAt": {"S": "now"}}}},
        {HOLDER: {"M": {"weight": {"S": "1"}}}},
    ],
)
def test_an_item_in_another_shape_is_reported_corrupt(item: dict[str, Any]) -> None:
    with pytest.raises(errors.LockItemCorruptError):
        LockItem.from_dynamodb(item)


def test_parse_int_accepts_integral_numbers_in_any_notation() -> None:
    assert parse_int({"N": "12"}, "x") == 12
    assert parse_int({"N": "1.0E+2"}, "x") == 100
    assert parse_int({"N": "-0"}, "x") == 0


# DynamoDB errors -------------------------------------------------------------------------------------------


def client_error(code: str, **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, **extra}, "UpdateItem")


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_throttling_codes(code: str) -> None:
    assert is_throttling(client_error(code))
    assert not is_conditional_check_failed(client_error(code))


@pytest.mark.parametrize(
    "code", ["ConditionalCheckFailedException", "ValidationException", "ResourceNotFoundException", ""]
)
def test_not_throttling(code: str) -> None:
    assert not is_throttling(client_error(code))


def test_old_item_of_a_refusal() -> None:
    item = {"lockCount": {"N": "1"}}
    assert old_item_of(client_error("ConditionalCheckFailedException", Item=item)) == item
    assert old_item_of(client_error("ConditionalCheckFailedException")) is None


# Validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [], "x", 3, {1: "a"}])
def test_require_object_rejects_non_objects(value: object) -> None:
    with pytest.raises(errors.InvalidEventError, match="JSON object"):
        require_object(value)


def test_require_exact_keys_names_missing_and_unknown_keys() -> None:
    with pytest.raises(
        errors.InvalidEventError, match=r"missing b, c; unknown z \(expected exactly a, b, c\)"
    ):
        require_exact_keys({"a": 1, "z": 2}, ("a", "b", "c"))
    require_exact_keys({"a": 1, "b": None, "c": 0}, ("a", "b", "c"))


def test_require_str_bounds_and_prefix() -> None:
    assert require_str({"k": "arn:x"}, "k", prefix="arn:", max_length=5) == "arn:x"
    with pytest.raises(errors.InvalidEventError, match="k must be 1 to 5 characters long, got 6"):
        require_str({"k": "arn:xy"}, "k", max_length=5)
    with pytest.raises(errors.InvalidEventError, match="k must be at least 1 characters long, got 0"):
        require_str({"k": ""}, "k")
    with pytest.raises(errors.InvalidEventError, match="k must start with 'arn:'"):
        require_str({"k": "x"}, "k", prefix="arn:")


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_require_int_rejects_non_integers_including_booleans(value: object) -> None:
    with pytest.raises(errors.InvalidEventError, match="must be an integer"):
        require_int({"k": value}, "k")


def test_require_int_minimum() -> None:
    assert require_int({"k": 1}, "k", minimum=1) == 1
    with pytest.raises(errors.InvalidEventError, match="k must be at least 1, got 0"):
        require_int({"k": 0}, "k", minimum=1)


@pytest.mark.parametrize(("value", "expected"), [(None, None), (2, 2.0), (0.5, 0.5), (1e-3, 1e-3)])
def test_optional_positive_number_accepts(value: object, expected: float | None) -> None:
    assert optional_positive_number({"k": value}, "k") == expected


@pytest.mark.parametrize("value", [0, -1, 0.0, float("inf"), float("-inf"), float("nan"), True, "2", [2]])
def test_optional_positive_number_rejects(value: object) -> None:
    with pytest.raises(errors.InvalidEventError, match="k must be a"):
        optional_positive_number({"k": value}, "k")


# Clock -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000_001, "2023-11-14T22:13:20.001Z"),
        (1_714_564_800_999, "2024-05-01T12:00:00.999Z"),
    ],
)
def test_iso8601_round_trip(epoch_ms: int, text: str) -> None:
    assert iso8601_utc(epoch_ms) == text
    assert parse_iso8601_ms(text) == epoch_ms


def test_parse_iso8601_accepts_offsets_and_rejects_the_rest() -> None:
    assert parse_iso8601_ms("2024-05-01T14:00:00.000+02:00") == 1_714_564_800_000
    assert parse_iso8601_ms("2024-05-01T12:00:00") is None, "a time without a zone is ambiguous"
    assert parse_iso8601_ms("yesterday") is None


# Configuration -------------------------------------------------------------------------------------------


def test_config_defaults_the_lock_id_attribute() -> None:
    config = lock_table_config({"LOCK_TABLE_NAME": "locks"})
    assert (config.table_name, config.lock_id_attribute) == ("locks", "LockName")
    assert (
        lock_table_config({"LOCK_TABLE_NAME": "locks", "LOCK_ID_ATTRIBUTE": "Id"}).lock_id_attribute == "Id"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "LOCK_TABLE_NAME is not set"),
        ({"LOCK_TABLE_NAME": "a b"}, "not a valid DynamoDB table name"),
        ({"LOCK_TABLE_NAME": "locks", "LOCK_ID_ATTRIBUTE": "a:b"}, "not a valid attribute name"),
    ],
)
def test_config_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        lock_table_config(environ)


# Error names ----------------------------------------------------------------------------------------------


def test_error_names_are_the_ones_the_state_machine_catches() -> None:
    """Lambda reports an exception's class name as the error; the templates' Catch clauses match these."""
    assert errors.SemaphoreFullError.__name__ == "SemaphoreFullError"
    assert errors.WarmupTooSoonError.__name__ == "WarmupTooSoonError"
    assert errors.LockThrottledError.__name__ == "LockThrottledError"
    assert errors.InvalidEventError.__name__ == "InvalidEventError"
    assert errors.WarmupTooSoonError("m", wait_ms=42).wait_ms == 42
