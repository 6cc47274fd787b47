"""Terratest-style lifecycle of every example: init, plan, apply, plan again (no changes), destroy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hcl2
import pytest

from harness import aws, resources
from harness.executions import unique_name
from harness.terraform import VarValue

if TYPE_CHECKING:
    from tests.e2e.conftest import Deploy

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
EXAMPLES = sorted(path.parent.name for path in EXAMPLES_DIR.glob("*/main.tf"))


def example_variables(example: str) -> dict[str, VarValue]:
    """Values for the example's naming variables, unique to this run so tests on one local AWS never
    collide; the example's defaults for everything else."""
    parsed = hcl2.load((EXAMPLES_DIR / example / "variables.tf").open())
    declared = {name.strip('"') for block in parsed.get("variable", []) for name in block}
    variables: dict[str, VarValue] = {}
    for naming in ("name", "name_prefix"):
        if naming in declared:
            variables[naming] = unique_name(f"life-{example}")
    if "lambda_runtime" in declared:
        # aws provider 3.39 validates runtimes against a list that ends at python3.8.
        variables["lambda_runtime"] = "python3.8"
    assert variables, f"examples/{example} has no name or name_prefix variable to make its names unique"
    return variables


def _check_lock_table(table_name: str, endpoint: str) -> None:
    """The table the module creates has encryption at rest and point-in-time recovery on."""
    dynamodb = aws.client("dynamodb", endpoint)
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def _check_least_privilege(found: list[resources.Resource]) -> None:
    """Each semaphore's role policy (or, in queue mode, its queue Lambdas' policy, as the state machine then
    touches no table) touches DynamoDB only on a lock table the root manages."""
    table_arns = {r.values["arn"] for r in found if r.type == "aws_dynamodb_table"}
    names = ("semaphore", "queue")
    policies = [r for r in found if r.type == "aws_iam_role_policy" and r.values["name"] in names]
    assert any(p.values["name"] == "semaphore" for p in policies), "no semaphore role policy in the state"
    touching = 0
    for policy in policies:
        statements = json.loads(policy.values["policy"])["Statement"]
        lock_statements = [s for s in statements if any("dynamodb:" in a for a in _as_list(s["Action"]))]
        touching += bool(lock_statements)
        for statement in lock_statements:
            assert set(_as_list(statement["Resource"])) <= table_arns, statement
            assert not any(a in ("*", "dynamodb:*") for a in _as_list(statement["Action"])), statement
    assert touching, "no role policy reaches the lock table: the check proved nothing"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.e2e
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_lifecycle(example: str, deploy: Deploy, endpoint: str) -> None:
    variables = example_variables(example)
    deployment = deploy(EXAMPLES_DIR / example, variables, apply=False)
    terraform = deployment.terraform
    terraform.validate()

    assert terraform.plan(variables) is True, "a fresh root must plan changes"
    deployment.apply()
    assert terraform.plan(variables) is False, "a second plan right after apply must show no changes"

    found = resources.managed_resources(terraform.show_state_json())
    assert {r.type for r in found} >= {"aws_dynamodb_table", "aws_sfn_state_machine", "aws_iam_role"}
    missing = [r.address for r in found if not resources.exists(r, endpoint)]
    assert not missing, f"applied but not on the local AWS: {missing}"
    for table in (r for r in found if r.type == "aws_dynamodb_table"):
        _check_lock_table(table.values["name"], endpoint)
    _check_least_privilege(found)

    deployment.destroy()
    left = [r.address for r in found if resources.exists(r, endpoint)]
    assert not left, f"still on the local AWS after destroy: {left}"
