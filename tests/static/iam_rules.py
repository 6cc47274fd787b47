"""Least-privilege rules for the IAM policies a Terraform root creates, and where to find those policies.

The rules, for every ``Allow`` statement of an identity policy (a role's inline or attached policies):

- no ``NotAction`` or ``NotResource`` (they grant everything else);
- no wildcard in an action: not ``*``, not ``service:*``, not ``service:Get*``: every action is named;
- ``Resource "*"`` only for actions that have no resource-level permissions, each one named in
  ``NO_RESOURCE_LEVEL_ACTIONS``;
- every ``dynamodb:`` action on the lock table's ARN and nothing else.

Trust policies may only let AWS services assume the role (no ``*`` principal, no accounts or users).

A plan knows a policy's JSON only when everything it names is known: a policy that names the lock table's
ARN is "known after apply" on a first plan. ``policies_in_plan`` reports those as unknown, so a test can
apply the root and read them back from IAM (``policies_in_account``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

#: Actions AWS authorizes only on ``Resource "*"`` (the service reference lists no resource type for them).
NO_RESOURCE_LEVEL_ACTIONS: frozenset[str] = frozenset(
    {
        # CloudWatch Logs vended-log delivery, used by Step Functions execution logging.
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        # Step Functions task callbacks (queue mode resumes and nudges waiting tasks): the task token is the
        # capability, and the service reference lists no resource type for these actions.
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        # X-Ray trace submission and sampling.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)
_NO_RESOURCE_LEVEL_FOLDED = frozenset(action.lower() for action in NO_RESOURCE_LEVEL_ACTIONS)

PolicyKind = Literal["identity", "trust"]


@dataclass(frozen=True)
class Finding:
    """One rule broken by one statement."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass(frozen=True)
class Policy:
    """A policy document and where it came from; ``document`` is None while the plan does not know it."""

    where: str
    kind: PolicyKind
    document: Mapping[str, Any] | None
    #: (role name, policy name) of a role's inline policy read back from IAM.
    inline: tuple[str, str] | None = None


