"""The harness's own logic, without Terraform or a server: the end-to-end tests are only as good as this."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from harness import workspace
from harness.executions import (
    Interval,
    NotReallyExecutedError,
    assert_really_executed,
    entered_states,
    execution_arn,
    max_overlap,
    parse_lock_item,
    state_intervals,
    work_interval,
)
from harness.terraform import format_var

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": T0 + timedelta(seconds=seconds), **details}


def _entered(kind: str, name: str, seconds: float) -> dict[str, Any]:
    return _event(f"{kind}StateEntered", seconds, stateEnteredEventDetails={"name": name})


def _exited(kind: str, name: str, seconds: float) -> dict[str, Any]:
    return _event(f"{kind}StateExited", seconds, stateExitedEventDetails={"name": name})


def _update_succeeded(seconds: float, table: str) -> dict[str, Any]:
    output = json.dumps({"ConsumedCapacity": {"TableName": table, "CapacityUnits": 0.5}})
    details = {"resourceType": "dynamodb", "resource": "updateItem", "output": output}
    return _event("TaskSucceeded", seconds, taskSucceededEventDetails=details)


def _real_history(table: str = "t-locks", work: float = 1.0) -> list[dict[str, Any]]:
    return [
        _entered("Parallel", "Acquire semaphore", 0.0),
        _update_succeeded(0.05, table),
        _exited("Parallel", "Acquire semaphore", 0.06),
        _entered("Parallel", "Run work", 0.06),
        _entered("Wait", "Do work", 0.07),
        _exited("Wait", "Do work", 0.07 + work),
        _exited("Parallel", "Run work", 0.08 + work),
        _entered("Parallel", "Release semaphore", 0.08 + work),
        _update_succeeded(0.09 + work, table),
        _exited("Parallel", "Release semaphore", 0.1 + work),
    ]


def test_max_overlap_counts_only_true_overlaps() -> None:
    assert max_overlap([]) == 0
    assert max_overlap([Interval(0, 1), Interval(1, 2), Interval(2, 3)]) == 1, "touching is not overlapping"
    assert max_overlap([Interval(0, 3), Interval(1, 2), Interval(1.5, 4), Interval(3.5, 5)]) == 3
    assert max_overlap([Interval(0, 1)] * 4) == 4


def test_history_intervals_and_states() -> None:
    events = _real_history(work=2.0)
    interval = work_interval(events)
    assert interval is not None
    assert interval.seconds == pytest.approx(2.02)
    assert entered_states(events) == ["Acquire semaphore", "Run work", "Do work", "Release semaphore"]
    assert state_intervals(events[:4], "Run work") == [], "an interval never exited is not an interval"


def test_really_executed_accepts_a_real_shape_and_rejects_the_rest() -> None:
    assert_really_executed(_real_history(), "t-locks", 1.0)
    with pytest.raises(NotReallyExecutedError, match="less than the work"):
        assert_really_executed(_real_history(work=0.2), "t-locks", 1.0)
    with pytest.raises(NotReallyExecutedError, match="does not come from table"):
        assert_really_executed(_real_history(table="other"), "t-locks", 1.0)
    with pytest.raises(NotReallyExecutedError, match="found 0"):
        assert_really_executed([e for e in _real_history() if e["type"] != "TaskSucceeded"], "t-locks", 1.0)


def test_really_executed_rejects_the_history_moto_makes_up() -> None:
    with mock_aws():  # Step Functions execution is off here, as on a plain moto server
        iam = boto3.client("iam", region_name="us-east-1")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        definition = {"StartAt": "Run work", "States": {"Run work": {"Type": "Pass", "End": True}}}
        machine = sfn.create_state_machine(name="m", roleArn=role, definition=json.dumps(definition))
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e")["executionArn"]
        events = sfn.get_execution_history(executionArn=arn)["events"]
    assert events, "moto returns a history even though nothing ran"
    with pytest.raises(NotReallyExecutedError):
        assert_really_executed(events, "t-locks", 1.0)


def test_parse_lock_item() -> None:
    assert not parse_lock_item(None).exists
    state = parse_lock_item(
        {
            "LockName": {"S": "l"},
            "lockCount": {"N": "3"},
            "arn:aws:states:us-east-1:1:execution:m:a": {
                "M": {"weight": {"N": "2"}, "acquiredAt": {"S": "x"}}
            },
            "arn:aws:states:us-east-1:1:execution:m:b": {"M": {"weight": {"N": "1"}}},
            "nextGrantAt": {"N": "5"},
        }
    )
    assert state.exists and state.count == 3
    assert dict(state.holders) == {
        "arn:aws:states:us-east-1:1:execution:m:a": 2,
        "arn:aws:states:us-east-1:1:execution:m:b": 1,
    }


def test_execution_arn() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    assert execution_arn(machine, "e1") == "arn:aws:states:us-east-1:123456789012:execution:m:e1"


def test_format_var() -> None:
    assert format_var("n", 3) == "n=3"
    assert format_var("b", True) == "b=true"
    assert format_var("s", "a b") == "s=a b"
    assert format_var("m", {"k": "v"}) == 'm={"k": "v"}'


def test_prepare_points_a_copy_at_the_local_aws(tmp_path: Path) -> None:
    source = tmp_path / "repo" / "examples" / "ex"
    source.mkdir(parents=True)
    main = 'provider "aws" {\n  region = "eu-west-1"\n}\n\nmodule "m" {\n  source = "../../"\n}\n'
    (source / "main.tf").write_text(main)
    (source / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n'
    )

    workdir = workspace.prepare(source, "http://127.0.0.1:4599", tmp_path / "work")

    assert (source / "main.tf").read_text() == main, "the original must not change"
    assert sorted(p.name for p in source.iterdir()) == ["main.tf", "versions.tf"]
    assert f'source = "{(tmp_path / "repo").resolve()}"' in (workdir / "main.tf").read_text()
    assert 'source = "hashicorp/aws"' in (workdir / "versions.tf").read_text()
    override = (workdir / workspace.OVERRIDE_FILE).read_text()
    for service in workspace.ENDPOINT_SERVICES:
        assert f'{service} = "http://127.0.0.1:4599"' in " ".join(override.split())
    assert not (workdir / workspace.PROVIDER_FILE).exists()


def test_prepare_adds_a_provider_to_a_root_without_one(tmp_path: Path) -> None:
    source = tmp_path / "module"
    (source / "templates").mkdir(parents=True)
    (source / "main.tf").write_text('resource "aws_sqs_queue" "q" {}\n')
    (source / "templates" / "t.tftpl").write_text("x")

    workdir = workspace.prepare(source, "http://127.0.0.1:1", tmp_path / "work", include=("templates",))

    assert (workdir / workspace.PROVIDER_FILE).exists()
    assert not (workdir / workspace.OVERRIDE_FILE).exists()
    assert (workdir / "templates" / "t.tftpl").read_text() == "x"


def test_prepare_gives_the_modules_lambdas_a_runtime_the_offline_provider_knows(tmp_path: Path) -> None:
    example = workspace.MODULE_ROOT / "examples" / "basic"
    workdir = workspace.prepare(example, "http://127.0.0.1:1", tmp_path / "work")
    override = (workdir / workspace.RUNTIME_OVERRIDE_FILE).read_text()
    assert 'module "sfn_semaphore" {\n  lambda_runtime = "python3.8"\n}' in override

    root = workspace.prepare(workspace.MODULE_ROOT, "http://127.0.0.1:1", tmp_path / "root", ("templates",))
    override = (root / workspace.RUNTIME_OVERRIDE_FILE).read_text()
    assert 'variable "lambda_runtime" {\n  default = "python3.8"\n}' in override
    assert "module " not in override, "the root's own sub-modules are not the module"

    other = tmp_path / "other"
    other.mkdir()
    (other / "main.tf").write_text('module "x" {\n  source = "./child"\n}\n')
    assert not (
        workspace.prepare(other, "http://127.0.0.1:1", tmp_path / "o") / "localaws_runtime_override.tf"
    ).exists()
