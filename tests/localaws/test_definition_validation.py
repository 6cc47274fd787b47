"""The local AWS refuses the state machine definitions AWS refuses (localaws.asl, patches.sfn_definitions).

Against one server for the module: the three definitions issue 14 names (duplicate state names across two
Parallel branches, a ``Next`` out of its branch, an unknown intrinsic) are refused at CreateStateMachine with
AWS's ``InvalidDefinition`` error, a refused update leaves the machine as it was, a valid definition that
uses what the module uses is created and runs, and ``terraform apply`` reports the refusal. Then
``localaws.asl.validate`` directly: what asl-validator 4.0.0 catches on its own, each rule added for what it
misses, the validator defect worked around, every construct the module's machines use accepted, the CLI.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.terraform import Terraform, TerraformError
from harness.workspace import provider_config
from localaws import asl
from localaws.process import LocalAwsProcess

pytestmark = pytest.mark.xdist_group("localaws-definitions")

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/definitions-test"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"
REFUSAL = "Invalid State Machine Definition: '"


def machine(states: dict[str, Any], start: str | None = None) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states}


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return machine(states)


PASS_END = {"Type": "Pass", "End": True}

#: (a) AWS: DUPLICATE_STATE_NAME. The same inner name in both branches, as poll mode's two releases had.
DUPLICATE_ACROSS_BRANCHES = machine(
    {
        "Release": {
            "Type": "Parallel",
            "End": True,
            "Branches": [branch({"Release slot": PASS_END}), branch({"Release slot": PASS_END})],
        }
    }
)
#: (b) A state in a branch names a state outside it.
NEXT_OUT_OF_BRANCH = machine(
    {
        "Work": {
            "Type": "Parallel",
            "Next": "Done",
            "Branches": [branch({"Step": {"Type": "Pass", "Next": "Done"}})],
        },
        "Done": {"Type": "Succeed"},
    }
)
#: (c) An intrinsic function Step Functions does not have.
UNKNOWN_INTRINSIC = machine(
    {"Draw": {"Type": "Pass", "Parameters": {"value.$": "States.NoSuchFunction($.a)"}, "End": True}}
)

#: Valid: a Parallel, a Map with an ItemProcessor, MathRandom, JsonToString, and a Fail with ErrorPath and
#: CausePath. It fails with the error and cause it computed, which shows the interpreter ran all of it.
VALID = machine(
    {
        "Draw": {
            "Type": "Parallel",
            "Branches": [
                branch(
                    {
                        "Random": {
                            "Type": "Pass",
                            "Parameters": {
                                "wait.$": "States.MathRandom(1, 4)",
                                "text.$": "States.JsonToString($)",
                            },
                            "End": True,
                        }
                    }
                )
            ],
            "ResultPath": "$.drawn",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"item.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **branch({"Echo": PASS_END})},
            "ResultPath": "$.mapped",
            "Next": "Give up",
        },
        "Give up": {
            "Type": "Fail",
            "ErrorPath": "$.error",
            "CausePath": "States.Format('{} items', States.ArrayLength($.mapped))",
        },
    }
)


# -- against the local AWS ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAwsProcess]:
    with LocalAwsProcess(log_path=tmp_path_factory.mktemp("localaws-definitions") / "server.log") as process:
        yield process


@pytest.fixture(scope="module")
def sfn(aws: LocalAwsProcess) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error: dict[str, Any] = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidDefinition"
    assert error["Message"].startswith(REFUSAL) and error["Message"].endswith("'")
    return error


@pytest.mark.parametrize(
    ("definition", "finding"),
    [
        (
            DUPLICATE_ACROSS_BRANCHES,
            "DUPLICATE_STATE_NAMES: A state with this name already exists: Release slot",
        ),
        (
            NEXT_OUT_OF_BRANCH,
            "BRANCH_OUTBOUND_TRANSITION_TARGET: Parallel branch state cannot transition to target: Done",
        ),
        (UNKNOWN_INTRINSIC, "SCHEMA_VALIDATION_FAILED: /States/Draw/Parameters/value.$ is invalid."),
    ],
    ids=["duplicate-names-across-branches", "next-out-of-branch", "unknown-intrinsic"],
)
def test_create_refuses_an_invalid_definition(sfn: Any, definition: dict[str, Any], finding: str) -> None:
    name = _name("refused")
    error = _refusal(sfn.create_state_machine, name=name, definition=json.dumps(definition), roleArn=ROLE)
    assert finding in error["Message"]
    assert name not in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]


def test_a_refused_update_keeps_the_old_definition(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=_name("update"), definition=json.dumps(VALID), roleArn=ROLE)[
        "stateMachineArn"
    ]
    error = _refusal(
        sfn.update_state_machine, stateMachineArn=arn, definition=json.dumps(DUPLICATE_ACROSS_BRANCHES)
    )
    assert "DUPLICATE_STATE_NAMES" in error["Message"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == VALID

    fixed = machine({"Only": PASS_END})
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(fixed))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == fixed


def test_a_valid_definition_is_created_and_runs(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=_name("valid"), definition=json.dumps(VALID), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(
        stateMachineArn=arn, name=_name("run"), input=json.dumps({"items": [1, 2, 3], "error": "Gave up"})
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish in 30 s"
        time.sleep(0.2)
    assert (described["status"], described.get("error"), described.get("cause")) == (
        "FAILED",
        "Gave up",
        "3 items",
    )


def test_terraform_apply_reports_the_refusal(aws: LocalAwsProcess, tmp_path: Path) -> None:
    (tmp_path / "provider.tf").write_text(provider_config(aws.endpoint))
    (tmp_path / "main.tf").write_text(
        f"""resource "aws_sfn_state_machine" "this" {{
  name       = "{_name("terraform")}"
  role_arn   = "{ROLE}"
  definition = jsonencode({json.dumps(DUPLICATE_ACROSS_BRANCHES)})
}}
"""
    )
    terraform = Terraform(tmp_path, timeout=120)
    terraform.init()
    with pytest.raises(TerraformError) as raised:
        terraform.apply()
    assert "InvalidDefinition" in raised.value.stderr
    assert "DUPLICATE_STATE_NAMES: A state with this name already exists: Release slot" in raised.value.stderr


# -- localaws.asl.validate ---------------------------------------------------------------------------------
def findings(definition: dict[str, Any] | str) -> list[str]:
    return asl.validate(definition if isinstance(definition, str) else json.dumps(definition))


def test_the_validator_alone_catches_the_three_issue_definitions() -> None:
    assert findings(DUPLICATE_ACROSS_BRANCHES) == [
        "DUPLICATE_STATE_NAMES: A state with this name already exists: Release slot"
    ]
    assert findings(NEXT_OUT_OF_BRANCH) == [
        "BRANCH_OUTBOUND_TRANSITION_TARGET: Parallel branch state cannot transition to target: Done",
        "MISSING_TERMINAL_STATE: State machine fsm2 is missing a terminal state",
    ]
    assert findings(UNKNOWN_INTRINSIC) == [
        "SCHEMA_VALIDATION_FAILED: /States/Draw/Parameters/value.$ is invalid. "
        'must match format "asl_payload_template"'
    ]


def test_the_refusal_joins_findings_as_aws_does() -> None:
    assert asl.refusal_message(["A: one", "B: two"]) == "Invalid State Machine Definition: 'A: one, B: two'"


def _map(processor: str, states: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Map", "Next": "Done", processor: branch(states)}


DONE = {"Type": "Succeed"}


@pytest.mark.parametrize(
    ("definition", "finding"),
    [
        (
            machine(
                {
                    "Each": _map(
                        "ItemProcessor",
                        {
                            "Check": {
                                "Type": "Choice",
                                "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "Done"}],
                                "Default": "Ok",
                            },
                            "Ok": DONE,
                        },
                    ),
                    "Done": DONE,
                }
            ),
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Done "
            "at /States/Each/ItemProcessor/States/Check/Choices/0/Next",
        ),
        (
            machine(
                {
                    "Each": _map(
                        "ItemProcessor",
                        {
                            "Call": {
                                "Type": "Task",
                                "Resource": FUNCTION,
                                "End": True,
                                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                            }
                        },
                    ),
                    "Done": DONE,
                }
            ),
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Done "
            "at /States/Each/ItemProcessor/States/Call/Catch/0/Next",
        ),
        (
            machine(
                {
                    "Pick": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "Inside"}],
                        "Default": "Work",
                    },
                    "Work": {"Type": "Parallel", "End": True, "Branches": [branch({"Inside": PASS_END})]},
                }
            ),
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Inside at /States/Pick/Choices/0/Next",
        ),
        (
            machine(
                {
                    "Outer": {
                        "Type": "Parallel",
                        "Next": "Done",
                        "Branches": [
                            branch(
                                {
                                    "Inner": {
                                        "Type": "Parallel",
                                        "End": True,
                                        "Branches": [branch({"Step": PASS_END})],
                                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                                    }
                                }
                            )
                        ],
                    },
                    "Done": DONE,
                }
            ),
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Done "
            "at /States/Outer/Branches/0/States/Inner/Catch/0/Next",
        ),
    ],
    ids=[
        "choice-out-of-item-processor",
        "catch-out-of-item-processor",
        "into-a-branch",
        "nested-catch-out-of-branch",
    ],
)
def test_transitions_must_stay_in_their_scope(definition: dict[str, Any], finding: str) -> None:
    assert findings(definition) == [finding]


def test_an_outbound_transition_the_validator_reports_is_not_reported_twice() -> None:
    out_of_iterator = machine(
        {"Each": _map("Iterator", {"Step": {"Type": "Pass", "Next": "Done"}}), "Done": DONE}
    )
    reported = findings(out_of_iterator)
    assert "MAP_OUTBOUND_TRANSITION_TARGET: Map branch state cannot transition to target: Done" in reported
    assert not [
        finding for finding in reported if finding.startswith("MISSING_TRANSITION_TARGET: Missing 'Next'")
    ]


@pytest.mark.parametrize(
    ("paths", "finding"),
    [
        (
            {"ErrorPath": "semaphoreWorkError.Error"},
            "SCHEMA_VALIDATION_FAILED: The value for the field 'ErrorPath' must be a valid JSONPath or "
            "a valid intrinsic function call at /States/Stop/ErrorPath",
        ),
        (
            {"CausePath": "$..Cause"},
            "SCHEMA_VALIDATION_FAILED: The value for the field 'CausePath' must be a valid JSONPath or "
            "a valid intrinsic function call at /States/Stop/CausePath",
        ),
        (
            {"CausePath": "States.Format('{}', States.NoSuchFunction($.x))"},
            "SCHEMA_VALIDATION_FAILED: The value for the field 'CausePath' must be a valid JSONPath or "
            "a valid intrinsic function call at /States/Stop/CausePath",
        ),
        (
            {"CausePath": "States.NoSuchFunction($.x)"},
            "SCHEMA_VALIDATION_FAILED: The field 'CausePath' does not support the intrinsic function "
            "States.NoSuchFunction (only States.ArrayGetItem, States.Base64Decode, States.Base64Encode, "
            "States.Format, States.Hash, States.JsonToString, States.UUID) at /States/Stop/CausePath",
        ),
        (
            {"ErrorPath": "States.MathRandom(1, 4)"},
            "SCHEMA_VALIDATION_FAILED: The field 'ErrorPath' does not support the intrinsic function "
            "States.MathRandom (only States.ArrayGetItem, States.Base64Decode, States.Base64Encode, "
            "States.Format, States.Hash, States.JsonToString, States.UUID) at /States/Stop/ErrorPath",
        ),
    ],
    ids=[
        "not-a-path",
        "not-a-reference-path",
        "unknown-nested-intrinsic",
        "unknown-intrinsic",
        "not-allowed-there",
    ],
)
def test_fail_paths_are_reference_paths_or_string_intrinsics(paths: dict[str, str], finding: str) -> None:
    assert findings(machine({"Stop": {"Type": "Fail", **paths}})) == [finding]


def test_a_state_name_twice_in_one_states_object_is_refused() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Succeed"}}}'
    assert findings(text) == ["DUPLICATE_STATE_NAME: Duplicate State name: A at /States/A"]


def test_payload_keys_named_like_structure_are_accepted() -> None:
    """asl-validator 4.0.0 searches the whole document for these names: without the workaround this payload
    was refused ("Missing 'StartAt'|'Next'|'Default' target: tomorrow") and "States" as a list crashed it.
    AWS accepts any key in a payload."""
    payload = {"Next": "tomorrow", "Default": "x", "StartAt": "noon", "States": ["NY", "CA"], "Branches": 3}
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FUNCTION, "Payload": payload},
        "End": True,
    }
    assert findings(machine({"Call": task})) == []
    assert (
        findings(machine({"Fixed": {"Type": "Pass", "Result": {"States": {"Call": 1}}, "End": True}})) == []
    )


def test_findings_inside_a_renamed_payload_key_name_it_as_written() -> None:
    bad = machine(
        {"Draw": {"Type": "Pass", "Parameters": {"States": {"x.$": "States.Nope(1)"}}, "End": True}}
    )
    assert findings(bad) == [
        "SCHEMA_VALIDATION_FAILED: /States/Draw/Parameters/States/x.$ is invalid. "
        'must match format "asl_payload_template"'
    ]


def test_a_payload_key_beside_its_dollar_twin_is_still_a_duplicate_field() -> None:
    twins = machine({"Draw": {"Type": "Pass", "Parameters": {"Next": "a", "Next.$": "$.b"}, "End": True}})
    assert any(finding.startswith("DUPLICATE_FIELD_NAME:") for finding in findings(twins))


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("not json", "INVALID_JSON_DESCRIPTION: Expecting value: line 1 column 1 (char 0)"),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": NaN, "End": true}}}',
            "INVALID_JSON_DESCRIPTION: NaN is not JSON",
        ),
        ("  ", "SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"),
        ("[1, 2]", "SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object"),
    ],
    ids=["not-json", "nan", "blank", "not-an-object"],
)
def test_text_that_is_not_a_json_object(text: str, finding: str) -> None:
    assert findings(text) == [finding]


#: Every construct the module's machines (and the bench baseline) use, one small machine each.
ACCEPTED = {
    "parallel-result-path-null": machine(
        {
            "P": {
                "Type": "Parallel",
                "ResultPath": None,
                "OutputPath": "$[0]",
                "End": True,
                "Branches": [branch({"A": PASS_END})],
            }
        }
    ),
    "map-item-processor": machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **branch({"A": PASS_END})},
                "End": True,
            }
        }
    ),
    "map-iterator": machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Parameters": {"v.$": "$$.Map.Item.Value"},
                "Iterator": branch({"A": PASS_END}),
                "End": True,
            }
        }
    ),
    "fail-paths": machine({"F": {"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"}}),
    "fail-path-intrinsics": machine(
        {
            "F": {
                "Type": "Fail",
                "ErrorPath": "States.Format('E{}', $.x)",
                "CausePath": "States.JsonToString($.e)",
            }
        }
    ),
    "retry-jitter-max-delay": machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FUNCTION,
                "End": True,
                "Retry": [
                    {
                        "Comment": "why",
                        "ErrorEquals": ["SemaphoreFullError", "LockThrottledError"],
                        "IntervalSeconds": 2,
                        "MaxAttempts": 99999999,
                        "BackoffRate": 1,
                        "JitterStrategy": "FULL",
                        "MaxDelaySeconds": 10,
                    }
                ],
            }
        }
    ),
    "intrinsics": machine(
        {
            "P": {
                "Type": "Pass",
                "Parameters": {
                    "wait.$": "States.MathRandom(1, 4)",
                    "text.$": "States.JsonToString($)",
                    "negative.$": "States.Format('-{}', $.weightHint)",
                    "key.$": "States.StringToJson(States.Format('{}{}:{}\"S\":{}{}{}', $.braces.open, "
                    "States.JsonToString($.lockIdAttribute), $.braces.open, States.JsonToString($.lockName), "
                    "$.braces.close, $.braces.close))",
                    "execution.$": "$$.Execution.Id",
                    "entered.$": "$$.State.EnteredTime",
                },
                "End": True,
            }
        }
    ),
    "dynamodb-result-selector": machine(
        {
            "Check": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {
                    "TableName": "t",
                    "Key": {"lockName": {"S": "x"}},
                    "ProjectionExpression": "#holder",
                    "ExpressionAttributeNames": {"#holder.$": "$$.Execution.Id"},
                    "ConsistentRead": True,
                },
                "ResultSelector": {
                    "waitSeconds.$": "States.MathRandom(1, 3)",
                    "entry.$": "States.JsonToString($)",
                },
                "ResultPath": "$.semaphoreHolderCheck",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Done"}],
                "Next": "Done",
            },
            "Done": DONE,
        }
    ),
    "credentials": machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Credentials": {"RoleArn": "arn:aws:iam::123456789012:role/r"},
                "Parameters": {"FunctionName": FUNCTION, "Payload.$": "$"},
                "End": True,
            }
        }
    ),
    "wait-for-task-token": machine(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "TimeoutSeconds": 60,
                "HeartbeatSeconds": 10,
                "Parameters": {"FunctionName": FUNCTION, "Payload": {"taskToken.$": "$$.Task.Token"}},
                "End": True,
            }
        }
    ),
    "choice-and-wait": machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.entry", "StringMatches": '*"weight"*', "Next": "Done"}],
                "Default": "W",
            },
            "W": {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "C"},
            "Done": DONE,
        }
    ),
    "machine-timeout": {"Comment": "c", "TimeoutSeconds": 300, **machine({"S": DONE})},
}


@pytest.mark.parametrize("definition", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_what_the_module_uses_is_accepted(definition: dict[str, Any]) -> None:
    assert findings(definition) == []


def test_the_command_line_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.asl.json", tmp_path / "bad.asl.json"
    good.write_text(json.dumps(VALID))
    bad.write_text(json.dumps(DUPLICATE_ACROSS_BRANCHES))
    assert asl.main([str(good)]) == 0
    assert asl.main([str(good), str(bad)]) == 1
    assert capsys.readouterr().out.splitlines()[-3:] == [
        f"{good}: valid",
        f"{bad}: invalid",
        "  DUPLICATE_STATE_NAMES: A state with this name already exists: Release slot",
    ]
