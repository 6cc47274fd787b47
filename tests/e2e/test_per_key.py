"""examples/per-key: one independent limit per customer id, each lock item created on first use."""

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

LIMIT = 2
PER_KEY = 4
WORK_SECONDS = 2


@pytest.mark.e2e
def test_each_key_has_its_own_limit(
    examples_dir: Path, deploy: Deploy, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    deployment = deploy(
        examples_dir / "per-key",
        {"name": unique_name("per-key"), "concurrency_limit": LIMIT, "work_seconds": WORK_SECONDS},
    )
    table = deployment.outputs["lock_table_name"]
    assert deployment.outputs["lock_name"] == "$.customerId"
    keys = [unique_name("customer-a"), unique_name("customer-b")]
    for key in keys:
        assert not read_lock(dynamodb, table, "LockName", key).exists, "no lock item before first use"

    # Interleaved, so neither key gets a head start.
    inputs = [{"customerId": keys[i % 2]} for i in range(2 * PER_KEY)]
    with HolderSampler(endpoint, table, keys) as sampler:
        arns = start_executions(sfn, deployment.outputs["state_machine_arn"], inputs, "per-key")
        results = wait_for_executions(sfn, arns, timeout=120)
    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}

    for key in keys:
        assert sampler.max_holders(key) == LIMIT, key
        assert sampler.max_count(key) == LIMIT, key
    both_full = [s for s in sampler.samples if all(len(s.locks[k].holders) == LIMIT for k in keys)]
    assert both_full, "the two keys never held their full limit at the same moment: they are not independent"

    intervals = {key: [] for key in keys}
    for arn, execution_input in zip(arns, inputs, strict=True):
        interval = work_interval(history(sfn, arn))
        assert interval is not None
        intervals[execution_input["customerId"]].append(interval)
    for key in keys:
        assert max_overlap(intervals[key]) == LIMIT, key
    assert max_overlap(intervals[keys[0]] + intervals[keys[1]]) == 2 * LIMIT

    for key in keys:
        final = read_lock(dynamodb, table, "LockName", key)
        assert final.exists, f"the lock item for {key} was never created"
        assert (final.count, dict(final.holders)) == (0, {}), key
    left = [arn for arn in arns if read_lock(dynamodb, table, "LockName", arn).exists]
    assert not left, f"index items (docs/lock-item.md) left behind by: {left}"
