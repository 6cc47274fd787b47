"""IAM least privilege: the rules (tests/static/iam_rules.py) on known-bad documents, then on every example.

Each example is planned against the local AWS and its policies are taken from ``terraform show -json`` of
the plan. The state machine's role policy names the lock table's ARN, which a first plan cannot know: the
plan shows that policy as unknown. For those, the example is applied to the local AWS and every policy of
every role it created is read back from IAM (get-role, get-role-policy, attached policies) and checked,
together with the ones the plan already knew. Destroyed at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2
import pytest

from harness import aws
from harness.deployment import Deployment
from harness.executions import unique_name
from harness.terraform import VarValue
from localaws.process import LocalAwsProcess
from tests.static.iam_rules import (
    NO_RESOURCE_LEVEL_ACTIONS,
    Finding,
    Policy,
    PolicyDocumentError,
    check,
    check_identity_policy,
    check_trust_policy,
    lock_table_arns_in_state,
    parse_document,
    policies_in_account,
    policies_in_plan,
    state_resources,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if any(p.glob("*.tf")))
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders-locks"
OTHER_TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/someone-elses"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


# --- the rules -----------------------------------------------------------------------------------------


def test_the_module_s_own_policy_shape_passes() -> None:
    document = _policy(
        _allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], TABLE),
        _allow(["kms:Decrypt", "kms:Encrypt"], "arn:aws:kms:us-east-1:123456789012:key/1234"),
        _allow(sorted(NO_RESOURCE_LEVEL_ACTIONS), "*"),
    )
    assert check_identity_policy(document, {TABLE}, "good") == []


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (_allow("*", "*"), "wildcard action '*'"),
        (_allow("dynamodb:*", TABLE), "wildcard action 'dynamodb:*'"),
        (_allow("dynamodb:Get*", TABLE), "wildcard action 'dynamodb:Get*'"),
        (_allow("dynamodb:GetItem", "*"), "dynamodb:GetItem on Resource '*'"),
        (_allow("dynamodb:GetItem", "*"), "not only the lock table"),
        (_allow("dynamodb:UpdateItem", OTHER_TABLE), "not only the lock table"),
        (_allow("dynamodb:UpdateItem", [TABLE, OTHER_TABLE]), "not only the lock table"),
        (_allow("dynamodb:Query", f"{TABLE}/index/*"), "not only the lock table"),
        (_allow("DynamoDB:getitem", "*"), "not only the lock table"),
        (_allow("s3:GetObject", "*"), "s3:GetObject on Resource '*'"),
        (_allow("logs:CreateLogGroup", "*"), "logs:CreateLogGroup on Resource '*'"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction"),
        ({"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": OTHER_TABLE}, "NotResource"),
    ],
)
def test_a_broad_statement_is_found(statement: dict[str, Any], problem: str) -> None:
    document = _policy(_allow("dynamodb:GetItem", TABLE), statement)
    findings = check_identity_policy(document, {TABLE}, "bad")
    assert any(problem in str(finding) for finding in findings), findings


def test_a_single_statement_object_is_checked_too() -> None:
    document = {"Version": "2012-10-17", "Statement": _allow("*", "*")}
    assert check_identity_policy(document, {TABLE}, "bad")


def test_a_deny_may_be_broad() -> None:
    document = _policy({"Effect": "Deny", "Action": "*", "Resource": "*"}, _allow("dynamodb:GetItem", TABLE))
    assert check_identity_policy(document, {TABLE}, "deny") == []


def test_a_document_without_statements_is_an_error() -> None:
    with pytest.raises(PolicyDocumentError):
        check_identity_policy({"Version": "2012-10-17"}, {TABLE}, "empty")


@pytest.mark.parametrize(
    ("principal", "action", "problem"),
    [
        ("*", "sts:AssumeRole", "is not only AWS services"),
        ({"AWS": "arn:aws:iam::210987654321:root"}, "sts:AssumeRole", "is not only AWS services"),
        ({"Service": "*"}, "sts:AssumeRole", "is not one AWS service"),
        ({"Service": "states.amazonaws.com"}, "sts:*", "not only sts:AssumeRole"),
    ],
)
def test_a_broad_trust_policy_is_found(principal: Any, action: str, problem: str) -> None:
    document = _policy({"Effect": "Allow", "Principal": principal, "Action": action})
    findings = check_trust_policy(document, "trust")
    assert any(problem in str(finding) for finding in findings), findings


def test_a_service_trust_policy_passes() -> None:
    document = _policy(
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    assert check_trust_policy(document, "trust") == []


def test_parse_document_reads_iam_s_url_encoded_json() -> None:
    assert parse_document("%7B%22Statement%22%3A%20%5B%5D%7D") == {"Statement": []}


# --- policies in a plan ----------------------------------------------------------------------------------


def _change(
    address: str, type_: str, after: dict[str, Any], unknown: dict[str, Any], actions: list[str]
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": type_,
        "change": {"actions": actions, "after": after, "after_unknown": unknown},
    }


def test_policies_in_plan_reports_known_and_unknown_documents() -> None:
    trust = json.dumps(_policy({"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}}))
    plan = {
        "resource_changes": [
            _change("aws_iam_role.this", "aws_iam_role", {"assume_role_policy": trust}, {}, ["create"]),
            _change("aws_iam_role_policy.this", "aws_iam_role_policy", {}, {"policy": True}, ["create"]),
            _change("aws_iam_policy.gone", "aws_iam_policy", {}, {}, ["delete"]),
            _change("aws_sfn_state_machine.this", "aws_sfn_state_machine", {"name": "x"}, {}, ["create"]),
        ]
    }
    found = {policy.where: policy for policy in policies_in_plan(plan)}
    assert set(found) == {"aws_iam_role.this.assume_role_policy", "aws_iam_role_policy.this.policy"}
    assert found["aws_iam_role.this.assume_role_policy"].kind == "trust"
    assert found["aws_iam_role.this.assume_role_policy"].document is not None
    assert found["aws_iam_role_policy.this.policy"].document is None


def test_check_refuses_a_policy_that_is_not_known_yet() -> None:
    with pytest.raises(PolicyDocumentError, match="read it back after apply"):
        check([Policy("aws_iam_role_policy.this.policy", "identity", None)], {TABLE})


# --- every example ---------------------------------------------------------------------------------------


def _example_variables(example: Path) -> dict[str, VarValue]:
    """Unique names for the example's resources, and the newest runtime the offline aws provider knows."""
    declared: set[str] = set()
    for tf_file in example.glob("*.tf"):
        with tf_file.open() as handle:
            for block in hcl2.load(handle).get("variable", []):
                declared.update(label.strip('"') for label in block)  # python-hcl2 keeps the quotes
    variables: dict[str, VarValue] = {}
    for name in ("name", "name_prefix"):
        if name in declared:
            variables[name] = unique_name(f"iam-{example.name}")[:40]
    for name in ("runtime", "lambda_runtime"):
        if name in declared:
            variables[name] = "python3.8"
    return variables


