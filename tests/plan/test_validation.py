"""Every input validation rejects a bad value at plan time with its own message; a good plan passes.

The module root itself is planned (a scratch copy, initialized once per worker), so each variable's own
``validation`` block answers. Its provider points at a port nothing listens on: a plan that tried to call
AWS would fail, which proves validation happens before any API call.

Values go in a ``.tfvars.json`` file, not ``-var``: Terraform 1.0.3 parses a ``-var`` number given to a
root variable so that ``floor(x) == x`` is false even for whole numbers (the module, called from a root,
never sees such a value).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from harness.terraform import Terraform, TerraformError

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "name": "plan-check",
    "concurrency_limit": 3,
    "work_definition": json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}),
}

# Bad values for every variable that has a validation block in variables.tf: one each, and a second where
# the condition has two distinct ways to go wrong (a plan costs ~1.5 s, mostly starting the provider).
BAD_VALUES: dict[str, list[Any]] = {
    "name": ["has spaces", "n" * 51],
    "lock_table_name": ["ab"],
    "lock_id_attribute": ["has space"],
    "lock_table_kms_key_arn": ["alias/my-key"],
    "cloudwatch_log_group_kms_key_arn": ["my-key-id"],
    "lock_name": ["arn:aws:states:us-east-1:123456789012:execution:m:e", ""],
    "lock_name_path": ["customerId", "$"],
    "concurrency_limit": [0, 2.5],
    "per_item_concurrency": [0],
    "acquire_wait_seconds": [0, 3601],
    "work_definition": [
        "not json",
        json.dumps({"StartAt": "Missing", "States": {"Work": {"Type": "Pass", "End": True}}}),
    ],
    "map_work_definition": ["not json", json.dumps({"States": {}})],
    "map_item_selector": ["[1]", "not json"],
    "state_machine_name": ["has space"],
    "state_machine_type": ["SYNC"],
    "state_machine_timeout_seconds": [0],
    "logging_level": ["DEBUG"],
    "cloudwatch_log_group_retention_in_days": [2],
    "role_policy_json": [json.dumps({"Version": "2012-10-17"})],
    "warmup_tps_limit": [0],
    "lambda_runtime": ["python2.7"],
    "lambda_memory_size": [64],
    "lambda_reserved_concurrent_executions": [-2],
    "lambda_kms_key_arn": ["my-key"],
    "lambda_dead_letter_target_arn": ["arn:aws:lambda:us-east-1:123456789012:function:f"],
    "reaper_state_machine_arn": ["arn:aws:lambda:us-east-1:123456789012:function:f"],
    "reaper_events_role_arn": ["arn:aws:iam::123456789012:user/someone"],
    "sweep_interval_minutes": [0, 1.5],
    "lock_lease_seconds": [0],
    "acquire_mode": ["fifo"],
    "max_queue_length": [0, 1426],
    "queue_recheck_seconds": [4, 2.5],
    "queue_peer_state_machine_arns": [["arn:aws:lambda:us-east-1:123456789012:function:render"], ["render"]],
    "metrics_namespace": ["AWS/Lambda", "semi;colon", "   ", ""],
    "fragment_name_suffixes": [[" (item)", " (item)"], ['" quoted']],
    "guarded_state_machine_arns": [["arn:aws:states:us-east-1:123456789012:execution:m:e"]],
}


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def validation_messages() -> dict[str, list[str]]:
    """Variable name -> the error messages of its validation blocks, read from variables.tf."""
    parsed = hcl2.load((ROOT / "variables.tf").open())
    messages: dict[str, list[str]] = {}
    for block in parsed.get("variable", []):
        for raw_name, body in block.items():
            blocks = body.get("validation", [])
            if blocks:
                messages[_unquote(raw_name)] = [
                    _unquote(v["error_message"]).replace('\\"', '"') for v in blocks
                ]
    return messages


MESSAGES = validation_messages()
CASES = [(name, value) for name, values in BAD_VALUES.items() for value in values]
CASE_IDS = [(name, index) for name, values in BAD_VALUES.items() for index in range(len(values))]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _plan(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> bool:
    var_file = tmp_path / "case.tfvars.json"
    var_file.write_text(json.dumps(values))
    return terraform.plan(var_files=[var_file], lock=False)


def test_every_validation_has_bad_values() -> None:
    assert set(BAD_VALUES) == set(MESSAGES), "add bad values here for every validated variable"


def test_good_inputs_plan(module_root: Terraform, tmp_path: Path) -> None:
    assert _plan(module_root, tmp_path, GOOD) is True


@pytest.mark.parametrize(("variable", "value"), CASES, ids=[f"{n}-{i}" for n, i in CASE_IDS])
def test_bad_value_is_rejected_with_its_message(
    module_root: Terraform, tmp_path: Path, variable: str, value: Any
) -> None:
    with pytest.raises(TerraformError) as raised:
        _plan(module_root, tmp_path, {**GOOD, variable: value})
    stderr = _squash(raised.value.stderr)
    assert "Invalid value for variable" in stderr
    assert f'variable "{variable}"' in stderr
    assert any(_squash(message) in stderr for message in MESSAGES[variable]), stderr


@pytest.mark.parametrize("runtime", ["python3.8", "python3.14"])
def test_oldest_and_newest_runtimes_pass(module_root: Terraform, tmp_path: Path, runtime: str) -> None:
    # Without the sweeper no function is created, so the aws provider 3.39's own list of runtimes (up to
    # python3.8) is not consulted: this is the module's validation alone.
    values = {**GOOD, "lambda_runtime": runtime, "sweep_interval_minutes": None}
    assert _plan(module_root, tmp_path, values) is True


def test_weight_above_the_limit_is_rejected(module_root: Terraform, tmp_path: Path) -> None:
    with pytest.raises(TerraformError) as raised:
        _plan(module_root, tmp_path, {**GOOD, "concurrency_limit": 3, "per_item_concurrency": 4})
    assert "per_item_concurrency (4) must be at most concurrency_limit (3)" in _squash(raised.value.stderr)


def test_weight_equal_to_the_limit_plans(module_root: Terraform, tmp_path: Path) -> None:
    assert _plan(module_root, tmp_path, {**GOOD, "concurrency_limit": 3, "per_item_concurrency": 3}) is True


QUEUE = {**GOOD, "acquire_mode": "queue"}


def test_queue_mode_plans(module_root: Terraform, tmp_path: Path) -> None:
    assert _plan(module_root, tmp_path, {**QUEUE, "max_queue_length": 1000, "concurrency_limit": 398}) is True


def test_queue_mode_refuses_express(module_root: Terraform, tmp_path: Path) -> None:
    with pytest.raises(TerraformError) as raised:
        _plan(module_root, tmp_path, {**QUEUE, "state_machine_type": "EXPRESS"})
    assert "Queue mode (acquire_mode queue) needs a STANDARD state machine" in _squash(raised.value.stderr)


def test_queue_mode_refuses_a_queue_that_outgrows_the_item(module_root: Terraform, tmp_path: Path) -> None:
    with pytest.raises(TerraformError) as raised:
        _plan(module_root, tmp_path, {**QUEUE, "max_queue_length": 1000, "concurrency_limit": 399})
    stderr = _squash(raised.value.stderr)
    assert "max_queue_length (1000) is too long for concurrency_limit 399" in stderr
    assert "Allow at most 999 waiters" in stderr
