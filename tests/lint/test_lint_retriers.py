"""scripts/lint_retriers.py: a Lambda task anywhere in a definition must retry AWS's recommended transient
Lambda errors and Sandbox.Timedout."""

from __future__ import annotations

from typing import Any

from scripts import lint_retriers

GOOD_RETRY = [{"ErrorEquals": list(lint_retriers.REQUIRED)}]


def _task(retry: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Retry": retry,
        "End": True,
    }


def test_a_task_retrying_every_required_name_passes_split_over_retriers() -> None:
    retry = [{"ErrorEquals": ["Sandbox.Timedout"]}, {"ErrorEquals": list(lint_retriers.REQUIRED[:4])}]
    assert lint_retriers.missing_retries({"States": {"Acquire": _task(retry)}}) == []


def test_a_nested_task_without_the_timeout_is_reported_with_its_path() -> None:
    retry = [{"ErrorEquals": list(lint_retriers.REQUIRED[:4])}]
    definition = {
        "States": {
            "Outer": {
                "Type": "Parallel",
                "Branches": [
                    {"States": {"Each": {"Type": "Map", "ItemProcessor": {"States": {"Call": _task(retry)}}}}}
                ],
            },
            "Fine": _task(GOOD_RETRY),
        }
    }
    assert lint_retriers.missing_retries(definition) == ["/Outer/Each/Call: not retried: Sandbox.Timedout"]


def test_dynamodb_tasks_are_not_lambda_tasks() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "End": True}
    assert lint_retriers.missing_retries({"States": {"Write": state}}) == []