def _findings_after_apply(source: Path, endpoint: str, parent: Path) -> list[Finding]:
    """Plan ``source``, apply it, read every role's policies back from IAM, check them all; then destroy."""
    variables = _example_variables(source)
    deployment = Deployment.prepare(source, endpoint, parent, variables)
    plan_file = deployment.workdir / "iam.tfplan"
    deployment.terraform.plan(variables, out=plan_file)
    planned = policies_in_plan(deployment.terraform.show_plan_json(plan_file))
    assert any(p.kind == "identity" for p in planned), f"{source.name} plans no identity policy to check"

    try:
        deployment.apply()
        state = deployment.terraform.show_state_json()
        managed = [r for r in state_resources(state) if r["mode"] == "managed"]
        role_names = {r["values"]["name"] for r in managed if r["type"] == "aws_iam_role"}
        live = policies_in_account(aws.client("iam", endpoint), role_names)

        # Every inline policy the root manages was read back from IAM, the ones the plan could not show too.
        managed_inline = {
            (r["values"]["role"], r["values"]["name"]) for r in managed if r["type"] == "aws_iam_role_policy"
        }
        read_back = {p.inline for p in live if p.inline is not None}
        assert managed_inline <= read_back, f"not read back from IAM: {managed_inline - read_back}"

        table_arns = lock_table_arns_in_state(state)
        assert table_arns, f"{source.name} has no lock table in its state"
        known_at_plan = [p for p in planned if p.document is not None]
        return check([*known_at_plan, *live], table_arns)
    finally:
        deployment.destroy()


@pytest.mark.e2e
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_policies_are_least_privilege(
    example: str, static_local_aws: LocalAwsProcess, tmp_path: Path
) -> None:
    findings = _findings_after_apply(ROOT / "examples" / example, static_local_aws.endpoint, tmp_path)
    assert not findings, "\n".join(str(f) for f in findings)


@pytest.mark.e2e
def test_a_broad_policy_in_an_applied_root_is_found(
    static_local_aws: LocalAwsProcess, tmp_path: Path
) -> None:
    """The same plan, apply and read-back on a root with a too-broad work policy: the check must object."""
    source = Path(__file__).parent / "fixtures" / "broad-work-policy"
    findings = [str(f) for f in _findings_after_apply(source, static_local_aws.endpoint, tmp_path)]
    assert any("inline work" in f and "wildcard action 'dynamodb:*'" in f for f in findings), findings
    assert any("inline work" in f and "not only the lock table" in f for f in findings), findings
    # The module's own policy is still clean.
    assert not [f for f in findings if "inline semaphore" in f], findings
