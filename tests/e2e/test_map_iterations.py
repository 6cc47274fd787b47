"""Map iterations as holders (the module's map_state), end to end on the local AWS, in poll and queue mode.

examples/map-throttled: a user's downloader machine splits a list of paths into batches and runs a Map
(MaxConcurrency 10) whose every iteration holds a slot of its own, limit 4 shared by every execution. The
limit is measured twice while it happens: from the lock item sampled every 50 ms, and from the histories
(each iteration's time inside "Run work (item)", paired by its holder id).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.deployment import Deployment, deployed
from harness.executions import (
    HolderSampler,
    history,
    iteration_intervals,
    max_overlap,
    queue_grants,
    read_lock,
    start_executions,
    unique_name,
    wait_for_executions,
    wait_until,
)
from harness.localaws_admin import configure_events

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "map-throttled"
WEIGHTS_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "map-weights"
KEY = "LockName"
LIMIT = 4
WORK_STATE = "Run work (item)"
#: One sweep interval (the module's default, 5 minutes) lasts this many seconds on the local AWS.
MINUTE_SECONDS = 3.0


def _deployed(
    mode: str, download_seconds: int, endpoint: str, parent: Path, map_mode: str = "INLINE"
) -> AbstractContextManager[Deployment]:
    variables = {
        "name": unique_name(f"map-{mode}"),
        "acquire_mode": mode,
        "acquire_wait_seconds": 1,
        "batch_size": 1,
        "download_seconds": download_seconds,
        "map_mode": map_mode,
    }
    return deployed(EXAMPLE, endpoint, parent, variables)


@pytest.fixture(scope="module", params=["poll", "queue"])
def downloader(
    request: pytest.FixtureRequest, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with _deployed(request.param, 2, endpoint, tmp_path_factory.mktemp("terraform")) as deployment:
        yield deployment


def _items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=table, ConsistentRead=True)["Items"])


def _queued(dynamodb: Any, table: str, lock: str) -> list[str]:
    item = dynamodb.get_item(TableName=table, Key={KEY: {"S": lock}}, ConsistentRead=True).get("Item", {})
    return [entry["M"]["id"]["S"] for entry in item.get("queue", {}).get("L", [])]


def test_each_iteration_holds_its_own_slot_and_the_limit_holds_across_executions(
    downloader: Deployment, sfn: Any, dynamodb: Any, endpoint: str
) -> None:
    outputs = downloader.outputs
    table, lock = outputs["lock_table_name"], outputs["lock_name"]
    paths = [f"img{i}.jpg" for i in range(8)]
    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_executions(sfn, outputs["state_machine_arn"], [{"paths": paths}] * 3, "fan")
        results = wait_for_executions(sfn, arns, timeout=180)

    assert {r["status"] for r in results.values()} == {"SUCCEEDED"}
    for result in results.values():
        report = json.loads(result["output"])
        assert report["batches"] == 8
        assert sorted(r["batch"] for r in report["results"]) == list(range(8))
        assert {r["status"] for r in report["results"]} == {"downloaded"}

    # Sampled: never more than the limit, and iterations of one execution are distinct holders.
    assert sampler.max_holders() == LIMIT and sampler.max_count() == LIMIT
    assert sampler.min_count() >= 0
    holders = sampler.holders_seen()
    assert all("#" in holder and holder.split("#")[0] in arns for holder in holders)
    # From the histories: 24 iterations each inside the work once, never more than LIMIT at a time.
    intervals = {}
    for arn in arns:
        intervals.update(iteration_intervals(history(sfn, arn), WORK_STATE))
    assert len(intervals) == 24
    assert all(interval.seconds >= 2 for interval in intervals.values()), "the download really waited"
    assert max_overlap(intervals.values()) == LIMIT

    final = read_lock(dynamodb, table, KEY, lock)
    assert (final.count, dict(final.holders)) == (0, {})
    assert _queued(dynamodb, table, lock) == []
    # Nothing of an iteration is left: no per-holder item, and no registry lists one.
    for item in _items(dynamodb, table):
        key = item[KEY]["S"]
        assert "#" not in key or key.endswith("#"), f"per-holder item left: {key}"
        assert all("#" not in h for h in item.get("holders", {}).get("SS", [])), f"registered: {item}"


@pytest.mark.parametrize("mode", ["poll", "queue"])
def test_a_stopped_execution_gives_back_every_iteration_slot_by_event_and_by_sweep(
    mode: str,
    sfn: Any,
    dynamodb: Any,
    endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    events_config: None,
) -> None:
    with _deployed(mode, 600, endpoint, tmp_path_factory.mktemp("terraform")) as deployment:
        outputs = deployment.outputs
        table, lock, machine = outputs["lock_table_name"], outputs["lock_name"], outputs["state_machine_arn"]
        paths = [f"img{i}.jpg" for i in range(8)]
        configure_events(endpoint, drop=0.0, minute_seconds=3600)  # the sweeper held off: only events act
        with HolderSampler(endpoint, table, [lock]) as sampler:
            first = start_executions(sfn, machine, [{"paths": paths}], "first")[0]
            wait_until(lambda: len(read_lock(dynamodb, table, KEY, lock).holders) == LIMIT, 60, what="4 held")
            second = start_executions(sfn, machine, [{"paths": paths}], "second")[0]
            if mode == "queue":
                wait_until(lambda: len(_queued(dynamodb, table, lock)) == 12, 60, what="12 iterations queued")

            # By the status-change event: 4 slots back and the first's queued iterations gone, at once; the
            # second execution's iterations take the slots.
            sfn.stop_execution(executionArn=first)
            wait_until(
                lambda: (
                    set(read_lock(dynamodb, table, KEY, lock).holders)
                    and all(h.startswith(second + "#") for h in read_lock(dynamodb, table, KEY, lock).holders)
                    and len(read_lock(dynamodb, table, KEY, lock).holders) == LIMIT
                ),
                30,
                what="the stopped execution's slots taken by the other's iterations",
            )
            assert not any(q.startswith(first) for q in _queued(dynamodb, table, lock))

            # With every status event lost, the sweeper alone gives back the second's four slots.
            configure_events(endpoint, drop=1.0, minute_seconds=MINUTE_SECONDS)
            sfn.stop_execution(executionArn=second)
            wait_until(
                lambda: read_lock(dynamodb, table, KEY, lock).count == 0,
                5 * MINUTE_SECONDS * 3 + 20,
                what="every slot back by the sweeper",
            )
        assert sampler.max_holders() <= LIMIT and sampler.max_count() <= LIMIT and sampler.min_count() >= 0
        assert read_lock(dynamodb, table, KEY, lock).holders == {}
        assert _queued(dynamodb, table, lock) == []
        wait_until(
            lambda: all(
                first not in item[KEY]["S"] and second not in item[KEY]["S"]
                for item in _items(dynamodb, table)
            ),
            5 * MINUTE_SECONDS * 3 + 20,
            what="the executions' registry and per-holder items gone",
        )


@pytest.mark.parametrize("mode", ["poll", "queue"])
def test_a_distributed_map_holds_the_limit_and_a_stopped_parent_gives_every_child_slot_back(
    mode: str, sfn: Any, dynamodb: Any, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Distributed Map, Standard children: each child's holder id is made in the parent's ItemSelector, so it
    belongs to the parent execution, which the reaper watches. (The local AWS runs Standard children inside
    the parent and refuses Express ones: docs/fidelity.md, gap 17.)"""
    parent = tmp_path_factory.mktemp("terraform")
    with _deployed(mode, 600, endpoint, parent, map_mode="DISTRIBUTED") as deployment:
        outputs = deployment.outputs
        table, lock, machine = outputs["lock_table_name"], outputs["lock_name"], outputs["state_machine_arn"]
        paths = [f"img{i}.jpg" for i in range(8)]
        with HolderSampler(endpoint, table, [lock]) as sampler:
            first = start_executions(sfn, machine, [{"paths": paths}], "first")[0]
            wait_until(lambda: len(read_lock(dynamodb, table, KEY, lock).holders) == LIMIT, 60, what="4 held")
            second = start_executions(sfn, machine, [{"paths": paths}], "second")[0]
            time.sleep(3)  # the second's children are waiting (polling or queued) behind the first's
            assert all(h.startswith(first + "#") for h in read_lock(dynamodb, table, KEY, lock).holders)
            assert len(sfn.list_map_runs(executionArn=first)["mapRuns"]) == 1, "the iterations are a map run"

            sfn.stop_execution(executionArn=first)
            wait_until(
                lambda: (
                    len(held := read_lock(dynamodb, table, KEY, lock).holders) == LIMIT
                    and all(h.startswith(second + "#") for h in held)
                ),
                30,
                what="the stopped parent's child slots taken by the other parent's children",
            )
            sfn.stop_execution(executionArn=second)
            wait_until(lambda: read_lock(dynamodb, table, KEY, lock).count == 0, 30, what="every slot back")
        assert sampler.max_holders() <= LIMIT and sampler.max_count() <= LIMIT and sampler.min_count() >= 0
        assert read_lock(dynamodb, table, KEY, lock).holders == {}
        assert _queued(dynamodb, table, lock) == []


