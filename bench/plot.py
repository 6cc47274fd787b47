"""One PNG per mode: holders and waiting executions over time (matplotlib, Agg backend: no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from bench import metrics
from bench.summary import ModeSummary, Params
from bench.workload import ModeRun


def plot_mode(run: ModeRun, summary: ModeSummary, params: Params, path: Path) -> None:
    """Executions in the work (histories), holders on the lock item (sampled) and executions waiting."""
    origin = min(r.started for r in run.records)
    in_work = metrics.in_work_over_time(run.records, origin)
    waiting = metrics.waiting_over_time(run.records, origin)
    end = summary.makespan

    figure, (holders, queue) = plt.subplots(
        2, 1, figsize=(12, 6), dpi=100, sharex=True, gridspec_kw={"height_ratios": [1, 1]}
    )
    holders.step(
        [*in_work.times, end],
        [*in_work.values, 0],
        where="post",
        color="tab:blue",
        label="in work (histories)",
    )
    if run.samples:
        holders.plot(
            [s.time - origin for s in run.samples],
            [s.holders for s in run.samples],
            linestyle="none",
            marker=".",
            markersize=3,
            color="tab:green",
            label="holders on the lock item (sampled)",
        )
    holders.axhline(
        params.capacity, color="tab:red", linestyle="--", linewidth=1, label=f"limit ({params.capacity})"
    )
    holders.set_ylim(0, params.capacity + 1.5)
    holders.set_ylabel("holders")
    queue.step([*waiting.times, end], [*waiting.values, 0], where="post", color="tab:orange", label="waiting")
    queue.set_ylim(0, params.executions + 1)
    queue.set_ylabel("waiting executions")
    queue.set_xlabel("seconds since the first execution started")
    for axes in (holders, queue):
        axes.axvline(
            summary.ideal_makespan,
            color="grey",
            linestyle=":",
            linewidth=1,
            label=f"ideal makespan ({summary.ideal_makespan:.0f} s)",
        )
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    queue.set_xlim(0, max(end, summary.ideal_makespan) * 1.02)
    p50 = "-" if summary.handoff_p50 is None else f"{summary.handoff_p50 * 1000:.0f} ms"
    holders.set_title(
        f"{run.mode}: {params.executions} executions, limit {params.limit}, {params.work_seconds} s of work; "
        f"makespan {summary.makespan:.1f} s ({summary.makespan_ratio:.2f}x ideal), handoff p50 {p50}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
