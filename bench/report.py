"""The benchmark's report: a Markdown table (stdout and results.md) and the same numbers as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.summary import ModeSummary, Params
from bench.targets import TargetResult

RESULTS_MD = "results.md"
RESULTS_JSON = "results.json"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f} ms"


def _dynamodb(summary: ModeSummary) -> str:
    text = (
        f"{summary.write_units_per_execution:.1f} WRU, {summary.read_units_per_execution:.1f} RRU"
        f" ({summary.dynamodb_requests_per_execution:.1f})"
    )
    if summary.unmetered_requests:
        text += f", {summary.unmetered_requests} requests not metered"
    return text


def _start_spacing(summary: ModeSummary) -> str:
    text = f"{_ms(summary.work_start_gap_min)} / {_ms(summary.work_start_gap_p5)}"
    if summary.grant_interval is None:
        return text + " (no rate)"
    return text + f" (1/tps {_ms(summary.grant_interval)})"


#: The table's rows: a label and how to show one mode's value.
ROWS: list[tuple[str, Callable[[ModeSummary], str]]] = [
    ("executions succeeded", lambda s: f"{s.succeeded}/{s.executions}"),
    ("makespan", lambda s: f"{s.makespan:.1f} s"),
    ("makespan / ideal", lambda s: f"{s.makespan_ratio:.2f}x (ideal {s.ideal_makespan:.1f} s)"),
    ("handoffs measured", lambda s: str(s.handoffs)),
    ("handoff p50", lambda s: _ms(s.handoff_p50)),
    ("handoff p95", lambda s: _ms(s.handoff_p95)),
    ("handoff max", lambda s: _ms(s.handoff_max)),
    ("work starts: min / p5 spacing", _start_spacing),
    ("idle slot time while executions waited", lambda s: f"{s.idle_slot_seconds:.1f} slot-s"),
    (
        "billed transitions / execution: semaphore",
        lambda s: f"{s.semaphore_transitions_mean:.1f} (max {s.semaphore_transitions_max})",
    ),
    ("billed transitions / execution: work", lambda s: f"{s.work_transitions_mean:.1f}"),
    ("billed transitions / execution: total", lambda s: f"{s.transitions_mean:.1f}"),
    (
        "cost per 1,000 executions: transitions (semaphore's share)",
        lambda s: f"${s.cost_per_1000:.3f} (${s.semaphore_cost_per_1000:.3f})",
    ),
    ("DynamoDB / execution: write, read request units (requests)", lambda s: _dynamodb(s)),
    (
        "Lambda / execution: invocations (GB-s, durations as run here)",
        lambda s: f"{s.lambda_invocations_per_execution:.1f} ({s.lambda_gb_seconds_per_execution:.4f} GB-s)",
    ),
    (
        "cost per 1,000 executions: DynamoDB + Lambda",
        lambda s: f"${s.dynamodb_cost_per_1000:.4f} + ${s.lambda_cost_per_1000:.4f}",
    ),
    ("cost per 1,000 executions: everything billed", lambda s: f"${s.total_cost_per_1000:.3f}"),
    ("FIFO inversions (by arrival at the acquire state)", lambda s: str(s.inversions)),
    ("FIFO inversions by start order", lambda s: str(s.start_order_inversions)),
    ("max holders: lock item (sampled)", lambda s: f"{s.max_holders_sampled} (count {s.max_count_sampled})"),
    ("max holders: in work (histories)", lambda s: str(s.max_in_work)),
    ("machine load, 1-min average (start / end)", lambda s: f"{s.load_start:.1f} / {s.load_end:.1f}"),
]


def table(summaries: Sequence[ModeSummary]) -> str:
    """Metrics as rows, modes as columns."""
    lines = [
        "| | " + " | ".join(s.mode for s in summaries) + " |",
        "|---|" + "---|" * len(summaries),
    ]
    for label, show in ROWS:
        lines.append(f"| {label} | " + " | ".join(show(s) for s in summaries) + " |")
    return "\n".join(lines)


def target_table(results: Sequence[TargetResult]) -> str:
    lines = ["| mode | target | measured | result |", "|---|---|---|---|"]
    lines += [f"| {r.mode} | {r.target} | {r.measured} | **{r.verdict}** |" for r in results]
    return "\n".join(lines)


def parameters_line(params: Params) -> str:
    return (
        f"{params.executions} executions, limit {params.limit}, weight {params.weight}, "
        f"{params.work_seconds} s of work each, arrivals {params.stagger_ms} ms apart; "
        f"poll mode waits {params.poll_wait_seconds} s between attempts, "
        f"the baseline {params.baseline_wait_seconds} s; modes run one after another on one local AWS "
        f"in the order {', '.join(params.modes)}, each after {params.warmup} unmeasured warm-up executions"
        + (
            ""
            if params.warmup_tps_limit is None
            else f"; poll and queue mode under a warm-up rate of {params.warmup_tps_limit:g} grants/s"
        )
    )


def markdown(
    summaries: Sequence[ModeSummary],
    params: Params,
    validity: Sequence[TargetResult],
    targets: Sequence[TargetResult],
    date: str,
    plots: Mapping[str, str],
) -> str:
    """The whole report, as written to results.md."""
    parts = [
        "# Benchmark: queue mode, poll mode and the AWS-sample baseline",
        "",
        f"Run {date} with `python bench/run.py` on the local AWS (moto server with this repository's "
        "patches).",
        "",
        f"Workload: {parameters_line(params)}.",
        "",
        table(summaries),
        "",
        "## Targets (issue 6)",
        "",
        target_table(targets) if targets else "No mode with targets was run.",
        "",
        "## Validity (every mode)",
        "",
        target_table(validity),
        "",
        "## Holders and waiting executions over time",
        "",
    ]
    parts += [f"![{mode}]({path})" for mode, path in plots.items()]
    parts += [
        "",
        "How each number is measured: see the Benchmark section of the README and `bench/metrics.py`.",
        "",
    ]
    return "\n".join(parts)


def write(
    directory: Path,
    text: str,
    summaries: Sequence[ModeSummary],
    params: Params,
    validity: Sequence[TargetResult],
    targets: Sequence[TargetResult],
    date: str,
) -> None:
    """results.md and results.json under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / RESULTS_MD).write_text(text)
    data = {
        "date": date,
        "parameters": params.as_dict(),
        "modes": {s.mode: s.as_dict() for s in summaries},
        "targets": [r.__dict__ for r in targets],
        "validity": [r.__dict__ for r in validity],
    }
    (directory / RESULTS_JSON).write_text(json.dumps(data, indent=2) + "\n")
