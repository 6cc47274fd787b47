"""Fault injection: executions that are stopped, fail or time out never leak their slot.

Two deployments of tests/e2e/fixtures/faults (limit 4, the reaper and the sweeper on): one with a static lock
name (the reaper reads the name from its input), one taking the lock name from the execution input (the
reaper and the sweeper find the lock through the execution's index item).

The local AWS emits "Step Functions Execution Status Change" events and runs rate schedules; its test-only
switches (``POST /localaws/config``) drop status events, to leave the sweeper alone, and shorten a
schedule's minute, so that a sweep interval lasts seconds. Each test sets the switches it needs and the
``events_config`` fixture puts them back. Slot-return times are printed (run pytest with ``-s`` to see them).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import aws
from harness.deployment import Deployment, deployed
from harness.executions import (
    HolderSampler,
    executions_of,
    read_lock,
    start_executions,
    unique_name,
    wait_for_executions,
    wait_until,
)
from harness.localaws_admin import admin, configure_events

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("faults")]

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "faults"
KEY = "LockName"
LIMIT = 4
#: Work that lasts until the test stops the execution.
FOREVER = 600


# --------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------


def _event_stats(endpoint: str) -> dict[str, Any]:
    return dict(admin(endpoint, "stats")["events"])


def _deployment(endpoint: str, parent: Path, variables: dict[str, Any]) -> Iterator[Deployment]:
    with deployed(FIXTURE, endpoint, parent, variables) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def static_lock(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One lock named after the semaphore; the sweeper runs every (local) minute."""
    variables = {"name": unique_name("faults"), "concurrency_limit": LIMIT, "sweep_interval_minutes": 1}
    yield from _deployment(endpoint, tmp_path_factory.mktemp("terraform"), variables)


@pytest.fixture(scope="module")
def dynamic_lock(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The lock name comes from the execution input ("lock"); the sweeper runs every (local) minute."""
    variables = {
        "name": unique_name("faults-dyn"),
        "concurrency_limit": LIMIT,
        "sweep_interval_minutes": 1,
        "lock_name_path": "$.lock",
    }
    yield from _deployment(endpoint, tmp_path_factory.mktemp("terraform"), variables)


class Stopper(threading.Thread):
    """Stops each of ``targets`` once it has held a slot for ``after`` seconds (so it is inside its work)."""

    def __init__(self, endpoint: str, table: str, lock: str, targets: Sequence[str], after: float = 0.3):
        super().__init__(name="stopper", daemon=True)
        self.table, self.lock, self.after = table, lock, after
        self.pending = set(targets)
        self.seen: dict[str, float] = {}
        self.stopped: dict[str, float] = {}
        self.errors: list[Exception] = []
        self._dynamodb = aws.client("dynamodb", endpoint)
        self._sfn = aws.client("stepfunctions", endpoint)
        self._done = threading.Event()

    def run(self) -> None:
        while self.pending and not self._done.is_set():
            try:
                holders = read_lock(self._dynamodb, self.table, KEY, self.lock).holders
                now = time.time()
                for arn in self.pending & set(holders):
                    self.seen.setdefault(arn, now)
                for arn in [
                    a for a, seen in self.seen.items() if a in self.pending and now - seen >= self.after
                ]:
                    self._sfn.stop_execution(executionArn=arn, error="Test.Stopped", cause="stopped mid-work")
                    self.stopped[arn] = time.time()
                    self.pending.discard(arn)
            except Exception as error:  # reported by the test
                self.errors.append(error)
                return
            self._done.wait(0.05)

    def finish(self) -> None:
        self._done.set()
        self.join(timeout=10)
        assert not self.errors, self.errors


def _stop_date(sfn: Any, arn: str) -> float:
    return float(sfn.describe_execution(executionArn=arn)["stopDate"].timestamp())


def _slot_returns(sampler: HolderSampler, lock: str, ended: dict[str, float]) -> dict[str, float]:
    """Seconds from each execution's end to the first sample in which it no longer holds the lock."""
    returns = {}
    for arn, end in ended.items():
        for sample in sampler.samples:
            if sample.time >= end and arn not in sample.locks[lock].holders:
                returns[arn] = max(0.0, sample.time - end)
                break
    return returns


def _report(what: str, seconds: Sequence[float]) -> str:
    line = (
        f"{what}: n={len(seconds)} p50={statistics.median(seconds):.2f}s "
        f"p90={sorted(seconds)[int(0.9 * (len(seconds) - 1))]:.2f}s max={max(seconds):.2f}s"
    )
    print(f"\n[slot return] {line}")
    return line


def _reaper_runs(sfn: Any, reaper_arn: str) -> dict[str, dict[str, Any]]:
    """Every reaper execution, by the execution ARN it was started for: status and output."""
    runs: dict[str, dict[str, Any]] = {}
    for execution in executions_of(sfn, reaper_arn):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        target = json.loads(described["input"])["executionArn"]
        output = json.loads(described["output"]) if described.get("output") else None
        runs.setdefault(target, {"statuses": [], "outputs": []})
        runs[target]["statuses"].append(described["status"])
        runs[target]["outputs"].append(output)
    return runs


def _wait_free(dynamodb: Any, table: str, lock: str, timeout: float, sampler: HolderSampler) -> float:
    """Wait until the lock is back to 0 with no holder, and the sampler has seen it so."""

    def free() -> bool:
        state = read_lock(dynamodb, table, KEY, lock)
        return state.count == 0 and not state.holders

    freed = wait_until(free, timeout, poll=0.1, what=f"lock {lock} back to 0 with no holder")
    wait_until(lambda: sampler.samples[-1].time > freed, 5, what="a sample after the lock was free")
    return freed


def _sweep_seen(dynamodb: Any, table: str, lock: str, state_machine_arn: str, timeout: float) -> None:
    """Proof that a sweep went over ``lock``: a holder entry of an execution that never existed (as one left
    behind long ago) is added, and the test waits until a sweep gave it back."""
    canary = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{unique_name('canary')}"
    dynamodb.update_item(
        TableName=table,
        Key={KEY: {"S": lock}},
        UpdateExpression="SET #count = #count + :one, #holder = :holder ADD #version :one",
        ExpressionAttributeNames={"#count": "lockCount", "#holder": canary, "#version": "version"},
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":holder": {"M": {"weight": {"N": "1"}, "acquiredAt": {"S": "2024-01-01T00:00:00.000Z"}}},
        },
    )
    wait_until(
        lambda: canary not in read_lock(dynamodb, table, KEY, lock).holders,
        timeout,
        what="a sweep over the lock",
    )


