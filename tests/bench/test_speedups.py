"""bench.server.speedups: moto's own costs go, its answers stay the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

import bench.server.speedups as speedups

ITEM = {
    "k": {"S": "lock"},
    "n": {"N": "1.50"},
    "b": {"B": b"\x00\x01"},
    "bs": {"BS": [b"x", b"y"]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "m": {"M": {"l": {"L": [{"S": "q"}, {"N": "2"}, {"M": {"y": {"B": b"zz"}}}]}, "e": {"M": {}}}},
    "queue": {
        "L": [{"M": {"id": {"S": f"arn:aws:states:::execution:m:{n}"}, "w": {"N": "1"}}} for n in range(3)]
    },
}


@pytest.fixture
def table(moto_table: Any) -> Any:
    speedups.apply()
    moto_table.put_item(TableName="t", Item=ITEM)
    return moto_table


def _read(client: Any) -> tuple[Any, Any]:
    """The item as GetItem and as an UpdateItem's ALL_NEW return it (without the counter it bumps)."""
    got = client.get_item(TableName="t", Key={"k": {"S": "lock"}}, ConsistentRead=True)["Item"]
    updated = client.update_item(
        TableName="t",
        Key={"k": {"S": "lock"}},
        UpdateExpression="ADD version :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    got.pop("version", None)
    updated.pop("version")
    return got, updated


def test_items_read_the_same_with_and_without_the_plain_value_shortcut(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _read(table)
    monkeypatch.setattr(speedups, "is_plain_attribute_value", lambda value: False)  # moto's own walk only
    slow = _read(table)
    assert fast == slow
    assert fast[0] == ITEM, "and both are the item as written, binary values included"


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"S": "x"}, True),
        ({"N": "12"}, True),
        ({"BOOL": False}, True),
        ({"SS": ["a"]}, True),
        ({"L": [{"S": "x"}, {"M": {"a": {"NULL": True}}}]}, True),
        ({"B": "AAE="}, False),
        ({"L": [{"S": "x"}, {"B": b"\x00"}]}, False),
        ({"S": "x", "N": "1"}, False),
        ({"N": 12}, False),
        ({"M": {"a": object()}}, False),
    ],
)
def test_only_values_already_in_wire_form_are_plain(value: Any, plain: bool) -> None:
    assert speedups.is_plain_attribute_value(value) is plain


DEFINITION = json.dumps(
    {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Result": {"n": 1}, "Next": "B"}, "B": {"Type": "Succeed"}},
    }
)


def test_each_definition_is_parsed_once_and_each_execution_gets_its_own_program() -> None:
    speedups.apply()
    other = DEFINITION.replace('"n": 1', '"n": 2')
    first, tree = AmazonStateLanguageParser.parse(DEFINITION)
    second, same_tree = AmazonStateLanguageParser.parse(DEFINITION)
    assert same_tree is tree, "the syntax tree is kept"
    assert second is not first, "the evaluation components are built afresh"
    assert AmazonStateLanguageParser.parse(other)[1] is not tree


def test_the_syntax_tree_cache_is_bounded() -> None:
    trees = speedups.SyntaxTrees(capacity=2)
    for name in ("a", "b", "c"):
        trees.put(name, object())
    assert len(trees) == 2 and trees.get("a") is None and trees.get("c") is not None