@pytest.mark.parametrize("mode", ["poll", "queue"])
def test_iterations_of_weights_1_and_2_share_one_limit(
    mode: str, sfn: Any, dynamodb: Any, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """tests/e2e/fixtures/map-weights: two semaphores on one lock, limit 4, whose iterations weigh 1 and 2."""
    variables = {"name": unique_name(f"mw-{mode}"), "acquire_mode": mode}
    with deployed(WEIGHTS_FIXTURE, endpoint, tmp_path_factory.mktemp("terraform"), variables) as deployment:
        outputs = deployment.outputs
        table, lock = outputs["lock_table_name"], outputs["lock_name"]
        machines = outputs["state_machine_arns"]
        items = {"items": list(range(6))}
        with HolderSampler(endpoint, table, [lock]) as sampler:
            light, heavy = [], []
            for _ in range(2):
                light += start_executions(sfn, machines["light"], [items], "light")
                heavy += start_executions(sfn, machines["heavy"], [items], "heavy")
            results = wait_for_executions(sfn, light + heavy, timeout=240)

        assert {r["status"] for r in results.values()} == {"SUCCEEDED"}
        weights = {arn: 1 for arn in light} | {arn: 2 for arn in heavy}
        # Sampled: the count is the holders' weights, never above the limit, and both weights held at once.
        states = sampler.states()
        assert all((state.count or 0) == sum(state.holders.values()) for state in states)
        assert sampler.max_count() == LIMIT and sampler.min_count() >= 0
        assert any(set(state.holders.values()) == {1, 2} for state in states), "both weights held together"
        # From the histories: 24 iterations, never more than LIMIT by weight inside the work.
        intervals = [
            replace(interval, weight=weights[arn])
            for arn in light + heavy
            for interval in iteration_intervals(history(sfn, arn), WORK_STATE).values()
        ]
        assert len(intervals) == 24
        assert max_overlap(intervals) <= LIMIT


@pytest.mark.parametrize("mode", ["poll", "queue"])
def test_each_item_names_its_lock_with_lock_name_path(
    mode: str, sfn: Any, dynamodb: Any, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """lock_name_path read from each iteration's item: one limit of 2 per host, hosts side by side."""
    variables = {
        "name": unique_name(f"mh-{mode}"),
        "acquire_mode": mode,
        "lock_name_path": "$.host",
        "concurrency_limit": 2,
    }
    with deployed(WEIGHTS_FIXTURE, endpoint, tmp_path_factory.mktemp("terraform"), variables) as deployment:
        outputs = deployment.outputs
        table, machine = outputs["lock_table_name"], outputs["state_machine_arns"]["light"]
        hosts = [f"{variables['name']}-a", f"{variables['name']}-b"]
        items = {"items": [{"host": host} for host in hosts for _ in range(4)]}
        with HolderSampler(endpoint, table, hosts) as sampler:
            arns = start_executions(sfn, machine, [items] * 2, "hosts")
            results = wait_for_executions(sfn, arns, timeout=180)

        assert {r["status"] for r in results.values()} == {"SUCCEEDED"}
        for host in hosts:
            assert sampler.max_holders(host) == 2 and sampler.max_count(host) == 2, host
        # From the histories: per host never more than 2 inside the work, and the hosts overlapped.
        by_host: dict[str, list[Any]] = {host: [] for host in hosts}
        for arn in arns:
            events = history(sfn, arn)
            intervals = iteration_intervals(events, WORK_STATE)
            for event in events:
                details = event.get("stateEnteredEventDetails") or {}
                if details.get("name") == WORK_STATE:
                    semaphore = json.loads(details["input"])["semaphore"]
                    by_host[semaphore["lockName"]].append(intervals[semaphore["holder"]])
        assert [len(by_host[host]) for host in hosts] == [8, 8]
        assert [max_overlap(by_host[host]) for host in hosts] == [2, 2]
        assert max_overlap(by_host[hosts[0]] + by_host[hosts[1]]) > 2, "the two hosts ran side by side"
        for host in hosts:
            final = read_lock(dynamodb, table, KEY, host)
            assert (final.count, dict(final.holders)) == (0, {})
        # Every iteration's index item (its lock name, keyed by its holder id) is gone.
        assert not [
            item
            for item in _items(dynamodb, table)
            if not item[KEY]["S"].endswith("#") and "#" in item[KEY]["S"]
        ]


def test_queue_mode_grants_iterations_in_arrival_order_across_executions(
    sfn: Any, dynamodb: Any, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Three executions of 8 iterations, each started once the previous one's iterations have all joined
    (holding or queued), so their arrival order is certain: every iteration of an earlier execution is
    granted no later than any iteration of a later one (the grant decision's time, from the histories)."""
    with _deployed("queue", 2, endpoint, tmp_path_factory.mktemp("terraform")) as deployment:
        outputs = deployment.outputs
        table, lock, machine = outputs["lock_table_name"], outputs["lock_name"], outputs["state_machine_arn"]
        paths = [f"img{i}.jpg" for i in range(8)]
        arns: list[str] = []
        for joined in (8, 16, 24):
            arns += start_executions(sfn, machine, [{"paths": paths}], f"fifo{joined}")
            wait_until(
                lambda joined=joined: (
                    len(read_lock(dynamodb, table, KEY, lock).holders) + len(_queued(dynamodb, table, lock))
                    == joined
                ),
                60,
                poll=0.01,
                what=f"{joined} iterations holding or queued",
            )
        results = wait_for_executions(sfn, arns, timeout=180)
        assert {r["status"] for r in results.values()} == {"SUCCEEDED"}
        granted = [sorted(g["grantedAt"] for g in queue_grants(history(sfn, arn))) for arn in arns]

    assert [len(times) for times in granted] == [8, 8, 8], "every iteration resumed by one grant"
    for earlier, later in itertools.pairwise(granted):
        assert earlier[-1] <= later[0], "an iteration was granted before an earlier execution's"