# --------------------------------------------------------------------------------------------------
# The reaper
# --------------------------------------------------------------------------------------------------


def test_stopped_and_failing_holders_give_every_slot_back(
    static_lock: Deployment, endpoint: str, sfn: Any, dynamodb: Any, events_config: None
) -> None:
    """60 executions, limit 4: 20 stopped while holding a slot, 20 failing in the work, 20 succeeding.

    The sweeper is held off (one local minute lasts an hour), so every stopped holder's slot must come back
    through its status-change event and the reaper.
    """
    configure_events(endpoint, drop=0.0, minute_seconds=3600)
    outputs = static_lock.outputs
    table, lock = outputs["lock_table_name"], outputs["lock_name"]
    kinds = ["stop", "fail", "succeed"] * 20
    inputs = [{"workSeconds": FOREVER if kind == "stop" else 1, "fail": kind == "fail"} for kind in kinds]

    with HolderSampler(endpoint, table, [lock]) as sampler:
        names = [unique_name(f"{kind}-{index:02d}") for index, kind in enumerate(kinds)]
        arns = [
            outputs["state_machine_arn"].replace(":stateMachine:", ":execution:") + f":{n}" for n in names
        ]
        stopper = Stopper(endpoint, table, lock, [a for a, k in zip(arns, kinds, strict=True) if k == "stop"])
        stopper.start()
        start_executions(sfn, outputs["state_machine_arn"], inputs, names=names)
        results = wait_for_executions(sfn, arns, timeout=150)
        stopper.finish()
        _wait_free(dynamodb, table, lock, 30, sampler)

    by_kind = {kind: [a for a, k in zip(arns, kinds, strict=True) if k == kind] for kind in set(kinds)}
    expected = {"stop": "ABORTED", "fail": "FAILED", "succeed": "SUCCEEDED"}
    for kind, status in expected.items():
        assert {results[a]["status"] for a in by_kind[kind]} == {status}, kind
    assert set(stopper.stopped) == set(by_kind["stop"]), "every stopped execution was stopped while holding"

    assert sampler.max_holders() <= LIMIT
    assert sampler.max_count() <= LIMIT
    assert sampler.min_count() >= 0
    assert sampler.holders_seen() == set(arns), "every execution really held the slot"
    final = read_lock(dynamodb, table, KEY, lock)
    assert (final.count, dict(final.holders)) == (0, {})

    runs = _reaper_runs(sfn, outputs["reaper_state_machine_arn"])
    for arn in by_kind["stop"]:
        assert runs[arn]["statuses"] == ["SUCCEEDED"], arn
        assert runs[arn]["outputs"][0]["released"] is True, f"the reaper gave back {arn}'s slot"
    for arn in by_kind["fail"]:
        # The work's failure released the slot first; the reaper found nothing and succeeded quietly.
        assert runs[arn]["statuses"] == ["SUCCEEDED"], arn
        assert runs[arn]["outputs"][0]["released"] is False, arn
    assert not set(runs) & set(by_kind["succeed"]), "no reaper for executions that succeeded"

    ended = {arn: _stop_date(sfn, arn) for arn in by_kind["stop"]}
    returns = _slot_returns(sampler, lock, ended)
    assert set(returns) == set(ended)
    _report("reaper, stopped holders (stopDate -> ARN gone from the lock item)", list(returns.values()))
    assert max(returns.values()) < 10, "the reaper gives a slot back within seconds"


