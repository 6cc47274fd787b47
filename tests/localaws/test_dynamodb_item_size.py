"""localaws.patches.dynamodb_item_size: an update is judged by the item it leaves, not old + new value."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

import localaws.patches.dynamodb_item_size as item_size


@pytest.fixture
def table(moto_table: Any) -> Any:
    item_size.apply()
    return moto_table


def _entries(count: int) -> dict[str, Any]:
    return {"L": [{"S": "x" * 1000} for _ in range(count)]}


def test_replacing_a_large_attribute_counts_only_the_new_value(table: Any) -> None:
    table.put_item(TableName="t", Item={"k": {"S": "a"}, "big": _entries(250)})
    table.update_item(
        TableName="t",
        Key={"k": {"S": "a"}},
        UpdateExpression="SET big = list_append(big, :more)",
        ExpressionAttributeValues={":more": _entries(10)},
    )
    item = table.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]
    assert len(item["big"]["L"]) == 260


def test_an_item_over_the_limit_is_still_refused(table: Any) -> None:
    table.put_item(TableName="t", Item={"k": {"S": "a"}, "big": _entries(390)})
    with pytest.raises(ClientError, match="exceeded the maximum allowed size"):
        table.update_item(
            TableName="t",
            Key={"k": {"S": "a"}},
            UpdateExpression="SET big = list_append(big, :more)",
            ExpressionAttributeValues={":more": _entries(20)},
        )
