"""30 executions contend for 3 slots of examples/basic: the limit holds at every moment, and is reached; and
waiting executions spread their polls out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.executions import (
    WAIT_STATE,
    HolderSampler,
    assert_really_executed,
    entered_states,
    history,
    max_overlap,
    put_foreign_holder,
    read_lock,
    remove_holder,
    start_executions,
    state_intervals,
    unique_name,
    wait_for_executions,
    wait_until,
    work_interval,
)

if TYPE_CHECKING:
    from tests.e2e.conftest import Deploy

LIMIT = 3
WORK_SECONDS = 1
EXECUTIONS = 30


@pytest.mark.e2e
def test_contention_never_exceeds_the_limit(
    examples_dir: Path, deploy: Deploy, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    deployment = deploy(
        examples_dir / "basic",
        {
            "name": unique_name("contention"),
            "concurrency_limit": LIMIT,
            "work_seconds": WORK_SECONDS,
            "acquire_wait_seconds": 1,
        },
    )
    table, lock = deployment.outputs["lock_table_name"], deployment.outputs["lock_name"]

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_executions(sfn, deployment.outputs["state_machine_arn"], [{}] * EXECUTIONS, "contend")
        results = wait_for_executions(sfn, arns, timeout=180)

    statuses = {arn: result["status"] for arn, result in results.items()}
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses

    # The lock item, sampled while they ran: never more than LIMIT holders, and the count always matches them.
    assert len(sampler.samples) > 50, "the sampler must have watched the whole run"
    for sample in sampler.samples:
        state = sample.locks[lock]
        assert len(state.holders) <= LIMIT, f"{len(state.holders)} holders at {sample.time}: {state}"
        assert (state.count or 0) == sum(state.holders.values()), f"count and holders disagree: {state}"
    assert sampler.max_holders() == LIMIT, "the limit was never reached: the test proves nothing"
    assert sampler.holders_seen() == set(arns), "every execution must have been seen holding a slot"

    # The histories: never more than LIMIT executions inside "Run work" at once.
    histories = {arn: history(sfn, arn) for arn in arns}
    intervals = [work_interval(events) for events in histories.values()]
    assert all(intervals), "every execution must have entered and left Run work"
    assert max_overlap(i for i in intervals if i) == LIMIT
    for events in histories.values():
        assert_really_executed(events, table, WORK_SECONDS)

    final = read_lock(dynamodb, table, "LockName", lock)
    assert final.count == 0
    assert not final.holders


@pytest.mark.e2e
def test_waiting_executions_draw_each_wait_so_they_do_not_poll_in_step(
    examples_dir: Path, deploy: Deploy, sfn: Any, dynamodb: Any
) -> None:
    """acquire_wait_seconds 2: every pass waits a random 1, 2 or 3 s (States.MathRandom(1, 4), end excluded as
    on AWS), so executions that started together soon poll at different moments."""
    deployment = deploy(
        examples_dir / "basic",
        {"name": unique_name("jitter"), "concurrency_limit": 1, "work_seconds": 1, "acquire_wait_seconds": 2},
    )
    table, lock = deployment.outputs["lock_table_name"], deployment.outputs["lock_name"]
    foreign = put_foreign_holder(dynamodb, table, "LockName", lock)
    arns = start_executions(sfn, deployment.outputs["state_machine_arn"], [{}] * 6, "jitter")
    wait_until(
        lambda: sum(entered_states(history(sfn, arn)).count(WAIT_STATE) for arn in arns) >= 30,
        timeout=40,
        poll=0.5,
        what="30 passes through the wait loop",
    )
    remove_holder(dynamodb, table, "LockName", lock, foreign)
    results = wait_for_executions(sfn, arns, timeout=60)
    assert {result["status"] for result in results.values()} == {"SUCCEEDED"}

    draws, waited = [], []
    for arn in arns:
        events = history(sfn, arn)
        for event in events:
            exited = event.get("stateExitedEventDetails", {})
            if exited.get("name") == "Check if already holding":
                draws.append(json.loads(exited["output"])["semaphoreHolderCheck"]["waitSeconds"])
        waited += [interval.seconds for interval in state_intervals(events, WAIT_STATE)]
    assert len(draws) >= 30
    assert set(draws) <= {1, 2, 3}, sorted(set(draws))
    assert len(set(draws)) == 3, "30 draws from three values should have shown all three"
    assert len(waited) >= 30 and all(0.9 <= seconds <= 3.9 for seconds in waited), sorted(waited)
    assert max(waited) - min(waited) >= 1.5, "the waits did not differ: the executions poll in step"
