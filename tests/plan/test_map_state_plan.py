"""map_state: a Map whose every iteration holds a slot of its own, rendered from the module's one template.

Read from plans of the module root in poll mode (queue mode's states name Lambda ARNs known only once
applied: ``make lint`` renders those through tests/lint/fixtures/embedded, and the e2e tests run them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.terraform import Terraform
from localaws import asl
from tests.plan.test_state_names_plan import GOOD, repeated, state_names

MAP_WORK = {"StartAt": "Download", "States": {"Download": {"Type": "Pass", "End": True}}}


def _outputs(terraform: Terraform, tmp_path: Path, values: dict[str, Any]) -> dict[str, Any]:
    outputs = terraform.planned({**GOOD, **values}, tmp_path)["planned_values"]["outputs"]
    return {name: output.get("value") for name, output in outputs.items()}


def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """(key, text) of every string value under a ``.$`` key, anywhere in ``value``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith(".$") and isinstance(inner, str):
                yield key, inner
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def test_without_map_work_there_is_no_map_state(module_root: Terraform, tmp_path: Path) -> None:
    outputs = _outputs(module_root, tmp_path, {})
    assert outputs["map_state"] is None


@pytest.mark.parametrize(
    "values",
    [{}, {"lock_name_path": "$.host", "per_item_concurrency": 2}],
    ids=["static-lock", "lock-name-from-the-item"],
)
def test_every_iteration_is_a_holder_of_its_own(
    module_root: Terraform, tmp_path: Path, values: dict[str, Any]
) -> None:
    outputs = _outputs(module_root, tmp_path, {"map_work_definition": json.dumps(MAP_WORK), **values})
    map_state = json.loads(outputs["map_state"])
    assert map_state["Type"] == "Map" and "End" not in map_state and "Next" not in map_state
    selector = map_state["ItemSelector"]
    # The holder id: the execution ARN, '#', the item's index and a random number (read where AWS allows it).
    assert selector["semaphore"]["holder.$"].startswith("States.Format('{}#{}.{}', $$.Execution.Id,")
    assert "$$.Map.Item.Index" in selector["semaphore"]["holder.$"]
    assert selector["item.$"] == "$$.Map.Item.Value"
    if "lock_name_path" in values:
        assert selector["semaphore"]["lockName.$"] == "$$.Map.Item.Value.host"

    # Inside the iteration nothing names the execution as the holder: every holder and lock name is read from
    # $.semaphore, and $$.Execution.Id appears only where the execution's registry is addressed.
    processor = map_state["ItemProcessor"]
    paths = list(_strings(processor))
    holder_refs = [text for key, text in paths if key in ("#holder.$", "executionArn.$")]
    assert holder_refs and set(holder_refs) == {"$.semaphore.holder"}
    assert all("$$.Map." not in text for _, text in paths), (
        "Map context fields are readable only in ItemSelector"
    )
    execution_refs = {text for _, text in paths if "$$.Execution.Id" in text}
    assert execution_refs == {
        "States.Format('{}#', $$.Execution.Id)",
        "States.Array($.semaphore.holder, $$.Execution.Id)",
    }
    if "lock_name_path" in values:
        assert {text for key, text in paths if key == "S.$" and "lockName" in text} == {
            "$.semaphore.lockName"
        }

    # The work runs on the item; the holder survives it and the release passes the work's output on.
    run_work = processor["States"]["Run work (item)"]
    assert (run_work["InputPath"], run_work["ResultPath"]) == ("$.item", "$.work")
    assert processor["States"]["Release semaphore (item)"]["OutputPath"] == "$.work.output"

    # Embedded beside the plain fragments in one machine: every name once, and AWS's rules hold.
    states = {
        "Acquire": {**json.loads(outputs["acquire_state"]), "Next": "Each item"},
        "Each item": {**map_state, "ItemsPath": "$.items", "MaxConcurrency": 10, "Next": "Release"},
        "Release": {**json.loads(outputs["release_state"]), "End": True},
    }
    assert repeated(state_names(states)) == []
    assert asl.validate(json.dumps({"StartAt": "Acquire", "States": states})) == []


def test_an_item_selector_of_your_own_replaces_the_item(module_root: Terraform, tmp_path: Path) -> None:
    item = {"path.$": "$$.Map.Item.Value", "bucket.$": "$.bucket"}
    outputs = _outputs(
        module_root,
        tmp_path,
        {"map_work_definition": json.dumps(MAP_WORK), "map_item_selector": json.dumps(item)},
    )
    selector = json.loads(outputs["map_state"])["ItemSelector"]
    assert selector["item"] == item and "item.$" not in selector


def test_map_work_reusing_a_module_state_name_fails_the_plan_naming_it(
    module_root: Terraform, tmp_path: Path
) -> None:
    work = {
        "StartAt": "Release slot (item)",
        "States": {"Release slot (item)": {"Type": "Pass", "End": True}},
    }
    message = module_root.refusal({**GOOD, "map_work_definition": json.dumps(work)}, tmp_path)
    assert "map_work_definition uses the state name(s)" in message
    assert "Release slot (item)" in message and "rename them in map_work_definition" in message


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"map_work_definition": json.dumps({"StartAt": "X", "States": {}})}, "map work definition must be"),
        ({"map_item_selector": "[1]"}, "map item selector must be null or a JSON object"),
    ],
)
def test_bad_map_settings_fail_the_plan_saying_what_is_allowed(
    module_root: Terraform, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    assert message in module_root.refusal({**GOOD, **values}, tmp_path)
