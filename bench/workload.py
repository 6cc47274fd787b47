"""Run the benchmark's workload on one applied root and collect what the analysis needs.

Starts the executions in arrival order, ``stagger`` seconds apart (on a schedule, so the time each
StartExecution call takes does not add to the spacing), while a ``HolderSampler`` reads the lock item every
50 ms; waits for all of them (one ``ListExecutions`` per half second, so waiting adds almost no load to the
local AWS); then reads every history. An optional warm-up batch runs first, unmeasured."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from bench.metrics import ExecutionRecord, execution_record
from bench.usage import Usage, reading, usage_between
from harness import aws
from harness.executions import HolderSampler, history, unique_name

#: Seconds between two reads of the lock item.
SAMPLE_INTERVAL = 0.05


class WorkloadTimeoutError(TimeoutError):
    """Executions were still running when the mode's time was up."""


@dataclass(frozen=True)
class LockSample:
    """One read of the lock item: when, how many holders, and their total weight (``lockCount``)."""

    time: float
    holders: int
    count: int


@dataclass(frozen=True)
class ModeRun:
    """Everything one mode's run produced."""

    mode: str
    records: list[ExecutionRecord]
    samples: list[LockSample]
    #: The machine's 1-minute load average when the measured run started and when it ended (2 cores here:
    #: above 2, something else competed for the CPU).
    load: tuple[float, float] = (0.0, 0.0)
    #: DynamoDB and Lambda usage of the measured executions (the local AWS's billing meter).
    usage: Usage = field(default_factory=Usage)


def _running(sfn: Any, state_machine_arn: str) -> int:
    """How many executions are running. A page token goes stale when executions end between two pages
    (moto answers InvalidToken), so pages are as large as the API allows and a stale token starts over."""
    for _ in range(5):
        count = 0
        kwargs: dict[str, Any] = {
            "stateMachineArn": state_machine_arn,
            "statusFilter": "RUNNING",
            "maxResults": 1000,
        }
        try:
            while True:
                page = sfn.list_executions(**kwargs)
                count += len(page["executions"])
                if not page.get("nextToken"):
                    return count
                kwargs["nextToken"] = page["nextToken"]
        except sfn.exceptions.InvalidToken:
            continue
    raise RuntimeError("ListExecutions kept answering InvalidToken")


def _start_on_schedule(
    sfn: Any, state_machine_arn: str, executions: int, mode: str, stagger: float
) -> list[str]:
    """Start execution ``i`` at ``i x stagger`` seconds after the first (or as soon after as the previous
    StartExecution call returns), so arrivals are ``stagger`` apart whatever each call takes."""
    batch = unique_name(f"bench-{mode}")
    first = time.monotonic()
    arns = []
    for index in range(executions):
        delay = first + index * stagger - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=f"{batch}-{index:04d}", input="{}"
        )
        arns.append(response["executionArn"])
    return arns


def _wait_until_done(sfn: Any, state_machine_arn: str, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (running := _running(sfn, state_machine_arn)) > 0:
        if time.monotonic() >= deadline:
            raise WorkloadTimeoutError(f"{what}: {running} execution(s) still running after {timeout} s")
        time.sleep(0.5)


def run_workload(
    mode: str,
    endpoint: str,
    outputs: dict[str, Any],
    executions: int,
    stagger: float,
    timeout: float,
    warmup: int = 0,
) -> ModeRun:
    """Start ``executions`` executions of the root's state machine and wait for them (``timeout`` seconds
    from the first start); raises ``WorkloadTimeoutError`` if some are still running then.

    ``warmup`` executions run first, with the same spacing, and are not measured: they start the local
    AWS's Lambda execution environments (queue mode) and warm its paths, so that the measured run sees warm
    environments, as a busy semaphore on AWS does.
    """
    sfn = aws.client("stepfunctions", endpoint)
    state_machine_arn = outputs["state_machine_arn"]
    lock = outputs["lock_name"]
    if warmup:
        _start_on_schedule(sfn, state_machine_arn, warmup, f"{mode}-warmup", stagger)
        _wait_until_done(sfn, state_machine_arn, f"{mode} warm-up", timeout)
    load_start = os.getloadavg()[0]
    meter_before = reading(endpoint)
    with HolderSampler(endpoint, outputs["lock_table_name"], [lock], interval=SAMPLE_INTERVAL) as sampler:
        arns = _start_on_schedule(sfn, state_machine_arn, executions, mode, stagger)
        _wait_until_done(sfn, state_machine_arn, mode, timeout)
    load = (load_start, os.getloadavg()[0])
    usage = usage_between(
        meter_before, reading(endpoint), outputs["lock_table_name"], outputs["function_names"]
    )
    records = [execution_record(index, arn, history(sfn, arn)) for index, arn in enumerate(arns)]
    samples = [
        LockSample(
            time=sample.time,
            holders=len(sample.locks[lock].holders),
            count=sample.locks[lock].count or 0,
        )
        for sample in sampler.samples
    ]
    return ModeRun(mode=mode, records=records, samples=samples, load=load, usage=usage)
