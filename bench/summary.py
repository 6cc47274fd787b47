"""The benchmark's parameters, and one mode's run summed up into the numbers the report shows."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from bench import metrics
from bench.workload import ModeRun

MODES = ("queue", "poll", "baseline")


@dataclass(frozen=True)
class Params:
    """The workload, the same for every mode."""

    executions: int
    limit: int
    weight: int
    work_seconds: int
    stagger_ms: int
    poll_wait_seconds: int
    baseline_wait_seconds: int
    warmup: int
    modes: tuple[str, ...]
    #: The warm-up rate given to the poll and queue modes (grants per second), or None for none.
    warmup_tps_limit: float | None = None

    @property
    def capacity(self) -> int:
        """How many executions fit inside the work at once."""
        return self.limit // self.weight

    def grant_interval(self, mode: str) -> float | None:
        """Seconds between two grants under the warm-up rate in ``mode`` (the baseline has none)."""
        if self.warmup_tps_limit is None or mode == "baseline":
            return None
        return 1 / self.warmup_tps_limit

    @property
    def ideal_makespan(self) -> float:
        return metrics.ideal_makespan([self.weight] * self.executions, self.limit, self.work_seconds)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "modes": list(self.modes)}


@dataclass(frozen=True)
class ModeSummary:
    """One mode's measurements. Times in seconds; None where nothing was measured."""

    mode: str
    executions: int
    succeeded: int
    makespan: float
    ideal_makespan: float
    handoffs: int
    handoff_p50: float | None
    handoff_p95: float | None
    handoff_max: float | None
    idle_slot_seconds: float
    semaphore_transitions_mean: float
    semaphore_transitions_max: int
    work_transitions_mean: float
    transitions_mean: float
    cost_per_1000: float
    semaphore_cost_per_1000: float
    #: By arrival at the acquire state (the target), and by the order the executions were started in.
    inversions: int
    start_order_inversions: int
    max_holders_sampled: int
    max_count_sampled: int
    max_in_work: int
    lock_samples: int
    load_start: float
    load_end: float
    #: Between successive work starts (``metrics.work_start_gaps``), and 1/tps where a warm-up rate applies.
    work_start_gap_min: float | None = None
    work_start_gap_p5: float | None = None
    grant_interval: float | None = None
    #: DynamoDB request units and requests, and Lambda invocations and GB-seconds, per execution (the local
    #: AWS's billing meter; Lambda durations are this machine's); ``unmetered`` counts requests whose units
    #: the meter does not work out (none of the module's requests per execution are of that kind).
    write_units_per_execution: float = 0.0
    read_units_per_execution: float = 0.0
    dynamodb_requests_per_execution: float = 0.0
    unmetered_requests: int = 0
    lambda_invocations_per_execution: float = 0.0
    lambda_gb_seconds_per_execution: float = 0.0
    dynamodb_cost_per_1000: float = 0.0
    lambda_cost_per_1000: float = 0.0

    @property
    def total_cost_per_1000(self) -> float:
        """Everything billed: transitions, DynamoDB and Lambda."""
        return self.cost_per_1000 + self.dynamodb_cost_per_1000 + self.lambda_cost_per_1000

    @property
    def makespan_ratio(self) -> float:
        return self.makespan / self.ideal_makespan

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "makespan_ratio": self.makespan_ratio,
            "total_cost_per_1000": self.total_cost_per_1000,
        }


def summarize(run: ModeRun, params: Params) -> ModeSummary:
    """The numbers of one mode's run."""
    records = run.records
    latencies = metrics.handoff_latencies(records, params.capacity)
    semaphore = [r.transitions.semaphore for r in records]
    work = [r.transitions.work for r in records]
    total_mean = statistics.fmean(r.transitions.total for r in records)
    semaphore_mean = statistics.fmean(semaphore)
    usage = run.usage
    count = len(records)
    start_gaps = metrics.work_start_gaps(records)
    return ModeSummary(
        mode=run.mode,
        executions=len(records),
        succeeded=sum(1 for r in records if r.status == "SUCCEEDED"),
        makespan=metrics.makespan(records),
        ideal_makespan=params.ideal_makespan,
        handoffs=len(latencies),
        handoff_p50=metrics.percentile(latencies, 50),
        handoff_p95=metrics.percentile(latencies, 95),
        handoff_max=max(latencies, default=None),
        idle_slot_seconds=metrics.idle_slot_seconds(records, params.capacity),
        semaphore_transitions_mean=semaphore_mean,
        semaphore_transitions_max=max(semaphore),
        work_transitions_mean=statistics.fmean(work),
        transitions_mean=total_mean,
        cost_per_1000=total_mean * 1000 * metrics.PRICE_PER_TRANSITION,
        semaphore_cost_per_1000=semaphore_mean * 1000 * metrics.PRICE_PER_TRANSITION,
        inversions=metrics.fifo_inversions(records),
        start_order_inversions=metrics.fifo_inversions(records, by_start_order=True),
        max_holders_sampled=max((s.holders for s in run.samples), default=0),
        max_count_sampled=max((s.count for s in run.samples), default=0),
        max_in_work=metrics.most_in_work(records),
        lock_samples=len(run.samples),
        load_start=run.load[0],
        load_end=run.load[1],
        work_start_gap_min=min(start_gaps, default=None),
        work_start_gap_p5=metrics.percentile(start_gaps, 5),
        grant_interval=params.grant_interval(run.mode),
        write_units_per_execution=usage.write_units / count,
        read_units_per_execution=usage.read_units / count,
        dynamodb_requests_per_execution=sum(usage.requests.values()) / count,
        unmetered_requests=sum(usage.unmetered.values()),
        lambda_invocations_per_execution=usage.lambda_invocations / count,
        lambda_gb_seconds_per_execution=usage.lambda_gb_seconds / count,
        dynamodb_cost_per_1000=usage.dynamodb_cost / count * 1000,
        lambda_cost_per_1000=usage.lambda_cost / count * 1000,
    )
