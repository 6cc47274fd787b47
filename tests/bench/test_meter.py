"""The benchmark's billing meter (``bench.server.meter``): item sizes by AWS's rules, request units per
request, Lambda usage per function, and the plugin loaded into a local AWS server only when asked."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench.server import meter as meter_plugin
from bench.server.meter import METER, Meter, item_size, number_size, read_units, write_units
from harness import aws
from harness.localaws_admin import admin as admin_route
from localaws import admin
from localaws.patches import dynamodb as atomic_dynamodb
from localaws.process import LocalAwsProcess


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 1), ("7", 2), ("12", 2), ("123", 3), ("-123.45", 4), ("100", 2), ("0.0012300", 3), ("1.5E3", 2)],
)
def test_numbers_take_one_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


def test_item_size_counts_names_values_and_the_overhead_of_lists_and_maps() -> None:
    item = {
        "id": {"S": "héllo"},  # 2 + 6 (é is two bytes)
        "n": {"N": "12345"},  # 1 + 4
        "ok": {"BOOL": True},  # 2 + 1
        "nil": {"NULL": True},  # 3 + 1
        "bin": {"B": "AAEC"},  # 3 + 3 raw bytes
        "tags": {"SS": ["a", "bc"]},  # 4 + 3
        "l": {"L": [{"S": "x"}, {"N": "1"}]},  # 1 + 3 + (1 + 1) + (1 + 2)
        "m": {"M": {"k": {"S": "xy"}, "e": {"M": {}}}},  # 1 + 3 + (1 + 1 + 2) + (1 + 1 + 3)
    }
    assert item_size(item) == 8 + 5 + 3 + 4 + 6 + 7 + 9 + 13


def test_request_units_round_up_per_kb_written_and_per_4_kb_read() -> None:
    assert write_units(0) == 1
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(1500, 2100) == 3  # the larger of before and after
    assert read_units(None, consistent=True) == 1.0  # reading nothing still costs the minimum
    assert read_units(None, consistent=False) == 0.5
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(4097, consistent=False) == 1.0


def test_lambda_usage_is_billed_per_started_millisecond_times_memory() -> None:
    usage = Meter()
    usage.record_invocation("f", 512, 10.2)
    usage.record_invocation("f", 512, None)  # did not finish: a request, no duration here
    totals = usage.snapshot()["lambda"]["f"]
    assert totals["invocations"] == 2
    assert totals["billed_ms"] == 11
    assert totals["gb_seconds"] == pytest.approx(0.5 * 0.011)


def _padding(size: int) -> dict[str, Any]:
    return {"S": "x" * size}


def _table_totals(table: str = "t") -> dict[str, Any]:
    return dict(
        METER.snapshot()["dynamodb"].get(table, {}).get("test", {"read_units": 0.0, "write_units": 0})
    )


def test_each_request_is_billed_by_the_size_of_the_item_it_touches(moto_table: Any) -> None:
    atomic_dynamodb.apply()
    meter_plugin.apply()
    client = moto_table
    key = {"k": {"S": "a"}}
    start = _table_totals()

    def spent() -> tuple[float, int]:
        now = _table_totals()
        return now["read_units"] - start["read_units"], now["write_units"] - start["write_units"]

    client.put_item(TableName="t", Item={**key, "p": _padding(1500)})  # ~1.5 KB: 2 units
    assert spent() == (0.0, 2)
    client.update_item(
        TableName="t",
        Key=key,
        UpdateExpression="SET p = :p",
        ExpressionAttributeValues={":p": _padding(2100)},
    )  # 1.5 KB before, 2.1 KB after: the larger, 3 units
    assert spent() == (0.0, 5)
    with pytest.raises(ClientError) as failed:
        client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET q = :q",
            ConditionExpression="attribute_not_exists(k)",
            ExpressionAttributeValues={":q": _padding(5000)},
        )
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert spent() == (0.0, 8)  # a failed condition costs the item as it was: 3 units
    client.get_item(TableName="t", Key=key, ConsistentRead=True)
    client.get_item(TableName="t", Key=key, ProjectionExpression="k")  # eventually consistent, whole item
    client.get_item(TableName="t", Key={"k": {"S": "absent"}}, ConsistentRead=True)
    assert spent() == (2.5, 8)
    client.delete_item(TableName="t", Key=key)
    assert spent() == (2.5, 11)
    counts = METER.snapshot()["dynamodb"]["t"]["test"]["requests"]
    assert counts["PutItem"] >= 1 and counts["UpdateItem"] >= 2 and counts["GetItem"] >= 3


def test_a_malformed_request_is_not_billed_and_scans_are_counted_as_unmetered(moto_table: Any) -> None:
    atomic_dynamodb.apply()
    meter_plugin.apply()
    start = _table_totals()
    with pytest.raises(ClientError):
        moto_table.get_item(TableName="t", Key={"wrong": {"S": "a"}})
    assert _table_totals()["read_units"] == start["read_units"]
    unmetered_before = METER.snapshot()["dynamodb"].get("t", {}).get("test", {}).get("unmetered", {})
    moto_table.scan(TableName="t")
    unmetered = METER.snapshot()["dynamodb"]["t"]["test"]["unmetered"]
    assert unmetered["Scan"] == unmetered_before.get("Scan", 0) + 1


def test_the_meter_is_section_meter_of_the_stats() -> None:
    meter_plugin.apply()
    statuses = []
    body = admin.application(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/localaws/stats"},
        lambda status, headers: statuses.append(status),
    )
    assert statuses == ["200 OK"]
    assert json.loads(b"".join(body))["meter"].keys() == {"dynamodb", "lambda"}


HANDLER = """
import time


def handler(event, context):
    time.sleep(0.05)
    return {"ok": True}
"""


def _bundle() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("metered.py", HANDLER)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def metered_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    log_path = tmp_path_factory.mktemp("metered-server") / "server.log"
    with LocalAwsProcess(log_path=log_path, plugins=("bench.server.meter",)) as server:
        yield server


def test_a_server_loaded_with_the_plugin_meters_dynamodb_and_each_lambda_invocation(
    metered_server: LocalAwsProcess,
) -> None:
    endpoint = metered_server.endpoint
    dynamodb = aws.client("dynamodb", endpoint)
    table = f"metered-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}, "p": _padding(1500)})
    role = aws.client("iam", endpoint).create_role(RoleName=table, AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    function = aws.client("lambda", endpoint)
    function.create_function(
        FunctionName=table,
        Runtime="python3.12",
        Role=role,
        Handler="metered.handler",
        Code={"ZipFile": _bundle()},
        MemorySize=256,
    )
    for _ in range(2):
        answer = function.invoke(FunctionName=table, Payload=b"{}")
        assert json.loads(answer["Payload"].read()) == {"ok": True}

    meter = admin_route(endpoint, "stats")["meter"]
    assert meter["dynamodb"][table]["test"]["write_units"] == 2
    usage = meter["lambda"][table]
    assert usage["invocations"] == 2 and usage["memory_mb"] == 256
    assert usage["billed_ms"] >= 100, "each call slept 50 ms: its billed duration came through the hook"
    assert usage["gb_seconds"] == pytest.approx(0.25 * usage["billed_ms"] / 1000)


def test_a_server_started_without_plugins_has_no_meter(tmp_path: Path) -> None:
    with LocalAwsProcess(log_path=tmp_path / "server.log") as server:
        assert "meter" not in admin_route(server.endpoint, "stats")
