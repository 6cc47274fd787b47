"""The reaper and sweeper wiring, read from plans of the module root (no AWS: the endpoint is a closed port).

By default a semaphore gets its own reaper, the rule that starts it on FAILED/ABORTED/TIMED_OUT of its own
state machine with an input the reaper understands, and a sweeper; each can be turned off, and the reaper
can be an existing one. Inconsistent reaper settings fail the plan with a message that says what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.terraform import Terraform, created_resources

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
EXISTING_REAPER = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:shared-reaper"
EXISTING_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shared-reaper-events"

GOOD = {
    "name": "recovery",
    "concurrency_limit": 3,
    "per_item_concurrency": 2,
    "work_definition": json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}),
}


def _planned(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return created_resources(terraform.planned({**GOOD, **values}, tmp_path))


def _refused(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> str:
    return terraform.refusal({**GOOD, **values}, tmp_path)


def _fill(template: str, values: dict[str, str]) -> Any:
    """The reaper's input for an event, as EventBridge fills the placeholders (inside quotes: plain text)."""
    for name, value in values.items():
        template = template.replace(f"<{name}>", value)
    return json.loads(template)


def test_by_default_a_reaper_its_rule_and_a_sweeper_are_planned(
    module_root: Terraform, tmp_path: Path
) -> None:
    planned = _planned(module_root, tmp_path, {})

    assert "module.reaper[0].aws_sfn_state_machine.this" in planned
    assert "module.sweeper[0].aws_lambda_function.this" in planned
    # The rule's pattern names the state machine's ARN, known only after apply: the e2e tests check it.
    assert "aws_cloudwatch_event_rule.reaper[0]" in planned

    target = planned["aws_cloudwatch_event_target.reaper[0]"]
    transformer = target["input_transformer"][0]
    assert transformer["input_paths"] == {
        "executionArn": "$.detail.executionArn",
        "status": "$.detail.status",
    }
    execution = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:recovery:run-1"
    assert _fill(transformer["input_template"], {"executionArn": execution, "status": "ABORTED"}) == {
        "executionArn": execution,
        "status": "ABORTED",
        "table": "recovery-locks",
        "lockIdAttribute": "LockName",
        "lockName": "recovery",
        "weightHint": 2,
    }

    sweeper = planned["module.sweeper[0].aws_cloudwatch_event_rule.this"]
    assert sweeper["schedule_expression"] == "rate(5 minutes)"


def test_a_dynamic_lock_name_is_read_by_the_reaper_from_the_index_item(
    module_root: Terraform, tmp_path: Path
) -> None:
    planned = _planned(
        module_root,
        tmp_path,
        {"lock_name_path": "$.customerId", "sweep_interval_minutes": 1},
    )

    template = planned["aws_cloudwatch_event_target.reaper[0]"]["input_transformer"][0]["input_template"]
    assert _fill(template, {"executionArn": "arn:x", "status": "FAILED"})["lockName"] is None
    assert (
        planned["module.sweeper[0].aws_cloudwatch_event_rule.this"]["schedule_expression"] == "rate(1 minute)"
    )


def test_a_lock_name_that_looks_like_a_placeholder_stays_a_lock_name(
    module_root: Terraform, tmp_path: Path
) -> None:
    planned = _planned(module_root, tmp_path, {"lock_name": 'db "<status>" pool'})

    template = planned["aws_cloudwatch_event_target.reaper[0]"]["input_transformer"][0]["input_template"]
    assert _fill(template, {"executionArn": "arn:x", "status": "FAILED"})["lockName"] == 'db "<status>" pool'


def test_an_existing_reaper_is_attached_and_none_is_created(module_root: Terraform, tmp_path: Path) -> None:
    planned = _planned(
        module_root,
        tmp_path,
        {
            "create_reaper": False,
            "reaper_state_machine_arn": EXISTING_REAPER,
            "reaper_events_role_arn": EXISTING_ROLE,
        },
    )

    assert not [address for address in planned if address.startswith("module.reaper")]
    target = planned["aws_cloudwatch_event_target.reaper[0]"]
    assert (target["arn"], target["role_arn"]) == (EXISTING_REAPER, EXISTING_ROLE)


def test_reaper_and_sweeper_can_both_be_off(module_root: Terraform, tmp_path: Path) -> None:
    planned = _planned(module_root, tmp_path, {"create_reaper": False, "sweep_interval_minutes": None})

    assert not [a for a in planned if "reaper" in a or "sweeper" in a], sorted(planned)


def test_express_semaphores_get_no_reaper(module_root: Terraform, tmp_path: Path) -> None:
    planned = _planned(module_root, tmp_path, {"state_machine_type": "EXPRESS"})

    assert not [a for a in planned if "reaper" in a], "Express workflows send no status-change events"
    assert "module.sweeper[0].aws_lambda_function.this" in planned


def test_an_existing_reaper_without_create_reaper_false_is_refused(
    module_root: Terraform, tmp_path: Path
) -> None:
    stderr = _refused(module_root, tmp_path, {"reaper_state_machine_arn": EXISTING_REAPER})
    assert "set create_reaper = false to use them" in stderr


def test_an_existing_reaper_needs_its_events_role(module_root: Terraform, tmp_path: Path) -> None:
    stderr = _refused(
        module_root, tmp_path, {"create_reaper": False, "reaper_state_machine_arn": EXISTING_REAPER}
    )
    assert "needs both reaper_state_machine_arn and reaper_events_role_arn" in stderr
