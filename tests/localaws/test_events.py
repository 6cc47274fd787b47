"""The local AWS emits Step Functions status-change events and delivers EventBridge events as AWS does.

One server for the module (``localaws.process``). Every test builds its own state machines and rules (unique
names), runs real executions, and checks what arrived where: the executions a rule's Step Functions target
started and their input, what a Lambda target's handler wrote, and the ``/localaws/stats`` counters. The
waits poll for an outcome with a deadline; a test that checks that something did NOT happen first waits for
the counters to show that every event that could cause it has been handled.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import statistics
import time
import urllib.error
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from harness.localaws_admin import admin
from localaws.eventbridge.schedule import CronSchedule, RateSchedule, UnsupportedScheduleError, parse_schedule
from localaws.eventbridge.settings import EventsSettings
from localaws.eventbridge.target_input import MISSING, select, target_input
from localaws.process import LocalAwsProcess

pytestmark = pytest.mark.xdist_group("localaws-events")

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/events-test"
STATUS_CHANGE = "Step Functions Execution Status Change"
#: The source machine's TimeoutSeconds: "timeout" executions end TIMED_OUT after this long.
SOURCE_TIMEOUT_SECONDS = 3
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# -- fixtures and helpers ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    log = tmp_path_factory.mktemp("localaws-events") / "server.log"
    with LocalAwsProcess(log_path=log) as process:
        yield process


def _client(aws: LocalAwsProcess, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def sfn(aws: LocalAwsProcess) -> Any:
    return _client(aws, "stepfunctions")


@pytest.fixture(scope="module")
def events(aws: LocalAwsProcess) -> Any:
    return _client(aws, "events")


@pytest.fixture(scope="module")
def queue_url(aws: LocalAwsProcess) -> str:
    return str(_client(aws, "sqs").create_queue(QueueName=f"tokens-{uuid.uuid4().hex[:8]}")["QueueUrl"])


def _admin(aws: LocalAwsProcess, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return admin(aws.endpoint, route, body)


def _stats(aws: LocalAwsProcess) -> dict[str, Any]:
    return dict(_admin(aws, "stats")["events"])


def _delta(before: dict[str, Any], after: dict[str, Any], name: str) -> int:
    return int(after[name]) - int(before[name])


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def _wait_quiet(aws: LocalAwsProcess, before: dict[str, Any], emitted: int) -> dict[str, Any]:
    """Wait until ``emitted`` more status-change events were emitted and every one of them was handled."""

    def settled() -> dict[str, Any] | None:
        now = _stats(aws)
        done = _delta(before, now, "status_change_emitted") >= emitted and now["pending"] == 0
        return now if done else None

    return dict(_wait_for(f"{emitted} status-change events handled", settled))


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _sink(sfn: Any) -> str:
    """A state machine that only records the input it was started with."""
    definition = {"StartAt": "Record", "States": {"Record": {"Type": "Pass", "End": True}}}
    return str(
        sfn.create_state_machine(name=_name("sink"), definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def _source(sfn: Any, queue_url: str) -> str:
    """A machine whose input picks its end: succeed, fail, hang on a task token, or sleep until TIMED_OUT."""
    definition = {
        "StartAt": "Route",
        "TimeoutSeconds": SOURCE_TIMEOUT_SECONDS,
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.outcome", "StringEquals": "succeed", "Next": "Done"},
                    {"Variable": "$.outcome", "StringEquals": "fail", "Next": "Boom"},
                    {"Variable": "$.outcome", "StringEquals": "hang", "Next": "Hang"},
                ],
                "Default": "Sleep",
            },
            "Done": {"Type": "Succeed"},
            "Boom": {"Type": "Fail", "Error": "Work.Failed", "Cause": "the work failed"},
            "Hang": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            },
            "Sleep": {"Type": "Wait", "Seconds": 60, "End": True},
        },
    }
    return str(
        sfn.create_state_machine(name=_name("source"), definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def _status_rule(events: Any, state_machine_arn: str, statuses: list[str]) -> str:
    name = _name("ends")
    pattern = {
        "source": ["aws.states"],
        "detail-type": [STATUS_CHANGE],
        "detail": {"stateMachineArn": [state_machine_arn], "status": statuses},
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    return name


def _start(sfn: Any, state_machine_arn: str, payload: dict[str, Any]) -> str:
    return str(
        sfn.start_execution(stateMachineArn=state_machine_arn, name=_name("run"), input=json.dumps(payload))[
            "executionArn"
        ]
    )


def _executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return [sfn.describe_execution(executionArn=item["executionArn"]) for item in listed]


def _ended(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    described = sfn.describe_execution(executionArn=execution_arn)
    return None if described["status"] == "RUNNING" else dict(described)


def _in_callback_task(sfn: Any, execution_arn: str) -> bool:
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return any(event["type"] in ("TaskScheduled", "TaskSubmitted") for event in history)


# -- status-change events delivered to a Step Functions target ---------------------------------------------
def test_rule_on_failed_aborted_timed_out_starts_one_target_execution_per_matching_end(
    aws: LocalAwsProcess, sfn: Any, events: Any, queue_url: str
) -> None:
    source, sink = _source(sfn, queue_url), _sink(sfn)
    rule = _status_rule(events, source, ["FAILED", "ABORTED", "TIMED_OUT"])
    events.put_targets(Rule=rule, Targets=[{"Id": "reaper", "Arn": sink, "RoleArn": ROLE}])
    before = _stats(aws)

    outcomes = ["succeed", "succeed", "fail", "fail", "hang", "timeout"]
    runs = {_start(sfn, source, {"outcome": outcome, "n": n}): outcome for n, outcome in enumerate(outcomes)}
    hanging = next(arn for arn, outcome in runs.items() if outcome == "hang")
    _wait_for("the hanging execution to wait for its task token", lambda: _in_callback_task(sfn, hanging))
    stopped = sfn.stop_execution(executionArn=hanging)
    # AWS aborts at once, even while a task waits for its token, and says when.
    assert isinstance(stopped["stopDate"], datetime.datetime)
    assert sfn.describe_execution(executionArn=hanging)["status"] == "ABORTED"

    ended = {arn: _wait_for(f"{arn} to end", lambda arn=arn: _ended(sfn, arn)) for arn in runs}
    expected_status = {"succeed": "SUCCEEDED", "fail": "FAILED", "hang": "ABORTED", "timeout": "TIMED_OUT"}
    assert {arn: ended[arn]["status"] for arn in runs} == {arn: expected_status[o] for arn, o in runs.items()}
    assert all(isinstance(described.get("stopDate"), datetime.datetime) for described in ended.values())

    matching = {arn for arn, described in ended.items() if described["status"] != "SUCCEEDED"}
    # Every source execution reports RUNNING and its end; so does every target execution (4 of them).
    after = _wait_quiet(aws, before, emitted=2 * len(runs) + 2 * len(matching))
    assert _delta(before, after, "status_change_dropped") == 0
    assert _delta(before, after, "delivered_stepfunctions") == len(matching)

    started = _executions(sfn, sink)
    inputs = [json.loads(execution["input"]) for execution in started]
    assert sorted(event["detail"]["executionArn"] for event in inputs) == sorted(matching)
    for event in inputs:
        source_run = ended[event["detail"]["executionArn"]]
        assert event["detail"]["status"] == source_run["status"]
        assert event["resources"] == [source_run["executionArn"]]

    # From a source execution's end to its reaper's start (both clocks are the server's).
    delays = [
        execution["startDate"].timestamp()
        - ended[json.loads(execution["input"])["detail"]["executionArn"]]["stopDate"].timestamp()
        for execution in started
    ]
    median_ms, max_ms = statistics.median(delays) * 1000, max(delays) * 1000
    print(f"end -> target start: median {median_ms:.0f} ms, max {max_ms:.0f} ms")
    assert max(delays) < 1.0, delays


def test_target_input_is_the_event_input_path_or_input_transformer_output(
    aws: LocalAwsProcess, sfn: Any, events: Any, queue_url: str
) -> None:
    source = _source(sfn, queue_url)
    sinks = {kind: _sink(sfn) for kind in ("plain", "path", "transformer", "constant")}
    rule = _status_rule(events, source, ["FAILED"])
    template = (
        '{"executionArn": <arn>, "status": "<status>", "note": "<status>: <cause>", '
        '"detail": <detail>, "rule": "<aws.events.rule-name>", "missing": <nothing>}'
    )
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "plain", "Arn": sinks["plain"]},
            {"Id": "path", "Arn": sinks["path"], "InputPath": "$.detail"},
            {
                "Id": "transformer",
                "Arn": sinks["transformer"],
                "InputTransformer": {
                    "InputPathsMap": {
                        "arn": "$.detail.executionArn",
                        "status": "$.detail.status",
                        "cause": "$.detail.cause",
                        "detail": "$.detail",
                        "nothing": "$.detail.no-such-field",
                    },
                    "InputTemplate": template,
                },
            },
            {"Id": "constant", "Arn": sinks["constant"], "Input": '{"fixed": true}'},
        ],
    )
    failed = _start(sfn, source, {"outcome": "fail", "note": 'a "quoted" word'})

    received = {
        kind: json.loads(_wait_for(f"the {kind} target", lambda arn=arn: _executions(sfn, arn))[0]["input"])
        for kind, arn in sinks.items()
    }
    run = sfn.describe_execution(executionArn=failed)

    event = received["plain"]
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.states",
        STATUS_CHANGE,
        ACCOUNT,
        REGION,
    )
    assert ISO_Z.match(event["time"]), event["time"]
    assert event["resources"] == [failed]
    detail = event["detail"]
    assert detail["executionArn"] == failed
    assert detail["stateMachineArn"] == source
    assert detail["name"] == run["name"]
    assert detail["status"] == "FAILED"
    assert (detail["error"], detail["cause"]) == ("Work.Failed", "the work failed")
    assert json.loads(detail["input"]) == {"outcome": "fail", "note": 'a "quoted" word'}
    assert detail["output"] is None and detail["outputDetails"] is None
    assert detail["inputDetails"] == {"included": True}
    assert detail["startDate"] == int(run["startDate"].timestamp() * 1000)
    assert detail["stopDate"] == int(run["stopDate"].timestamp() * 1000)

    assert received["path"] == detail
    assert received["transformer"] == {
        "executionArn": failed,
        "status": "FAILED",
        "note": "FAILED: the work failed",
        "detail": detail,
        "rule": rule,
        "missing": None,
    }
    assert received["constant"] == {"fixed": True}


# -- PutEvents from a client ---------------------------------------------------------------------------------
def test_put_events_from_a_client_reaches_step_functions_targets_of_enabled_matching_rules(
    aws: LocalAwsProcess, sfn: Any, events: Any
) -> None:
    source = _name("my.app")
    enabled, disabled = _sink(sfn), _sink(sfn)
    for rule, target, state in ((_name("on"), enabled, "ENABLED"), (_name("off"), disabled, "DISABLED")):
        events.put_rule(
            Name=rule, State=state, EventPattern=json.dumps({"source": [source], "detail-type": ["Thing"]})
        )
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": target}])
    before = _stats(aws)

    result = events.put_events(
        Entries=[
            {"Source": source, "DetailType": "Thing", "Detail": json.dumps({"size": 3}), "Resources": ["r1"]},
            {"Source": source, "DetailType": "Other", "Detail": json.dumps({"size": 4})},
        ]
    )
    assert result["FailedEntryCount"] == 0

    [started] = _wait_for("the enabled rule's target", lambda: _executions(sfn, enabled))
    event = json.loads(started["input"])
    assert (event["source"], event["detail-type"], event["detail"], event["resources"]) == (
        source,
        "Thing",
        {"size": 3},
        ["r1"],
    )
    assert event["id"] == result["Entries"][0]["EventId"]
    # The target's own RUNNING and SUCCEEDED events: once handled, nothing else can still be on its way.
    after = _wait_quiet(aws, before, emitted=2)
    assert _delta(before, after, "client_events_put") == 2
    assert _delta(before, after, "delivered_stepfunctions") == 1
    assert len(_executions(sfn, enabled)) == 1
    assert _executions(sfn, disabled) == []


# -- the drop switch -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [1.0, 0.0])
def test_drop_switch_loses_the_chosen_fraction_of_status_change_events(
    aws: LocalAwsProcess, sfn: Any, events: Any, queue_url: str, fraction: float
) -> None:
    source, sink = _source(sfn, queue_url), _sink(sfn)
    rule = _status_rule(events, source, ["FAILED"])
    events.put_targets(Rule=rule, Targets=[{"Id": "reaper", "Arn": sink}])
    config = _admin(aws, "config", {"events": {"drop_status_change_fraction": fraction}})
    assert config["events"]["drop_status_change_fraction"] == fraction
    assert _admin(aws, "config")["events"]["drop_status_change_fraction"] == fraction
    try:
        before = _stats(aws)
        runs = [_start(sfn, source, {"outcome": "fail"}) for _ in range(3)]
        for arn in runs:
            _wait_for(f"{arn} to end", lambda arn=arn: _ended(sfn, arn))
        # Sources: RUNNING + FAILED each; targets (only when nothing is dropped): RUNNING + SUCCEEDED each.
        reached = 0 if fraction == 1.0 else len(runs)
        after = _wait_quiet(aws, before, emitted=2 * len(runs) + 2 * reached)
    finally:
        _admin(aws, "config", {"events": {"drop_status_change_fraction": 0.0}})

    emitted = _delta(before, after, "status_change_emitted")
    assert _delta(before, after, "status_change_dropped") == round(emitted * fraction)
    assert _delta(before, after, "status_change_put") == emitted - round(emitted * fraction)
    assert _delta(before, after, "delivered_stepfunctions") == reached
    assert len(_executions(sfn, sink)) == reached


def test_drop_switch_rejects_a_fraction_outside_zero_to_one(aws: LocalAwsProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        _admin(aws, "config", {"events": {"drop_status_change_fraction": 1.5}})
    assert raised.value.code == 400
    assert _admin(aws, "config")["events"]["drop_status_change_fraction"] == 0.0


def test_switches_can_be_set_by_environment_variables_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOCALAWS_DROP_STATUS_EVENTS", "0.5")
    monkeypatch.setenv("LOCALAWS_SCHEDULE_MINUTE_SECONDS", "2")
    with LocalAwsProcess(log_path=tmp_path / "server.log") as other:
        assert _admin(other, "config")["events"] == {
            "drop_status_change_fraction": 0.5,
            "schedule_minute_seconds": 2.0,
        }


def test_drop_fraction_is_deterministic() -> None:
    settings = EventsSettings(drop_fraction=0.5)
    assert [settings.should_drop("FAILED") for _ in range(6)] == [False, True] * 3
    assert EventsSettings(drop_fraction=0.25).get_config()["drop_status_change_fraction"] == 0.25
    every = EventsSettings(drop_fraction=1.0)
    assert all(every.should_drop("RUNNING") for _ in range(5))
    assert every.get_stats()["status_change_dropped"] == 5


# -- schedules -----------------------------------------------------------------------------------------------
def test_rate_schedule_fires_one_interval_after_creation_and_only_while_enabled(
    aws: LocalAwsProcess, sfn: Any, events: Any
) -> None:
    minute = 1.0  # TEST-ONLY knob: one schedule minute lasts this many real seconds
    sink = _sink(sfn)
    rule = _name("every-minute")
    _admin(aws, "config", {"events": {"schedule_minute_seconds": minute}})
    try:
        created = time.time()
        rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
        events.put_targets(Rule=rule, Targets=[{"Id": "sweeper", "Arn": sink}])
        fired = _wait_for(
            "two firings", lambda: (found := _executions(sfn, sink)) and len(found) >= 2 and found
        )
        first = min(execution["startDate"].timestamp() for execution in fired)
        assert first - created >= minute * 0.8, "fired before one interval had passed"

        event = json.loads(fired[0]["input"])
        assert (event["source"], event["detail-type"], event["detail"]) == (
            "aws.events",
            "Scheduled Event",
            {},
        )
        assert event["resources"] == [rule_arn]
        assert ISO_Z.match(event["time"])

        events.disable_rule(Name=rule)
        # Once the scheduler has skipped a firing, it sees the rule disabled: count from there on.
        _wait_for_skips(aws, _stats(aws), 1)
        before = _wait_quiet(aws, _stats(aws), emitted=0)
        count = len(_executions(sfn, sink))
        after = _wait_for_skips(aws, before, 2)
        assert _delta(before, after, "scheduled_events_put") == 0
        assert len(_executions(sfn, sink)) == count
    finally:
        events.remove_targets(Rule=rule, Ids=["sweeper"])
        events.delete_rule(Name=rule)
        _admin(aws, "config", {"events": {"schedule_minute_seconds": 60.0}})


def _wait_for_skips(aws: LocalAwsProcess, before: dict[str, Any], skips: int) -> dict[str, Any]:
    def skipped() -> dict[str, Any] | None:
        now = _stats(aws)
        return now if _delta(before, now, "scheduled_skipped_disabled") >= skips else None

    return dict(_wait_for(f"{skips} skipped firing(s) of a disabled rule", skipped))


def test_schedule_expressions() -> None:
    assert parse_schedule("rate(1 minute)") == RateSchedule(minutes=1)
    assert parse_schedule("rate(5 minutes)") == RateSchedule(minutes=5)
    assert parse_schedule("rate(2 hours)") == RateSchedule(minutes=120)
    every_quarter = parse_schedule("cron(0/15 8-10 ? * MON-FRI *)")
    assert isinstance(every_quarter, CronSchedule)
    monday = datetime.datetime(2024, 1, 1, 9, 30, tzinfo=datetime.UTC)  # a Monday
    assert every_quarter.matches(monday)
    assert not every_quarter.matches(monday.replace(minute=31))
    assert not every_quarter.matches(monday.replace(hour=11))
    assert not every_quarter.matches(monday.replace(day=6))  # Saturday
    first_of_month = parse_schedule("cron(0 12 1 * ? *)")
    assert isinstance(first_of_month, CronSchedule)
    assert first_of_month.matches(datetime.datetime(2024, 3, 1, 12, 0, tzinfo=datetime.UTC))
    with pytest.raises(UnsupportedScheduleError):
        parse_schedule("cron(0 12 L * ? *)")
    with pytest.raises(UnsupportedScheduleError):
        parse_schedule("rate(0 minutes)")


# -- target input, without a server ----------------------------------------------------------------------
def test_input_transformer_placement_rules() -> None:
    event = {"detail": {"id": "i-1", "state": "RUNNING", "tags": ["a", "b"], "why": 'said "no"'}}
    paths = {"id": "$.detail.id", "state": "$.detail.state", "tags": "$.detail.tags", "why": "$.detail.why"}

    def render(template: str) -> str:
        target = {"Arn": "arn", "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
        return target_input(target, event, rule_name="r", rule_arn="arn:rule")

    assert render("<id> is in state <state>") == "i-1 is in state RUNNING"
    assert json.loads(render('"<id> is in state \\"<state>\\""')) == 'i-1 is in state "RUNNING"'
    assert json.loads(render('{"id": <id>, "tags": <tags>, "why": "<why>!"}')) == {
        "id": "i-1",
        "tags": ["a", "b"],
        "why": 'said "no"!',
    }
    assert select(event, "$.detail.tags[1]") == "b"
    assert select(event, "$.detail.nope") is MISSING


# -- a Lambda target -------------------------------------------------------------------------------------
HANDLER = """
import json
import os

import boto3


def handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    table.put_item(Item={"id": event["detail"]["executionArn"], "event": json.dumps(event)})
"""


def test_status_change_event_invokes_a_lambda_target_asynchronously(
    aws: LocalAwsProcess, sfn: Any, events: Any, queue_url: str, tmp_path: Path
) -> None:
    table = _name("seen")
    dynamodb = _client(aws, "dynamodb")
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = _client(aws, "iam").create_role(
        RoleName=_name("fn-role"), AssumeRolePolicyDocument=json.dumps(trust)
    )
    function = _client(aws, "lambda").create_function(
        FunctionName=_name("reaper-fn"),
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"TABLE": table}},
        Timeout=30,
    )
    source = _source(sfn, queue_url)
    rule = _status_rule(events, source, ["FAILED"])
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function["FunctionArn"]}])

    failed = _start(sfn, source, {"outcome": "fail"})
    item = _wait_for(
        "the Lambda handler's write",
        lambda: dynamodb.get_item(TableName=table, Key={"id": {"S": failed}}).get("Item"),
        timeout=30,
    )
    event = json.loads(item["event"]["S"])
    assert (event["source"], event["detail"]["status"]) == ("aws.states", "FAILED")
    assert _stats(aws)["delivered_lambda"] >= 1