class PolicyDocumentError(ValueError):
    """A policy document that is not a JSON object with statements."""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(document: Mapping[str, Any], where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    statements = _as_list(document.get("Statement"))
    if not statements:
        raise PolicyDocumentError(f"{where}: no Statement in {json.dumps(document)}")
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            raise PolicyDocumentError(f"{where}: statement {index} is not an object")
        yield f"{where} statement {statement.get('Sid') or index}", statement


def check_identity_policy(
    document: Mapping[str, Any], lock_table_arns: Collection[str], where: str
) -> list[Finding]:
    """Every least-privilege rule the ``Allow`` statements of ``document`` break."""
    findings: list[Finding] = []
    for label, statement in _statements(document, where):
        if statement.get("Effect") != "Allow":
            continue  # a Deny only takes permissions away
        for key in ("NotAction", "NotResource"):
            if key in statement:
                findings.append(Finding(label, f"{key} in an Allow grants everything it does not name"))
        actions = [str(action) for action in _as_list(statement.get("Action"))]
        resources = [str(resource) for resource in _as_list(statement.get("Resource"))]
        for action in actions:
            if "*" in action or "?" in action:
                findings.append(Finding(label, f"wildcard action {action!r}: name each action"))
        if "*" in resources:
            findings.extend(
                Finding(label, f"{action} on Resource '*', but it has resource-level permissions")
                for action in actions
                if action.lower() not in _NO_RESOURCE_LEVEL_FOLDED
            )
        dynamodb_actions = [action for action in actions if action.lower().startswith("dynamodb:")]
        outside = sorted(set(resources) - set(lock_table_arns))
        if dynamodb_actions and outside:
            findings.append(
                Finding(label, f"{', '.join(dynamodb_actions)} on {outside}, not only the lock table")
            )
    return findings


def check_trust_policy(document: Mapping[str, Any], where: str) -> list[Finding]:
    """Findings for a role trust policy that lets anything but an AWS service assume the role."""
    findings: list[Finding] = []
    for label, statement in _statements(document, where):
        if statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            findings.append(Finding(label, "NotPrincipal in an Allow trusts everyone it does not name"))
        principal = statement.get("Principal")
        if not isinstance(principal, Mapping) or set(principal) != {"Service"}:
            findings.append(Finding(label, f"principal {principal!r} is not only AWS services"))
            continue
        for service in _as_list(principal["Service"]):
            if "*" in str(service) or not str(service).endswith(".amazonaws.com"):
                findings.append(Finding(label, f"service principal {service!r} is not one AWS service"))
        actions = set(_as_list(statement.get("Action")))
        if actions != {"sts:AssumeRole"}:
            findings.append(Finding(label, f"trust actions {sorted(actions)} are not only sts:AssumeRole"))
    return findings


def check(policies: Collection[Policy], lock_table_arns: Collection[str]) -> list[Finding]:
    """Every finding in ``policies`` (all of them known)."""
    findings: list[Finding] = []
    for policy in policies:
        if policy.document is None:
            raise PolicyDocumentError(f"{policy.where}: not known yet; read it back after apply")
        if policy.kind == "trust":
            findings += check_trust_policy(policy.document, policy.where)
        else:
            findings += check_identity_policy(policy.document, lock_table_arns, policy.where)
    return findings


def parse_document(text: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A policy document from Terraform's JSON string or IAM's (possibly URL-encoded) answer."""
    if isinstance(text, Mapping):
        return text
    text = text.strip()
    if not text.startswith("{"):
        text = unquote(text)
    document = json.loads(text)
    if not isinstance(document, dict):
        raise PolicyDocumentError(f"not a JSON object: {text[:80]}")
    return document


# Resource types whose attributes hold policies, and the kind of each attribute.
_POLICY_ATTRIBUTES: dict[str, dict[str, PolicyKind]] = {
    "aws_iam_role": {"assume_role_policy": "trust"},
    "aws_iam_role_policy": {"policy": "identity"},
    "aws_iam_policy": {"policy": "identity"},
    "aws_iam_user_policy": {"policy": "identity"},
    "aws_iam_group_policy": {"policy": "identity"},
}


def policies_in_plan(plan: Mapping[str, Any]) -> list[Policy]:
    """Every IAM policy a plan (``terraform show -json PLAN``) creates or updates, unknown ones included."""
    found: list[Policy] = []
    for change in plan.get("resource_changes", []):
        attributes = _POLICY_ATTRIBUTES.get(change["type"])
        if attributes is None or change["mode"] != "managed" or change["change"]["actions"] == ["delete"]:
            continue
        after = change["change"].get("after") or {}
        after_unknown = change["change"].get("after_unknown") or {}
        for attribute, kind in attributes.items():
            where = f"{change['address']}.{attribute}"
            if after_unknown.get(attribute) is True:
                found.append(Policy(where, kind, None))
            elif after.get(attribute):
                found.append(Policy(where, kind, parse_document(after[attribute])))
        # A role's inline_policy blocks are identity policies too.
        for index, block in enumerate(after.get("inline_policy") or []):
            unknown_blocks = after_unknown.get("inline_policy") or []
            unknown = unknown_blocks is True or (
                index < len(unknown_blocks) and (unknown_blocks[index] or {}).get("policy") is True
            )
            where = f"{change['address']}.inline_policy[{index}]"
            if unknown:
                found.append(Policy(where, "identity", None))
            elif block.get("policy"):
                found.append(Policy(where, "identity", parse_document(block["policy"])))
    return found


def state_resources(state: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every resource (managed and data) of a state (``terraform show -json``), child modules included."""
    modules = [state.get("values", {}).get("root_module", {})]
    while modules:
        module = modules.pop()
        yield from module.get("resources", [])
        modules.extend(module.get("child_modules", []))


def lock_table_arns_in_state(state: Mapping[str, Any]) -> set[str]:
    """ARNs of the DynamoDB tables a root created or looked up: the only tables its roles may touch."""
    return {r["values"]["arn"] for r in state_resources(state) if r["type"] == "aws_dynamodb_table"}


def policies_in_account(iam: Any, role_names: Collection[str]) -> list[Policy]:
    """Every policy of the given roles as IAM reports it: trust, inline (get-role-policy) and attached."""
    found: list[Policy] = []
    for role_name in sorted(role_names):
        trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
        found.append(Policy(f"role {role_name} trust", "trust", parse_document(trust)))
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
            for policy_name in page["PolicyNames"]:
                inline = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
                where = f"role {role_name} inline {policy_name}"
                found.append(Policy(where, "identity", parse_document(inline), (role_name, policy_name)))
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
            for attached in page["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                answer = iam.get_policy_version(PolicyArn=arn, VersionId=version)
                document = parse_document(answer["PolicyVersion"]["Document"])
                found.append(Policy(f"role {role_name} attached {arn}", "identity", document))
    return found
