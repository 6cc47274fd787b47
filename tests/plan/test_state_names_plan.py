"""State names are unique across the whole machine, as AWS requires, in every mode and in every fragment.

AWS refuses a definition that uses a state name twice anywhere (Parallel branches and Map iterations
included: ``DUPLICATE_STATE_NAME``). Read from plans of the module root: in poll mode without a warm-up rate
the definition and the fragments are known at plan time (the other modes' definitions name Lambda ARNs that
exist only once applied; ``make lint`` and the local AWS validate those).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.terraform import Terraform
from localaws import asl

GOOD = {
    "name": "names",
    "concurrency_limit": 3,
    "work_definition": json.dumps({"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}),
}


def state_names(states: dict[str, Any]) -> Iterator[str]:
    """Every state name in ``states`` and in the states nested in them (branches, Map iterations)."""
    for name, state in states.items():
        yield name
        nested = [branch["States"] for branch in state.get("Branches", [])]
        nested += [state[key]["States"] for key in ("Iterator", "ItemProcessor") if key in state]
        for inner in nested:
            yield from state_names(inner)


def repeated(names: Iterator[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _outputs(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    outputs = terraform.planned({**GOOD, **values}, tmp_path)["planned_values"]["outputs"]
    return {name: output.get("value") for name, output in outputs.items()}


def _refusal(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> str:
    return terraform.refusal({**GOOD, **values}, tmp_path)


@pytest.mark.parametrize(
    "values",
    [{}, {"lock_name_path": "$.customerId"}, {"acquire_wait_seconds": 1}],
    ids=["static-lock", "lock-name-path", "wait-1"],
)
def test_the_poll_machine_uses_every_state_name_once(
    module_root: Terraform, tmp_path: Path, values: dict[str, Any]
) -> None:
    definition = json.loads(_outputs(module_root, tmp_path, values)["state_machine_definition"])
    names = list(state_names(definition["States"]))
    assert repeated(iter(names)) == []
    assert asl.validate(json.dumps(definition)) == []
    # Both releases are there, each with its own inner states.
    assert {"Release slot", "Release slot after failure"} <= set(names)


def test_fragments_embed_on_both_paths_and_again_with_a_suffix(
    module_root: Terraform, tmp_path: Path
) -> None:
    outputs = _outputs(
        module_root, tmp_path, {"lock_name_path": "$.customerId", "fragment_name_suffixes": [" (item)"]}
    )
    assert set(outputs["fragments"]) == {"", " (item)"}
    assert outputs["fragments"][""]["acquire_state"] == outputs["acquire_state"]
    # A user's machine: the plain fragments at top level (release on both paths), the suffixed copy inside a
    # Parallel branch (a second lock, say); every name used once. Inside a Map every iteration would share the
    # execution's one slot: map_state is for that (tests/plan/test_map_state_plan.py).
    plain, item = outputs["fragments"][""], outputs["fragments"][" (item)"]
    branch = {
        "StartAt": "Acquire (item)",
        "States": {
            "Acquire (item)": {**json.loads(item["acquire_state"]), "Next": "Release (item)"},
            "Release (item)": {**json.loads(item["release_state"]), "End": True},
        },
    }
    states = {
        "Acquire": {**json.loads(plain["acquire_state"]), "Next": "Second lock"},
        "Second lock": {
            "Type": "Parallel",
            "Branches": [branch],
            "Next": "Release",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Release after failure"}],
        },
        "Release": {**json.loads(plain["release_state"]), "End": True},
        "Release after failure": {**json.loads(plain["release_after_failure_state"]), "Next": "Failed"},
        "Failed": {"Type": "Fail"},
    }
    names = list(state_names(states))
    assert repeated(iter(names)) == []
    assert asl.validate(json.dumps({"StartAt": "Acquire", "States": states})) == []
    assert "Acquire slot (item)" in names and "Release slot (item)" in names
    assert "Release slot after failure" in names
    for key in ("Next", "End"):
        assert key not in json.loads(plain["release_state"])
    assert "Next" not in json.loads(plain["acquire_state"])


@pytest.mark.parametrize(
    ("work", "name"),
    [
        (
            {"StartAt": "Acquire slot", "States": {"Acquire slot": {"Type": "Pass", "End": True}}},
            "Acquire slot",
        ),
        (
            {
                "StartAt": "Outer",
                "States": {
                    "Outer": {
                        "Type": "Parallel",
                        "End": True,
                        "Branches": [
                            {
                                "StartAt": "Each",
                                "States": {
                                    "Each": {
                                        "Type": "Map",
                                        "End": True,
                                        "ItemProcessor": {
                                            "StartAt": "Release slot",
                                            "States": {"Release slot": {"Type": "Pass", "End": True}},
                                        },
                                    }
                                },
                            }
                        ],
                    }
                },
            },
            "Release slot",
        ),
        ({"StartAt": "Run work", "States": {"Run work": {"Type": "Pass", "End": True}}}, "Run work"),
    ],
    ids=["top-level", "nested-in-a-map-in-a-parallel", "the-work-state-itself"],
)
def test_a_work_definition_reusing_a_module_state_name_fails_the_plan_naming_it(
    module_root: Terraform, tmp_path: Path, work: dict[str, Any], name: str
) -> None:
    message = _refusal(module_root, tmp_path, {"work_definition": json.dumps(work)})
    assert f'"{name}" more than once' in message or f'\\"{name}\\" more than once' in message
    assert "rename them in work_definition" in message
