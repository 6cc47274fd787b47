"""Weight 2 under a limit of 5: two holders at most (2 + 2 = 4; a third would make 6), never a third."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.executions import (
    HolderSampler,
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

LIMIT = 5
WEIGHT = 2
EXECUTIONS = 8


@pytest.mark.e2e
def test_weighted_grant_never_passes_the_limit(
    fixtures_dir: Path, deploy: Deploy, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    deployment = deploy(
        fixtures_dir / "scripted",
        {
            "name": unique_name("weighted"),
            "concurrency_limit": LIMIT,
            "per_item_concurrency": WEIGHT,
            "acquire_wait_seconds": 1,
        },
    )
    table = deployment.outputs["lock_table_name"]
    lock = unique_name("weighted-lock")
    inputs = [{"lock": lock, "workSeconds": 1, "fail": False}] * EXECUTIONS

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_executions(sfn, deployment.outputs["state_machine_arn"], inputs, "weighted")
        results = wait_for_executions(sfn, arns, timeout=120)

    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}
    for sample in sampler.samples:
        state = sample.locks[lock]
        assert len(state.holders) <= LIMIT // WEIGHT, f"a third holder at {sample.time}: {state}"
        assert (state.count or 0) <= LIMIT, f"count above the limit at {sample.time}: {state}"
        assert set(state.holders.values()) <= {WEIGHT}, f"a holder recorded the wrong weight: {state}"
    assert sampler.max_holders() == LIMIT // WEIGHT
    assert sampler.max_count() == WEIGHT * (LIMIT // WEIGHT)

    intervals = [work_interval(history(sfn, arn)) for arn in arns]
    assert all(intervals)
    assert max_overlap(i for i in intervals if i) == LIMIT // WEIGHT

    final = read_lock(dynamodb, table, "LockName", lock)
    assert (final.count, dict(final.holders)) == (0, {})
