"""Queue mode end to end: the real queue Lambdas in the local AWS, real task tokens, real timeouts.

One deployment (tests/e2e/fixtures/queue) serves every test: queue-mode semaphores on one lock table whose
executions weigh 1 ("light") and 2 ("heavy"), and one with a warm-up rate ("ramped"), with the lock name and
the work's length taken from the execution input, so each test queues on a lock of its own.

Arrival order: executions are started ~30 ms apart, each once the previous one has joined the lock (it is
queued or holding). On this shared emulator the time from StartExecution to the Lambda's write varies by
more than 30 ms under load, so "started 30 ms apart" alone would not define who arrived first; waiting for
the previous arrival does, and the grant order can then be compared with the start order exactly.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import aws, emf
from harness.deployment import Deployment
from harness.executions import (
    Event,
    HolderSampler,
    history,
    queue_grants,
    state_entered_times,
    state_intervals,
    unique_name,
    wait_for_executions,
    wait_until,
    work_interval,
)
from harness.localaws_admin import admin
from harness.terraform import TerraformError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("queue")]

LIMIT = 4
RECHECK_SECONDS = 15
SPACING = 0.03
#: The module's own states (the work's states inside "Run work" are the user's).
SEMAPHORE_STATES = ("Acquire semaphore", "Run work", "Release semaphore", "Release semaphore after failure")
MAX_TRANSITIONS = 8
TPS = 2


@pytest.fixture(scope="module")
def queue_root(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployment = Deployment.prepare(
        Path(__file__).parent / "fixtures" / "queue",
        endpoint,
        tmp_path_factory.mktemp("terraform"),
        {
            "name": unique_name("q")[:20],
            "concurrency_limit": LIMIT,
            "queue_recheck_seconds": RECHECK_SECONDS,
            "warmup_tps_limit": TPS,
        },
    )
    try:
        deployment.apply()
        yield deployment
    finally:
        try:
            deployment.destroy()
        except TerraformError as error:
            pytest.fail(f"terraform destroy failed:\n{error.stderr}", pytrace=False)


# --- helpers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockView:
    count: int
    holders: Mapping[str, int]
    queue: Sequence[str]


def read_queue_lock(dynamodb: Any, table: str, lock: str) -> LockView:
    key = {"LockName": {"S": lock}}
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
    holders = {k: int(v["M"]["weight"]["N"]) for k, v in item.items() if k.startswith("arn:")}
    queue = [entry["M"]["id"]["S"] for entry in item.get("queue", {}).get("L", [])]
    return LockView(count=int(item.get("lockCount", {}).get("N", "0")), holders=holders, queue=queue)


def start_in_order(
    sfn: Any, dynamodb: Any, table: str, lock: str, runs: Sequence[tuple[str, Mapping[str, Any]]], prefix: str
) -> list[str]:
    """Start each (state machine, input) ~SPACING s after the previous one has joined the lock."""
    arns = []
    for index, (machine, execution_input) in enumerate(runs):
        name = f"{prefix}-{index:03d}-{unique_name('x')[-6:]}"
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input))[
            "executionArn"
        ]
        arns.append(arn)

        def joined(arn: str = arn) -> bool:
            view = read_queue_lock(dynamodb, table, lock)
            return arn in view.holders or arn in view.queue

        wait_until(joined, timeout=20, poll=0.01, what=f"{name} joined {lock}")
        time.sleep(SPACING)
    return arns


def granted_at(events: Sequence[Event]) -> int:
    """When the queue Lambda decided the grant (epoch ms, from the resume's output): the grant order itself.
    When the execution then leaves its acquire state depends on how fast the emulator processes each resume,
    which under load can swap two grants made milliseconds apart."""
    (grant,) = queue_grants(events)
    return int(grant["grantedAt"])


def inversions(order: Sequence[str], by: Mapping[str, float]) -> list[tuple[str, str]]:
    """Pairs (earlier, later) in ``order`` whose values in ``by`` come the other way round."""
    return [(a, b) for i, a in enumerate(order) for b in order[i + 1 :] if by[a] > by[b]]


def billed_transitions(events: Sequence[Event]) -> int:
    """The module's own states entered, plus every retry of its tasks (each is billed as a transition)."""
    entered = sum(
        1
        for event in events
        if event["type"].endswith("StateEntered")
        and event.get("stateEnteredEventDetails", {}).get("name") in SEMAPHORE_STATES
    )
    tasks = sum(1 for e in events if e["type"] == "TaskStateEntered")
    scheduled = sum(1 for e in events if e["type"] == "TaskScheduled")
    return entered + scheduled - tasks


def handoff_latencies_ms(histories: Mapping[str, Sequence[Event]]) -> list[float]:
    """For each execution that had to wait: from the latest release before it started its work, to that
    start."""
    releases = sorted(
        t for events in histories.values() for t in state_entered_times(events, "Release semaphore")
    )
    latencies = []
    for events in histories.values():
        acquire = state_intervals(events, "Acquire semaphore")[0]
        work = work_interval(events)
        assert work is not None
        before = [t for t in releases if acquire.start < t <= work.start]
        if before:
            latencies.append((work.start - before[-1]) * 1000)
    return sorted(latencies)


def assert_clean(dynamodb: Any, table: str, lock: str, arns: Sequence[str]) -> None:
    view = read_queue_lock(dynamodb, table, lock)
    assert view.count == 0 and not view.holders and not view.queue, view
    for arn in arns:
        item = dynamodb.get_item(TableName=table, Key={"LockName": {"S": arn}}, ConsistentRead=True)
        assert "Item" not in item, f"per-execution item of {arn} left behind"


def sampled_weights_within_limit(sampler: HolderSampler, lock: str) -> int:
    for sample in sampler.samples:
        state = sample.locks[lock]
        assert (state.count or 0) <= LIMIT, state
        assert (state.count or 0) == sum(state.holders.values()), state
    return sampler.max_count(lock)


# --- tests -----------------------------------------------------------------------------------------------


def metric_sums(lines: Sequence[str], lock: str, metrics: Mapping[str, Any]) -> dict[str, int]:
    """The Embedded Metric Format counts of ``lock`` among a function's output lines, summed; checks that each
    document names the deployment's namespace and dimension."""
    sums: dict[str, int] = {}
    for document in emf.documents(lines):
        if document.get("lockName") != lock:
            continue
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == metrics["namespace"]
        assert {d: document[d] for (d,) in directive["Dimensions"]} == metrics["dimensions"]
        for metric in directive["Metrics"]:
            sums[metric["Name"]] = sums.get(metric["Name"], 0) + document[metric["Name"]]
    return sums


def test_forty_executions_keep_the_limit_and_are_granted_in_arrival_order(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any, lambda_output: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("fifo")
    machine = queue_root.outputs["light_state_machine_arn"]
    runs = [(machine, {"lock": lock, "workSeconds": 1})] * 40

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_in_order(sfn, dynamodb, table, lock, runs, "fifo")
        results = wait_for_executions(sfn, arns, timeout=180)
    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}, results

    assert sampled_weights_within_limit(sampler, lock) == LIMIT, "the limit was never reached"
    histories = {arn: history(sfn, arn) for arn in arns}
    for arn, events in histories.items():
        assert len(queue_grants(events)) == 1, f"{arn}: resumed by a real grant exactly once"
        transitions = billed_transitions(events)
        assert transitions <= MAX_TRANSITIONS, f"{arn}: {transitions} billed transitions"

    granted = {arn: granted_at(events) for arn, events in histories.items()}
    assert inversions(arns, granted) == [], "granted out of arrival order"

    latencies = handoff_latencies_ms(histories)
    assert len(latencies) >= 30, "most executions had to wait: the test proves nothing otherwise"
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    most = max(billed_transitions(e) for e in histories.values())
    p50 = statistics.median(latencies)
    print(f"\nhandoff ms p50 {p50:.0f} p95 {p95:.0f} max {latencies[-1]:.0f};", end=" ")
    print(f"billed transitions per execution at most {most}")
    assert statistics.median(latencies) < 1000, "a freed slot must be handed on at once, not polled for"
    assert_clean(dynamodb, table, lock, arns)

    # The functions' metrics (metrics_namespace is set on this semaphore) tell the same story.
    metrics = queue_root.outputs["light_metrics"]
    acquires = metric_sums(lambda_output(queue_root.outputs["light_acquire_function_name"]), lock, metrics)
    releases = metric_sums(lambda_output(queue_root.outputs["light_release_function_name"]), lock, metrics)
    assert releases["Releases"] == 40, releases
    assert acquires["Resumes"] + releases["Resumes"] == 40, (acquires, releases)
    assert acquires["GrantedAtOnce"] + acquires["Queued"] == 40, acquires
    assert acquires["Queued"] >= 30, "as many waited as the handoffs measured"


def test_mixed_weights_keep_the_weighted_limit_and_nobody_overtakes(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("weights")
    light, heavy = (
        queue_root.outputs["light_state_machine_arn"],
        queue_root.outputs["heavy_state_machine_arn"],
    )
    # Light ones behind heavy ones would often fit where the heavy head does not: they must wait their turn.
    pattern = [heavy, light, light, heavy, heavy, light, heavy, light, light, light, heavy, light]
    runs = [(machine, {"lock": lock, "workSeconds": 1}) for machine in pattern * 2]

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_in_order(sfn, dynamodb, table, lock, runs, "weights")
        results = wait_for_executions(sfn, arns, timeout=180)
    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}, results

    assert sampled_weights_within_limit(sampler, lock) == LIMIT
    weight = {arn: (2 if machine == heavy else 1) for arn, (machine, _) in zip(arns, runs, strict=True)}
    seen = {a: w for state in sampler.states(lock) for a, w in state.holders.items()}
    assert all(seen[arn] == weight[arn] for arn in seen), "each holder recorded its own weight"
    histories = {arn: history(sfn, arn) for arn in arns}
    granted = {arn: granted_at(events) for arn, events in histories.items()}
    assert inversions(arns, granted) == [], "a waiter was overtaken"
    assert_clean(dynamodb, table, lock, arns)


def test_a_waiter_stopped_while_queued_is_dropped_and_the_queue_moves_on(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("stopped")
    machine = queue_root.outputs["light_state_machine_arn"]
    holders = [(machine, {"lock": lock, "workSeconds": 3})] * LIMIT
    waiters = [(machine, {"lock": lock, "workSeconds": 1})] * 3

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_in_order(sfn, dynamodb, table, lock, holders + waiters, "stopped")
        stopped, *others = arns[LIMIT:]
        assert read_queue_lock(dynamodb, table, lock).queue == arns[LIMIT:]
        sfn.stop_execution(executionArn=stopped, cause="test: stopped while queued")
        # The status-change rule invokes the queue release Lambda: the waiter leaves the queue before any
        # holder releases (without the rule, the grant's dead-token check would drop it instead).
        wait_until(
            lambda: read_queue_lock(dynamodb, table, lock).queue == others,
            timeout=2.5,
            what="the stopped waiter left the queue",
        )
        results = wait_for_executions(sfn, arns, timeout=120)

    statuses = {arn: results[arn]["status"] for arn in arns}
    assert statuses.pop(stopped) == "ABORTED"
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses
    histories = {arn: history(sfn, arn) for arn in arns}
    assert work_interval(histories[stopped]) is None, "the stopped execution never ran its work"
    first_release = min(state_entered_times(histories[arn], "Release semaphore")[0] for arn in arns[:LIMIT])
    next_start = min(work_interval(histories[arn]).start for arn in others)  # type: ignore[union-attr]
    assert next_start - first_release < RECHECK_SECONDS / 3, "the slot waited for the dropped waiter"
    sampled_weights_within_limit(sampler, lock)
    assert_clean(dynamodb, table, lock, arns)


def test_a_lost_resume_is_recovered_by_the_waiting_task_s_own_re_check(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("lost")
    machine = queue_root.outputs["light_state_machine_arn"]
    runs = [(machine, {"lock": lock, "workSeconds": 1})] * (LIMIT + 1)

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_in_order(sfn, dynamodb, table, lock, runs, "lost")
        waiter = arns[-1]
        # Its token is lost: the release that grants it the slot has nothing to resume it with.
        dynamodb.delete_item(TableName=table, Key={"LockName": {"S": waiter}})
        results = wait_for_executions(sfn, arns, timeout=RECHECK_SECONDS * 4)
    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}, results

    events = history(sfn, waiter)
    assert any(e["type"] == "TaskTimedOut" for e in events), "the waiting task timed out (its re-check)"
    assert sum(1 for e in events if e["type"] == "TaskScheduled") >= 3, "acquire, re-check, release"
    (grant,) = queue_grants(events)
    assert grant["alreadyHeld"] is True, "the re-check found the slot already its own and resumed itself"
    work = work_interval(events)
    assert work is not None
    granted_at = grant["grantedAt"] / 1000
    held_idle = [s for s in sampler.samples if waiter in s.locks[lock].holders and s.time < work.start]
    assert held_idle, "it held the slot while waiting for its re-check"
    assert work.start - granted_at >= RECHECK_SECONDS / 2, "resumed by the re-check, not by the release"
    sampled_weights_within_limit(sampler, lock)
    assert billed_transitions(events) <= MAX_TRANSITIONS
    assert_clean(dynamodb, table, lock, arns)


def test_a_warm_up_rate_releases_queued_executions_no_faster_than_it_allows(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("ramp")
    machine = queue_root.outputs["ramped_state_machine_arn"]
    # 3 s of work: the rate admits 4 holders in 1.5 s, so both limits bind.
    runs = [(machine, {"lock": lock, "workSeconds": 3})] * 12

    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_in_order(sfn, dynamodb, table, lock, runs, "ramp")
        results = wait_for_executions(sfn, arns, timeout=120)
    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}, results

    histories = {arn: history(sfn, arn) for arn in arns}
    granted_at = {arn: queue_grants(events)[-1]["grantedAt"] for arn, events in histories.items()}
    times = sorted(granted_at.values())
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 1000 / TPS - 1, f"grants closer than the rate allows: {gaps}"
    assert inversions(arns, granted_at) == [], "granted out of arrival order"
    assert sampled_weights_within_limit(sampler, lock) == LIMIT
    assert_clean(dynamodb, table, lock, arns)


def test_machines_sharing_a_lock_may_describe_each_other_s_executions(
    queue_root: Deployment, endpoint: str
) -> None:
    """A grant to an ended execution of the other machine is passed on at once only if the queue functions
    may ask Step Functions about it: each one's role names both machines' executions, and no others."""
    iam = aws.client("iam", endpoint)
    light = queue_root.outputs["light_state_machine_arn"]
    heavy = queue_root.outputs["heavy_state_machine_arn"]
    patterns = {f"{arn.replace(':stateMachine:', ':execution:')}:*" for arn in (light, heavy)}
    for name in (light, heavy):
        role = f"{name.rsplit(':', 1)[1]}-queue"
        document = iam.get_role_policy(RoleName=role, PolicyName="queue")["PolicyDocument"]
        policy = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
        (describe,) = [s for s in policy["Statement"] if s.get("Sid") == "DescribeExecutions"]
        resources = describe["Resource"] if isinstance(describe["Resource"], list) else [describe["Resource"]]
        assert set(resources) == patterns, (role, resources)


def _drop_status_events(endpoint: str, fraction: float) -> None:
    """The local AWS's switch: lose this fraction of Step Functions status-change events (the reaper's)."""
    admin(endpoint, "config", {"events": {"drop_status_change_fraction": fraction}})


def test_with_status_events_lost_the_sweeper_drops_ended_waiters_and_hands_on_ended_holders_slots(
    queue_root: Deployment, endpoint: str, sfn: Any, dynamodb: Any, lambda_output: Any
) -> None:
    table = queue_root.outputs["lock_table_name"]
    lock = unique_name("swept")
    machine = queue_root.outputs["light_state_machine_arn"]
    lam = aws.client("lambda", endpoint)
    sweeper = queue_root.outputs["light_sweeper_function_name"]
    metrics = queue_root.outputs["light_metrics"]

    def sweep() -> dict[str, Any]:
        printed_before = len(lambda_output(sweeper))
        response = lam.invoke(FunctionName=sweeper, Payload=b"{}")
        assert "FunctionError" not in response, response
        result = dict(json.loads(response["Payload"].read()))
        # The run's metrics line (metrics_namespace is set) says what its result says.
        documents = emf.documents(lambda_output(sweeper)[printed_before:])
        counted = [
            (
                d["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                d["Semaphore"],
                d["SlotsReclaimed"],
                d["WaitersRemoved"],
            )
            for d in documents
        ]
        expected = (
            metrics["namespace"],
            metrics["dimensions"]["Semaphore"],
            result["released"],
            result["waitersRemoved"],
        )
        assert expected in counted, (expected, counted)
        return result

    holders = [(machine, {"lock": lock, "workSeconds": 60})] * LIMIT
    waiters = [(machine, {"lock": lock, "workSeconds": 1})] * 2
    _drop_status_events(endpoint, 1.0)  # the reaper never hears of the stops: only the sweeper can help
    try:
        arns = start_in_order(sfn, dynamodb, table, lock, holders + waiters, "swept")
        stopped_waiter, live_waiter = arns[LIMIT:]
        sfn.stop_execution(executionArn=stopped_waiter, cause="test: stopped while queued")
        swept = sweep()
        assert (swept["waitersRemoved"], swept["released"], swept["errors"]) == (1, 0, 0), swept
        assert read_queue_lock(dynamodb, table, lock).queue == [live_waiter]

        sfn.stop_execution(executionArn=arns[0], cause="test: stopped while holding")
        stopped_at = time.monotonic()
        swept = sweep()
        assert (swept["released"], swept["errors"]) == (1, 0), swept
        # Released through the queue release Lambda, which granted the slot and resumed the waiter.
        wait_until(
            lambda: live_waiter in read_queue_lock(dynamodb, table, lock).holders,
            timeout=5,
            what="the live waiter holds the freed slot",
        )
        results = wait_for_executions(sfn, [live_waiter], timeout=30)
        assert results[live_waiter]["status"] == "SUCCEEDED"
        assert time.monotonic() - stopped_at < 30, "handed on by the sweep, not by the holders' own releases"

        for arn in arns[1:LIMIT]:
            sfn.stop_execution(executionArn=arn, cause="test: done")
        swept = sweep()
        assert swept["released"] == LIMIT - 1, swept
    finally:
        _drop_status_events(endpoint, 0.0)
    histories = {arn: history(sfn, arn) for arn in (stopped_waiter, live_waiter)}
    assert work_interval(histories[stopped_waiter]) is None, "the stopped waiter never ran its work"
    assert_clean(dynamodb, table, lock, arns)
