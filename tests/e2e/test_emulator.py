"""The local AWS really executes: real DynamoDB results, real time in the work, real waits on a full lock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.deployment import Deployment
from harness.executions import (
    WAIT_STATE,
    assert_really_executed,
    entered_states,
    history,
    put_foreign_holder,
    read_lock,
    remove_holder,
    start_executions,
    state_entered_times,
    unique_name,
    wait_for_executions,
    wait_until,
    work_interval,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("scripted")]

KEY = "LockName"
WORK_SECONDS = 2


def test_a_full_lock_keeps_an_execution_waiting_until_the_holder_leaves(
    scripted_limit_one: Deployment, sfn: Any, dynamodb: Any
) -> None:
    table = scripted_limit_one.outputs["lock_table_name"]
    lock = unique_name("foreign")
    foreign = put_foreign_holder(dynamodb, table, KEY, lock)
    (arn,) = start_executions(
        sfn,
        scripted_limit_one.outputs["state_machine_arn"],
        [{"lock": lock, "workSeconds": WORK_SECONDS, "fail": False}],
        "waiter",
    )

    # It keeps trying (two waits, so at least three failed attempts) and stays RUNNING, outside the work.
    wait_until(
        lambda: entered_states(history(sfn, arn)).count(WAIT_STATE) >= 2,
        timeout=20,
        poll=0.2,
        what="two passes through the wait loop",
    )
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert "Run work" not in entered_states(history(sfn, arn))
    assert dict(read_lock(dynamodb, table, KEY, lock).holders) == {foreign: 1}

    remove_holder(dynamodb, table, KEY, lock, foreign)
    released_at = time.time()

    result = wait_for_executions(sfn, [arn], timeout=30)[arn]
    assert result["status"] == "SUCCEEDED", result
    events = history(sfn, arn)
    interval = work_interval(events)
    assert interval is not None and interval.start > released_at, (
        "it entered the work before the slot was free"
    )
    assert len(state_entered_times(events, WAIT_STATE)) >= 2
    assert_really_executed(events, table, WORK_SECONDS)
    took = (result["stopDate"] - result["startDate"]).total_seconds()
    assert took >= WORK_SECONDS
    final = read_lock(dynamodb, table, KEY, lock)
    assert (final.count, dict(final.holders)) == (0, {})
