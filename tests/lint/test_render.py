"""What ``make lint`` collects and how it judges parliament's findings: the pure parts of scripts/render.py
and scripts/lint_policies.py (the applies themselves run in ``make lint``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts import lint_policies, render

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
}
DEFINITION = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def _state(resources: list[dict[str, Any]], child: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "values": {
            "root_module": {
                "resources": resources,
                "child_modules": [{"address": "module.m", "resources": child}],
            }
        }
    }


def test_documents_finds_definitions_and_every_kind_of_policy_in_child_modules_once() -> None:
    state = _state(
        [
            {
                "address": "aws_sfn_state_machine.this",
                "mode": "managed",
                "type": "aws_sfn_state_machine",
                "values": {"definition": json.dumps(DEFINITION)},
            },
            {
                "address": "aws_iam_role.this",
                "mode": "managed",
                "type": "aws_iam_role",
                "values": {
                    "assume_role_policy": json.dumps(TRUST),
                    "inline_policy": [{"name": "p", "policy": json.dumps(IDENTITY)}],
                },
            },
            {
                "address": "data.aws_iam_policy_document.this",
                "mode": "data",
                "type": "aws_iam_policy_document",
                "values": {"json": json.dumps(IDENTITY)},
            },
        ],
        [
            {
                "address": "module.m.aws_iam_role_policy.this",
                "mode": "managed",
                "type": "aws_iam_role_policy",
                "values": {"policy": json.dumps(IDENTITY), "name": "not json"},
            },
            {
                "address": "module.m.aws_kms_key.this",
                "mode": "managed",
                "type": "aws_kms_key",
                "values": {
                    "policy": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Principal": {"AWS": "*"},
                                    "Action": "kms:*",
                                    "Resource": "*",
                                    "Effect": "Allow",
                                }
                            ]
                        }
                    )
                },
            },
        ],
    )
    found = {(d.address, d.attribute, d.kind) for d in render.documents(state)}
    assert found == {
        ("aws_sfn_state_machine.this", "definition", "definition"),
        ("aws_iam_role.this", "assume_role_policy", "trust"),
        # The same document under the role's inline_policy and as the role policy resource: kept once.
        ("aws_iam_role.this", "inline_policy[0].policy", "identity"),
        ("module.m.aws_kms_key.this", "policy", "resource"),
    }
    paths = {str(d.relative_path) for d in render.documents(state)}
    assert "policies/trust/aws_iam_role.this.assume_role_policy.json" in paths
    assert "state-machines/aws_sfn_state_machine.this.asl.json" in paths


def test_a_finding_passes_only_when_an_entry_names_it(tmp_path: Path) -> None:
    accepted_file = tmp_path / "accepted.yaml"
    accepted_file.write_text(
        "- issue: PERMISSIONS_MANAGEMENT_ACTIONS\n  kind: identity\n  actions: [logs:PutResourcePolicy]\n"
        "  reason: documented in SECURITY.md\n"
    )
    (entry,) = lint_policies.load_accepted(accepted_file)
    finding = lint_policies.Finding(
        issue="PERMISSIONS_MANAGEMENT_ACTIONS",
        severity="MEDIUM",
        kind="identity",
        path="basic/policies/identity/x.json",
        detail=["logs:PutResourcePolicy"],
        location={},
    )
    assert entry.matches(finding)
    other_action = lint_policies.Finding(**{**finding.__dict__, "detail": ["iam:PutRolePolicy"]})
    assert not entry.matches(other_action)
    other_kind = lint_policies.Finding(**{**finding.__dict__, "kind": "resource"})
    assert not entry.matches(other_kind)


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    accepted_file = tmp_path / "accepted.yaml"
    accepted_file.write_text("- issue: MALFORMED\n  reason: ' '\n")
    try:
        lint_policies.load_accepted(accepted_file)
    except lint_policies.AcceptedFileError as error:
        assert "reason is empty" in str(error)
    else:
        raise AssertionError("an empty reason was accepted")


def test_every_example_and_bench_root_is_rendered_with_the_variants() -> None:
    ids = {root.id for root in render.roots()}
    examples = {p.name for p in (render.ROOT / "examples").iterdir() if any(p.glob("*.tf"))}
    assert examples <= ids
    assert {"bench-baseline", "bench-poll", "bench-queue", "embedded-poll", "embedded-queue"} <= ids
