"""30 executions contend for 3 slots of examples/basic: the limit holds at every moment, and is reached."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.executions import (
    HolderSampler,
    assert_really_executed,
    history,
    max_overlap,
    read_lock,
    start_executions,
    unique_name,
    wait_for_executions,
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
