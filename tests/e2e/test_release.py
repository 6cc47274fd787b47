"""Release paths: failing work, a slot reaped mid-work, and an acquire whose first response was lost.

All use ``scripted_limit_one`` (limit 1, lock name from the input), each on a lock of its own.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.deployment import Deployment
from harness.executions import (
    FAIL_STATE,
    RELEASE_AFTER_FAILURE_STATE,
    RELEASE_STATE,
    WAIT_STATE,
    HolderSampler,
    entered_states,
    execution_arn,
    execution_failure,
    history,
    read_lock,
    start_executions,
    unique_name,
    wait_for_executions,
    wait_until,
    work_interval,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("scripted")]

KEY = "LockName"


def _assert_released(dynamodb: Any, table: str, lock: str, arn: str) -> None:
    """The lock is free (count 0, no holder) and the execution's index item is gone."""
    final = read_lock(dynamodb, table, KEY, lock)
    assert (final.count, dict(final.holders)) == (0, {})
    assert not read_lock(dynamodb, table, KEY, arn).exists, "the execution's index item was left behind"


def _run_one(
    sfn: Any, deployment: Deployment, execution_input: dict[str, Any], name: str | None = None
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    names = [name] if name else None
    (arn,) = start_executions(
        sfn, deployment.outputs["state_machine_arn"], [execution_input], "one", names=names
    )
    result = wait_for_executions(sfn, [arn], timeout=60)[arn]
    return arn, result, history(sfn, arn)


def test_failing_work_fails_with_its_own_error_and_gives_the_slot_back(
    scripted_limit_one: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = scripted_limit_one.outputs["lock_table_name"]
    lock = unique_name("failing")
    with HolderSampler(endpoint, table, [lock]) as sampler:
        arn, result, events = _run_one(
            sfn, scripted_limit_one, {"lock": lock, "workSeconds": 1, "fail": True}
        )

    assert result["status"] == "FAILED"
    assert execution_failure(events) == ("Work.Failed", scripted_limit_one.outputs["failure_cause"])
    states = entered_states(events)
    assert RELEASE_AFTER_FAILURE_STATE in states
    assert states[-1] == FAIL_STATE
    assert RELEASE_STATE not in states
    assert sampler.holders_seen() == {arn}, "the failing execution must really have held the slot"
    _assert_released(dynamodb, table, lock, arn)

    # The slot really is free: the next execution gets it at once, without waiting.
    _, after, after_events = _run_one(
        sfn, scripted_limit_one, {"lock": lock, "workSeconds": 0, "fail": False}
    )
    assert after["status"] == "SUCCEEDED"
    assert WAIT_STATE not in entered_states(after_events)


def test_release_of_a_slot_already_reaped_still_succeeds(
    scripted_limit_one: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = scripted_limit_one.outputs["lock_table_name"]
    lock = unique_name("reaped")
    (arn,) = start_executions(
        sfn,
        scripted_limit_one.outputs["state_machine_arn"],
        [{"lock": lock, "workSeconds": 3, "fail": False}],
        "reaped",
    )
    with HolderSampler(endpoint, table, [lock]) as sampler:
        wait_until(lambda: arn in read_lock(dynamodb, table, KEY, lock).holders, 15, what="holder entry")
        # What a reaper does: give the slot back on the holder's behalf, in one conditional write.
        dynamodb.update_item(
            TableName=table,
            Key={KEY: {"S": lock}},
            UpdateExpression="ADD lockCount :minus REMOVE #holder",
            ConditionExpression="attribute_exists(#holder)",
            ExpressionAttributeNames={"#holder": arn},
            ExpressionAttributeValues={":minus": {"N": "-1"}},
        )
        reaped_at = time.time()
        after_reap = read_lock(dynamodb, table, KEY, lock)
        result = wait_for_executions(sfn, [arn], timeout=60)[arn]
    events = history(sfn, arn)

    assert (after_reap.count, dict(after_reap.holders)) == (0, {})
    assert result["status"] == "SUCCEEDED", result
    interval = work_interval(events)
    assert interval is not None and interval.contains(reaped_at), (
        "the slot must be reaped while the work runs"
    )
    assert "Already released" in entered_states(events)
    assert sampler.min_count() >= 0, "a second release drove the count below 0"
    _assert_released(dynamodb, table, lock, arn)


def test_an_execution_already_holding_proceeds_without_counting_twice(
    scripted_limit_one: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = scripted_limit_one.outputs["lock_table_name"]
    lock = unique_name("held")
    name = unique_name("retried")
    arn = execution_arn(scripted_limit_one.outputs["state_machine_arn"], name)
    # A retried acquire whose first response was lost: the entry and the count are already there.
    dynamodb.put_item(
        TableName=table,
        Item={
            KEY: {"S": lock},
            "lockCount": {"N": "1"},
            arn: {"M": {"weight": {"N": "1"}, "acquiredAt": {"S": "2024-01-01T00:00:00.000Z"}}},
        },
    )

    with HolderSampler(endpoint, table, [lock]) as sampler:
        started, result, events = _run_one(
            sfn, scripted_limit_one, {"lock": lock, "workSeconds": 1, "fail": False}, name=name
        )

    assert started == arn
    assert result["status"] == "SUCCEEDED", result
    states = entered_states(events)
    assert "Slot already held" in states
    assert WAIT_STATE not in states, "an execution that already holds the slot must not wait for it"
    assert sampler.max_count() == 1, "the holder was counted twice"
    assert sampler.holders_seen() == {arn}
    _assert_released(dynamodb, table, lock, arn)
