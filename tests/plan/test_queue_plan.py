"""Queue mode's wiring, read from plans of the module root (no AWS: the endpoint is a closed port).

acquire_mode = "queue" adds the two queue Lambdas, configured with the semaphore's limits; the status-change
rule then invokes the queue release Lambda (which also drops waiters and hands slots on) instead of the
pure Step Functions reaper; the warm-up rate is the queue Lambdas' job, so no acquirer Lambda. Poll mode
plans none of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.terraform import Terraform, created_resources

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "name": "render",
    "concurrency_limit": 4,
    "acquire_mode": "queue",
    "work_definition": json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}),
}


def _planned(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return created_resources(terraform.planned({**GOOD, **values}, tmp_path))


def test_metrics_namespace_reaches_the_queue_functions(module_root: Terraform, tmp_path: Path) -> None:
    # (The sweeper's environment names ARNs that are unknown until applied; the e2e sweeper test reads what
    # it prints instead.)
    planned = _planned(module_root, tmp_path, {"metrics_namespace": "Team/Semaphores"})
    for key in ("acquire", "release"):
        variables = planned[f'module.queue[0].aws_lambda_function.this["{key}"]']["environment"][0][
            "variables"
        ]
        assert (variables["METRICS_NAMESPACE"], variables["METRICS_SEMAPHORE"]) == (
            "Team/Semaphores",
            "render",
        )


def _release_event(template: str, execution_arn: str) -> Any:
    return json.loads(template.replace("<executionArn>", execution_arn))


def test_queue_mode_plans_the_queue_lambdas_and_makes_the_release_the_reaper(
    module_root: Terraform, tmp_path: Path
) -> None:
    planned = _planned(module_root, tmp_path, {"warmup_tps_limit": 2})

    acquire = planned['module.queue[0].aws_lambda_function.this["acquire"]']
    release = planned['module.queue[0].aws_lambda_function.this["release"]']
    assert acquire["function_name"] == "render-queue-acquire"
    assert acquire["handler"] == "queue_acquire.handler.lambda_handler"
    assert release["environment"][0]["variables"] == {
        "LOCK_TABLE_NAME": "render-locks",
        "LOCK_ID_ATTRIBUTE": "LockName",
        "SEMAPHORE_LIMIT": "4",
        "SEMAPHORE_TPS_LIMIT": "2",
        "METRICS_NAMESPACE": "",  # no metrics unless metrics_namespace is set
        "METRICS_SEMAPHORE": "render",
    }
    assert not any(address.startswith("module.acquirer") for address in planned), "no poll-mode acquirer"
    assert not any(address.startswith("module.reaper") for address in planned), "no pure reaper"
    assert "aws_cloudwatch_event_target.reaper[0]" not in planned

    target = planned["aws_cloudwatch_event_target.queue_reaper[0]"]
    transformer = target["input_transformer"][0]
    assert transformer["input_paths"] == {"executionArn": "$.detail.executionArn"}
    execution = "arn:aws:states:us-east-1:123456789012:execution:render:run-1"
    assert _release_event(transformer["input_template"], execution) == {
        "lockName": "render",
        "executionArn": execution,
        "ended": True,
    }
    permission = planned["aws_lambda_permission.queue_reaper[0]"]
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["function_name"] == "render-queue-release"
    assert "module.sweeper[0].aws_lambda_function.this" in planned, "the sweeper stays the safety net"


def test_a_dynamic_lock_name_is_read_by_the_release_from_the_execution_item(
    module_root: Terraform, tmp_path: Path
) -> None:
    planned = _planned(module_root, tmp_path, {"lock_name_path": "$.customer"})
    target = planned["aws_cloudwatch_event_target.queue_reaper[0]"]
    template = target["input_transformer"][0]["input_template"]
    assert _release_event(template, "arn:x")["lockName"] is None


def test_the_longest_name_keeps_every_function_and_role_name_within_64_characters(
    module_root: Terraform, tmp_path: Path
) -> None:
    """`name` allows 50 characters: every function and role the module derives from it (the longest suffix is
    "-queue-release") must stay within AWS's 64, with the sweeper and the reaper on."""
    planned = _planned(module_root, tmp_path, {"name": "n" * 50})
    named = {
        address: values.get("function_name") or values.get("name")
        for address, values in planned.items()
        if address.split(".")[-2].split("[")[0] in ("aws_lambda_function", "aws_iam_role")
        or ".aws_lambda_function." in address
        or ".aws_iam_role." in address
    }
    assert any("aws_lambda_function" in a for a in named) and any("aws_iam_role" in a for a in named), named
    too_long = {address: name for address, name in named.items() if len(name) > 64}
    assert not too_long, too_long


def test_poll_mode_plans_none_of_it(module_root: Terraform, tmp_path: Path) -> None:
    planned = _planned(module_root, tmp_path, {"acquire_mode": "poll"})
    assert not any("queue" in address for address in planned), [a for a in planned if "queue" in a]
    assert "aws_cloudwatch_event_target.reaper[0]" in planned


def _acquire_branch(planned: dict[str, dict[str, Any]]) -> dict[str, Any]:
    definition = json.loads(planned["aws_sfn_state_machine.this"]["definition"])
    states: dict[str, Any] = definition["States"]["Acquire semaphore"]["Branches"][0]["States"]
    return states


@pytest.mark.parametrize(("wait", "low", "high_exclusive"), [(2, 1, 4), (5, 3, 8), (60, 30, 91)])
def test_poll_mode_draws_each_wait_around_acquire_wait_seconds(
    module_root: Terraform, tmp_path: Path, wait: int, low: int, high_exclusive: int
) -> None:
    states = _acquire_branch(
        _planned(module_root, tmp_path, {"acquire_mode": "poll", "acquire_wait_seconds": wait})
    )
    drawn = states["Check if already holding"]["ResultSelector"]["waitSeconds.$"]
    assert drawn == f"States.MathRandom({low}, {high_exclusive})"  # end excluded: mean = wait
    waiting = states["Wait for a free slot"]
    assert waiting["SecondsPath"] == "$.semaphoreHolderCheck.waitSeconds" and "Seconds" not in waiting
    assert states["Check if already holding"]["ResultPath"] == "$.semaphoreHolderCheck"


def test_poll_mode_waits_exactly_one_second_at_a_1_s_wait(module_root: Terraform, tmp_path: Path) -> None:
    states = _acquire_branch(
        _planned(module_root, tmp_path, {"acquire_mode": "poll", "acquire_wait_seconds": 1})
    )
    assert states["Wait for a free slot"]["Seconds"] == 1
    assert "SecondsPath" not in states["Wait for a free slot"]
    assert "MathRandom" not in json.dumps(states)