def test_a_double_release_never_drives_the_count_below_zero(
    static_lock: Deployment, endpoint: str, sfn: Any, dynamodb: Any, events_config: None
) -> None:
    """The event-driven reaper, five more reaper runs and two sweeps race for one stopped holder."""
    configure_events(endpoint, drop=0.0, minute_seconds=3600)
    outputs = static_lock.outputs
    table, lock = outputs["lock_table_name"], outputs["lock_name"]
    lam = aws.client("lambda", endpoint)
    with HolderSampler(endpoint, table, [lock]) as sampler:
        (arn,) = start_executions(sfn, outputs["state_machine_arn"], [{"workSeconds": FOREVER}], "double")
        wait_until(lambda: arn in read_lock(dynamodb, table, KEY, lock).holders, 30, what="holder entry")
        reaper_input = {
            "executionArn": arn,
            "status": "ABORTED",
            "table": table,
            "lockIdAttribute": KEY,
            "lockName": lock,
            "weightHint": 1,
        }
        sfn.stop_execution(executionArn=arn)
        with ThreadPoolExecutor(max_workers=7) as pool:
            reapers = [
                pool.submit(
                    start_executions,
                    sfn,
                    outputs["reaper_state_machine_arn"],
                    [reaper_input],
                    names=[unique_name("extra-reap")],
                )
                for _ in range(5)
            ]
            sweeps = [
                pool.submit(lam.invoke, FunctionName=outputs["sweeper_function_name"], Payload=b"{}")
                for _ in range(2)
            ]
            extra = [future.result()[0] for future in reapers]
            swept = [json.loads(future.result()["Payload"].read()) for future in sweeps]
        wait_for_executions(sfn, extra, timeout=30)
        _wait_free(dynamodb, table, lock, 30, sampler)

        def all_reapers_done() -> bool:
            statuses = _reaper_runs(sfn, outputs["reaper_state_machine_arn"]).get(arn, {}).get("statuses", [])
            return len(statuses) == 6 and "RUNNING" not in statuses

        # Five extra runs and the event-driven one, still sampling while the last of them write.
        wait_until(all_reapers_done, 30, poll=0.2, what="six reaper runs ended")

    runs = _reaper_runs(sfn, outputs["reaper_state_machine_arn"])[arn]
    assert runs["statuses"] == ["SUCCEEDED"] * 6, "five extra runs and the event-driven one"
    released = sum(1 for output in runs["outputs"] if output["released"]) + sum(s["released"] for s in swept)
    assert released == 1, f"exactly one release counted: reaper runs {runs['outputs']}, sweeps {swept}"
    assert sampler.min_count() >= 0
    final = read_lock(dynamodb, table, KEY, lock)
    assert (final.count, dict(final.holders)) == (0, {})


# --------------------------------------------------------------------------------------------------
# The sweeper
# --------------------------------------------------------------------------------------------------

SWEEP_SECONDS = 6.0


