"""A user's own state machine that embeds the semaphore's states is looked after like the module's own
(``guarded_state_machine_arns``): a stopped execution's slot comes back through the status-change rule, and
through the sweeper when every status event is lost; in both modes.

tests/e2e/fixtures/embedded: limit 2, the user's machine "<name>-user" holds a slot for ``workSeconds``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.deployment import Deployment, deployed
from harness.executions import HolderSampler, read_lock, start_executions, unique_name, wait_until
from harness.localaws_admin import configure_events

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "embedded"
KEY = "LockName"
LIMIT = 2
#: Work that lasts until the test stops the execution.
FOREVER = 600
#: The sweeper's interval (one local minute) in the part where every status event is lost.
SWEEP_SECONDS = 3.0


@pytest.fixture(scope="module", params=["poll", "queue"])
def embedded(
    request: pytest.FixtureRequest, endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    variables = {"name": unique_name(f"guard-{request.param}"), "acquire_mode": request.param}
    with deployed(FIXTURE, endpoint, tmp_path_factory.mktemp("terraform"), variables) as deployment:
        yield deployment


def _queued(dynamodb: Any, table: str, lock: str) -> list[str]:
    item = dynamodb.get_item(TableName=table, Key={KEY: {"S": lock}}, ConsistentRead=True).get("Item", {})
    return [entry["M"]["id"]["S"] for entry in item.get("queue", {}).get("L", [])]


def test_a_stopped_execution_of_a_user_machine_gives_its_slot_back_by_event_and_by_sweep(
    embedded: Deployment, endpoint: str, sfn: Any, dynamodb: Any, events_config: None
) -> None:
    table, lock = embedded.outputs["lock_table_name"], embedded.outputs["lock_name"]
    machine = embedded.outputs["user_state_machine_arn"]
    configure_events(endpoint, drop=0.0, minute_seconds=3600)  # the sweeper held off: only events act
    with HolderSampler(endpoint, table, [lock]) as sampler:
        arns = start_executions(sfn, machine, [{"workSeconds": FOREVER}] * 4, "guarded")
        wait_until(lambda: len(read_lock(dynamodb, table, KEY, lock).holders) == LIMIT, 60, what="2 holders")
        first_holders = set(read_lock(dynamodb, table, KEY, lock).holders)
        assert first_holders <= set(arns)
        waiting = [arn for arn in arns if arn not in first_holders]

        # By the status-change event: the stopped holder's slot goes to a waiting execution.
        stopped = sorted(first_holders)[0]
        sfn.stop_execution(executionArn=stopped)
        wait_until(
            lambda: (
                (held := read_lock(dynamodb, table, KEY, lock).holders).keys().isdisjoint({stopped})
                and len(held) == LIMIT
            ),
            30,
            what="the stopped holder's slot taken by a waiter",
        )
        second_holders = set(read_lock(dynamodb, table, KEY, lock).holders)
        assert len(second_holders & set(waiting)) == 1

        # With every status event lost, the sweeper alone gives the next stopped holder's slot back.
        configure_events(endpoint, drop=1.0, minute_seconds=SWEEP_SECONDS)
        stopped_unseen = sorted(second_holders)[0]
        sfn.stop_execution(executionArn=stopped_unseen)
        wait_until(
            lambda: stopped_unseen not in read_lock(dynamodb, table, KEY, lock).holders,
            6 * SWEEP_SECONDS + 30,
            what="the sweeper released the holder whose events were lost",
        )
        wait_until(
            lambda: len(read_lock(dynamodb, table, KEY, lock).holders) == LIMIT, 30, what="slot re-taken"
        )
        if embedded.variables.get("acquire_mode") == "queue":
            assert _queued(dynamodb, table, lock) == []

        for arn in arns:
            if arn not in (stopped, stopped_unseen):
                sfn.stop_execution(executionArn=arn)
        wait_until(
            lambda: read_lock(dynamodb, table, KEY, lock).holders == {},
            6 * SWEEP_SECONDS + 30,
            what="every slot back",
        )
    assert max(s.locks[lock].count or 0 for s in sampler.samples) <= LIMIT
    assert max(len(s.locks[lock].holders) for s in sampler.samples) <= LIMIT
    assert read_lock(dynamodb, table, KEY, lock).count == 0
