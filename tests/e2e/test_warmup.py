"""examples/warmup in the running state machine: grants spaced by the warm-up rate, limit held, slots back.

The acquirer Lambda runs from its deployed zip in the local AWS (no echoing stand-in): each grant's time is
the Lambda's own clock, returned as ``grantedAt`` in the acquire task's output, which the histories keep.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.executions import (
    Event,
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
TPS = 2
WORK_SECONDS = 3
EXECUTIONS = 20
#: The Lambda's clock has millisecond resolution.
CLOCK_RESOLUTION_MS = 1


def lambda_grants(events: list[Event]) -> list[dict[str, Any]]:
    """The acquirer's successful results (its Payload) in one execution's history."""
    grants = []
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if event["type"] == "TaskSucceeded" and details and details.get("resourceType") == "lambda":
            payload = json.loads(details["output"])["Payload"]
            if payload.get("granted"):
                grants.append(payload)
    return grants


@pytest.mark.e2e
def test_grants_are_spaced_by_the_warmup_rate_and_the_limit_holds(
    examples_dir: Path, deploy: Deploy, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    deployment = deploy(
        examples_dir / "warmup",
        {
            "name": unique_name("warmup"),
            "concurrency_limit": LIMIT,
            "warmup_tps_limit": TPS,
            "work_seconds": WORK_SECONDS,
            "acquire_wait_seconds": 1,
            # The offline aws provider 3.39 validates runtimes against a list that ends at python3.8.
            "lambda_runtime": "python3.8",
        },
    )
    table, lock = deployment.outputs["lock_table_name"], deployment.outputs["lock_name"]
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=deployment.outputs["state_machine_arn"])["definition"]
    )
    acquire_states = definition["States"]["Acquire semaphore"]["Branches"][0]["States"]
    assert list(acquire_states) == ["Acquire slot"], "no Wait state: the task's retriers do the waiting"
    retriers = {tuple(r["ErrorEquals"]): r for r in acquire_states["Acquire slot"]["Retry"]}
    full = retriers[("SemaphoreFullError", "LockThrottledError")]
    # Uniform from 0 to 2 x acquire_wait_seconds: 1 s on average, never in step with the other waiters.
    assert (full["IntervalSeconds"], full["BackoffRate"], full["JitterStrategy"]) == (2, 1, "FULL")
    assert retriers[("WarmupTooSoonError",)]["IntervalSeconds"] == 1
    assert "Catch" not in acquire_states["Acquire slot"]

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_executions(sfn, deployment.outputs["state_machine_arn"], [{}] * EXECUTIONS, "warm")
        results = wait_for_executions(sfn, arns, timeout=240)
    assert {result["status"] for result in results.values()} == {"SUCCEEDED"}, results

    histories = {arn: history(sfn, arn) for arn in arns}

    # One grant per execution, made by the real Lambda, never a second one for the same execution.
    grants = {arn: lambda_grants(events) for arn, events in histories.items()}
    assert all(len(g) == 1 and not g[0]["alreadyHeld"] for g in grants.values()), grants
    granted_at = sorted(g[0]["grantedAt"] for g in grants.values())
    gaps = [later - earlier for earlier, later in itertools.pairwise(granted_at)]
    interval_ms = 1000 / TPS
    assert min(gaps) >= interval_ms - CLOCK_RESOLUTION_MS, f"grants closer than 1/tps: {gaps}"

    # The concurrency limit held at every sampled moment and in the histories, and was reached.
    for sample in sampler.samples:
        state = sample.locks[lock]
        assert len(state.holders) <= LIMIT, state
        assert (state.count or 0) == sum(state.holders.values()), state
    intervals = [work_interval(events) for events in histories.values()]
    assert all(intervals)
    assert max_overlap(i for i in intervals if i) <= LIMIT
    assert sampler.max_holders() == LIMIT, "with 3 s of work and 2 grants/s the limit must bind"

    final = read_lock(dynamodb, table, "LockName", lock)
    assert final.count == 0 and not final.holders, final

    # Refusals were retried in place (no Wait state entered), after delays spread by the retrier's jitter.
    assert not any(
        e["type"] == "WaitStateEntered" and _in_acquire(e) for events in histories.values() for e in events
    )
    delays = [delay for events in histories.values() for delay in retry_delays(events)]
    assert len(delays) >= EXECUTIONS, "with 20 executions under a limit of 5, most must have been refused"
    assert min(delays) < 1.0 < max(delays), f"a 1 s wait retried after 0 to 2 s, not in step: {delays}"


def retry_delays(events: list[Event]) -> list[float]:
    """Seconds between each failed acquire call and the retry that followed it."""
    delays = []
    failed_at = None
    for event in events:
        if event["type"] == "TaskFailed":
            failed_at = event["timestamp"]
        elif event["type"] == "TaskScheduled" and failed_at is not None:
            delays.append((event["timestamp"] - failed_at).total_seconds())
            failed_at = None
    return delays


def _in_acquire(event: Event) -> bool:
    return event.get("stateEnteredEventDetails", {}).get("name") in (
        "Wait for a free slot",
        "Wait for the warm-up rate",
    )
