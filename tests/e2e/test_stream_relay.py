"""A stream consumer restarted in a loop (examples/stream-relay), end to end on the local AWS, poll and queue.

Each execution of the module's own machine consumes one stream for ``consume_seconds``, then starts the next
generation of itself (named ``<streamId>-gen-<n>``) and releases; the lock is named after the stream, limit 1.
Two streams run three generations each, and stream A's first generation is also triggered a second time under
another name. Measured while it happens (each stream's lock item sampled every 50 ms) and from the histories
(each execution's time inside "Run work"): one consumer per stream at a time, the streams side by side, each
generation started once, every slot back; the takeover gap is printed.

The successor is started with the optimized ``states:startExecution`` integration, which the local AWS must
run as AWS does (PascalCase parameters mapped onto the StartExecution API, ``ExecutionArn`` in the result).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from harness.deployment import Deployment, deployed
from harness.executions import (
    RELEASE_STATE,
    HolderSampler,
    Interval,
    execution_arn,
    execution_failure,
    executions_of,
    history,
    max_overlap,
    read_lock,
    state_intervals,
    unique_name,
    wait_until,
    work_interval,
)

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stream-relay"
KEY = "LockName"
CONSUME_SECONDS = 2
GENERATIONS = 3
#: A takeover slower than this is a broken handoff, not a slow machine.
GAP_BOUND_SECONDS = 30.0


@pytest.fixture(scope="module", params=["poll", "queue"])
def relay(
    request: pytest.FixtureRequest, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    variables = {
        "name": unique_name(f"relay-{request.param}"),
        "acquire_mode": request.param,
        "acquire_wait_seconds": 1,
        "consume_seconds": CONSUME_SECONDS,
    }
    with deployed(EXAMPLE, endpoint, tmp_path_factory.mktemp("terraform"), variables) as deployment:
        yield deployment


@dataclass(frozen=True)
class Run:
    """One finished execution of the relay, read back from its description and history."""

    name: str
    status: str
    stream: str
    generation: int
    work: Interval | None
    release: Interval | None
    output: dict[str, Any]
    #: (error, cause) of a run that did not succeed.
    failure: tuple[str | None, str | None]


def _run(sfn: Any, arn: str) -> Run:
    description = sfn.describe_execution(executionArn=arn)
    execution_input = json.loads(description["input"])
    events = history(sfn, arn)
    releases = state_intervals(events, RELEASE_STATE)
    return Run(
        name=description["name"],
        status=description["status"],
        stream=execution_input["streamId"],
        generation=int(execution_input["generation"]),
        work=work_interval(events),
        release=releases[0] if releases else None,
        output=json.loads(description.get("output") or "{}"),
        failure=execution_failure(events),
    )


def _start(sfn: Any, machine: str, stream: str, name: str) -> None:
    execution_input = {"streamId": stream, "generation": 1, "maxGenerations": GENERATIONS}
    sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input))


def test_one_consumer_per_stream_hands_over_to_its_successor_without_overlap(
    relay: Deployment, sfn: Any, dynamodb: Any, endpoint: str
) -> None:
    mode = relay.variables["acquire_mode"]
    machine, table = relay.outputs["state_machine_arn"], relay.outputs["lock_table_name"]
    stream_a, stream_b = unique_name("stream-a"), unique_name("stream-b")

    with HolderSampler(endpoint, table, [stream_a, stream_b]) as sampler:
        _start(sfn, machine, stream_a, f"{stream_a}-gen-1")
        _start(sfn, machine, stream_a, f"{stream_a}-gen-1-duplicate")
        _start(sfn, machine, stream_b, f"{stream_b}-gen-1")
        # A successor is started inside its predecessor's work, so once nothing runs, nothing more will.
        wait_until(
            lambda: all(e["status"] != "RUNNING" for e in executions_of(sfn, machine)),
            80,
            poll=0.5,
            what="every generation of both streams ended",
        )

    runs = [_run(sfn, e["executionArn"]) for e in executions_of(sfn, machine)]
    failures = {run.name: run.failure for run in runs if run.status != "SUCCEEDED"}
    assert failures == {}
    by_stream = {stream: [run for run in runs if run.stream == stream] for stream in (stream_a, stream_b)}
    assert sum(len(group) for group in by_stream.values()) == len(runs)

    # Each generation started once, under its deterministic name; only the duplicated trigger adds a run.
    assert Counter(run.generation for run in by_stream[stream_a]) == {1: 2, 2: 1, 3: 1}
    assert Counter(run.generation for run in by_stream[stream_b]) == {1: 1, 2: 1, 3: 1}
    for stream, group in by_stream.items():
        successors = {run.name for run in group if run.generation > 1}
        assert successors == {f"{stream}-gen-{n}" for n in range(2, GENERATIONS + 1)}
    # Every generation but the last started its successor, or found it started already (by the other copy of
    # A's first generation), under the successor's deterministic name.
    for run in runs:
        handed_over = run.output.get("handedOverTo", {}).get("executionArn")
        refused = run.output.get("handoverError", {}).get("Error")
        if run.generation == GENERATIONS:
            assert (handed_over, refused) == (None, None), run
        else:
            successor = execution_arn(machine, f"{run.stream}-gen-{run.generation + 1}")
            assert handed_over == successor or refused == "StepFunctions.ExecutionAlreadyExistsException", run

    # Sampled: never two holders of one stream's lock, and each lock was really held.
    for stream in (stream_a, stream_b):
        assert sampler.max_holders(stream) == 1 and sampler.max_count(stream) == 1
        assert sampler.min_count(stream) >= 0

    # From the histories: every run consumed for its full time, one stream's consumers never overlap, and
    # the two streams were consumed side by side.
    for run in runs:
        assert run.work is not None and run.work.seconds >= CONSUME_SECONDS - 0.002, run
        assert run.release is not None, run
    for group in by_stream.values():
        assert max_overlap(run.work for run in group if run.work) == 1
    assert max_overlap(run.work for run in runs if run.work) == 2

    # The takeover gap, as information: from a consumer leaving its work to the next one entering it (the
    # release and the handoff), and from the end of the release state (it frees the slot before it ends).
    gaps: list[float] = []
    lines = []
    for group in by_stream.values():
        ordered = sorted(group, key=lambda run: run.work.start if run.work else 0.0)
        for before, after in pairwise(ordered):
            assert before.work and after.work and before.release
            gaps.append(after.work.start - before.work.end)
            lines.append(
                f"  {before.name} -> {after.name}: {gaps[-1]:.3f} s "
                f"({after.work.start - before.release.end:+.3f} s after the release state ended)"
            )
    assert len(gaps) == len(runs) - 2
    print(f"\n{mode}: takeover gaps, min {min(gaps):.3f} s, max {max(gaps):.3f} s", *lines, sep="\n")
    assert all(0 <= gap < GAP_BOUND_SECONDS for gap in gaps)

    for stream in (stream_a, stream_b):
        final = read_lock(dynamodb, table, KEY, stream)
        assert (final.count, dict(final.holders)) == (0, {})