def test_with_every_status_event_dropped_the_sweeper_alone_returns_every_slot(
    dynamic_lock: Deployment, endpoint: str, sfn: Any, dynamodb: Any, events_config: None
) -> None:
    """No status event reaches EventBridge, so no reaper runs; the sweeper (one local minute lasts
    SWEEP_SECONDS) gives back every stopped holder's slot within one interval, and deletes its index item."""
    outputs = dynamic_lock.outputs
    table, lock = outputs["lock_table_name"], unique_name("swept")
    configure_events(endpoint, drop=1.0, minute_seconds=SWEEP_SECONDS)
    before = _event_stats(endpoint)

    with HolderSampler(endpoint, table, [lock]) as sampler:
        holders = start_executions(
            sfn, outputs["state_machine_arn"], [{"lock": lock, "workSeconds": FOREVER}] * LIMIT, "held"
        )
        waiting = start_executions(
            sfn, outputs["state_machine_arn"], [{"lock": lock, "workSeconds": 1}] * LIMIT, "waiting"
        )
        wait_until(
            lambda: set(read_lock(dynamodb, table, KEY, lock).holders) == set(holders), 30, what="4 holders"
        )
        for arn in holders:  # spread over one interval, so the return times cover the whole of it
            sfn.stop_execution(executionArn=arn)
            time.sleep(SWEEP_SECONDS / LIMIT)
        ended = {arn: _stop_date(sfn, arn) for arn in holders}
        results = wait_for_executions(sfn, waiting, timeout=4 * SWEEP_SECONDS + 30)
        _wait_free(dynamodb, table, lock, SWEEP_SECONDS + 10, sampler)

    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}, "the waiting executions got the slots"
    after = _event_stats(endpoint)
    assert after["status_change_dropped_by_status"].get("ABORTED", 0) - before[
        "status_change_dropped_by_status"
    ].get("ABORTED", 0) >= len(holders), "every ABORTED event was dropped"
    runs = _reaper_runs(sfn, outputs["reaper_state_machine_arn"])
    assert not set(runs) & set(holders), "no reaper ran: the sweeper alone gave the slots back"
    assert sampler.max_holders(lock) <= LIMIT and sampler.min_count(lock) >= 0

    returns = _slot_returns(sampler, lock, ended)
    assert set(returns) == set(ended)
    _report(f"sweeper alone, interval {SWEEP_SECONDS:.0f}s (stopDate -> ARN gone)", list(returns.values()))
    assert max(returns.values()) <= SWEEP_SECONDS + 5, "every slot back within one sweep interval"
    left = {item[KEY]["S"] for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]}
    assert not left & set(holders), "the stopped executions' index items are gone"


def test_a_running_holder_is_never_released_by_the_reaper_or_the_sweeper(
    dynamic_lock: Deployment, endpoint: str, sfn: Any, dynamodb: Any, events_config: None
) -> None:
    """A long holder keeps its slot while the reaper frees its stopped and failed neighbours on the same lock
    and three sweeps (every 2 s) go over it; once stopped, its own slot comes back."""
    outputs = dynamic_lock.outputs
    table, lock = outputs["lock_table_name"], unique_name("running")
    configure_events(endpoint, drop=0.0, minute_seconds=2)

    with HolderSampler(endpoint, table, [lock]) as sampler:
        (runner,) = start_executions(
            sfn, outputs["state_machine_arn"], [{"lock": lock, "workSeconds": FOREVER}], "runner"
        )
        wait_until(lambda: runner in read_lock(dynamodb, table, KEY, lock).holders, 30, what="runner holds")
        neighbours = start_executions(
            sfn,
            outputs["state_machine_arn"],
            [{"lock": lock, "workSeconds": FOREVER}] * 2
            + [{"lock": lock, "workSeconds": 1, "fail": True}] * 2,
            "neighbour",
        )
        stopper = Stopper(endpoint, table, lock, neighbours[:2])
        stopper.start()
        wait_for_executions(sfn, neighbours, timeout=60)
        stopper.finish()
        for _ in range(3):
            _sweep_seen(dynamodb, table, lock, outputs["state_machine_arn"], timeout=20)
        still = read_lock(dynamodb, table, KEY, lock)
        assert set(still.holders) == {runner}, "only the running holder is left"
        assert sfn.describe_execution(executionArn=runner)["status"] == "RUNNING"
        sfn.stop_execution(executionArn=runner)
        _wait_free(dynamodb, table, lock, 15, sampler)

    first = next(s.time for s in sampler.samples if runner in s.locks[lock].holders)
    stopped = _stop_date(sfn, runner)
    held = [runner in s.locks[lock].holders for s in sampler.samples if first <= s.time < stopped]
    assert held and all(held), "the running holder kept its slot in every sample until it was stopped"
    runs = _reaper_runs(sfn, outputs["reaper_state_machine_arn"])
    assert [o["released"] for o in runs[runner]["outputs"]] in ([True], [False]), "reaped once it ended"
    assert all(runs[n]["statuses"] == ["SUCCEEDED"] for n in neighbours)
    left = {item[KEY]["S"] for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]}
    assert not left & {runner, *neighbours}, "every index item is gone"
