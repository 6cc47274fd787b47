"""``python bench/run.py``: queue mode, poll mode and the AWS-sample baseline under the same workload.

Starts one local AWS, then for each mode in turn applies its Terraform root (bench/roots/<mode>/), starts the
executions (staggered so that arrival order is defined), waits for them while sampling the lock item, reads
every history and destroys the root. The modes run one after another, not side by side: on a 2-core machine
three runs at once would compete for the same CPU and the same emulator, and each mode's numbers would depend
on the others. Each mode first runs an unmeasured warm-up batch (--warmup, default 2 x limit executions), so
that queue mode's Lambdas run in warm execution environments, as on a busy semaphore on AWS. With
--warmup-tps-limit, poll and queue mode also run under that warm-up rate (poll mode then acquires through the
acquirer Lambda), and the report's work-start spacing row shows how it held; --warmup 0 measures the burst of
cold execution environments where a late write matters most.

Prints a Markdown table and the issue's targets (PASS/FAIL), and writes results.md, results.json and one PNG
per mode under --results-dir (default bench/results/).

Exit status: 0 when every execution succeeded and no mode exceeded the limit; 1 otherwise, or with --check
when an issue target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report, targets  # noqa: E402
from bench.plot import plot_mode  # noqa: E402
from bench.server import PLUGINS  # noqa: E402
from bench.summary import MODES, ModeSummary, Params, summarize  # noqa: E402
from bench.workload import run_workload  # noqa: E402
from harness.deployment import deployed  # noqa: E402
from harness.executions import unique_name  # noqa: E402
from harness.terraform import VarValue  # noqa: E402
from localaws.process import LocalAwsProcess  # noqa: E402

ROOTS = ROOT / "bench" / "roots"
DEFAULT_RESULTS = ROOT / "bench" / "results"


def _modes(text: str) -> tuple[str, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"modes must be distinct names from {', '.join(MODES)}")
    return modes


def _rate(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a number above 0")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=_positive, default=40, help="executions per mode (default 40)")
    parser.add_argument("--limit", type=_positive, default=4, help="concurrency limit (default 4)")
    parser.add_argument("--weight", type=_positive, default=1, help="weight of every execution (default 1)")
    parser.add_argument("--work-seconds", type=_positive, default=1, help="seconds of work each (default 1)")
    parser.add_argument(
        "--stagger-ms", type=int, default=30, help="milliseconds between two starts (default 30)"
    )
    parser.add_argument(
        "--modes",
        type=_modes,
        default=MODES,
        help="comma-separated, run in this order (default queue,poll,baseline)",
    )
    parser.add_argument(
        "--poll-wait-seconds", type=_positive, default=1, help="poll mode's wait between attempts (default 1)"
    )
    parser.add_argument(
        "--baseline-wait-seconds",
        type=_positive,
        default=5,
        help="the baseline's wait loop (default 5, as in the sample)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured executions each mode runs first, to start warm Lambda environments "
        "(default 2 x limit; 0 measures from cold)",
    )
    parser.add_argument(
        "--warmup-tps-limit",
        type=_rate,
        default=None,
        help="warm-up rate for poll and queue mode, grants per second (default none; the baseline has none)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds each mode may run (default max(120, 30 x ideal))"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=DEFAULT_RESULTS, help="where results go (default bench/results)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when an issue target is missed")
    args = parser.parse_args(argv)
    if args.warmup is not None and args.warmup < 0:
        parser.error("--warmup must be at least 0")
    if args.weight > args.limit:
        parser.error("--weight must be at most --limit")
    return args


def mode_variables(mode: str, params: Params) -> dict[str, VarValue]:
    """The Terraform variables of a mode's root."""
    variables: dict[str, VarValue] = {
        "name": unique_name(f"bench-{mode}"),
        "concurrency_limit": params.limit,
        "weight": params.weight,
        "work_seconds": params.work_seconds,
    }
    if mode != "baseline" and params.warmup_tps_limit is not None:
        variables["warmup_tps_limit"] = params.warmup_tps_limit
    if mode == "poll":
        variables["acquire_wait_seconds"] = params.poll_wait_seconds
    elif mode == "baseline":
        variables["acquire_wait_seconds"] = params.baseline_wait_seconds
    return variables


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    params = Params(
        executions=args.executions,
        limit=args.limit,
        weight=args.weight,
        work_seconds=args.work_seconds,
        stagger_ms=args.stagger_ms,
        poll_wait_seconds=args.poll_wait_seconds,
        baseline_wait_seconds=args.baseline_wait_seconds,
        warmup=2 * args.limit if args.warmup is None else args.warmup,
        modes=args.modes,
        warmup_tps_limit=args.warmup_tps_limit,
    )
    timeout = args.timeout or max(120.0, 30 * params.ideal_makespan)
    results_dir: Path = args.results_dir.resolve()
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    summaries: dict[str, ModeSummary] = {}
    plots: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="sfn-semaphore-bench-") as scratch:
        log_path = Path(scratch) / "localaws.log"
        log(f"Starting the local AWS (log: {log_path}) ...")
        with LocalAwsProcess(log_path=log_path, plugins=PLUGINS) as local_aws:
            for mode in params.modes:
                log(f"[{mode}] applying bench/roots/{mode} ...")
                started = time.monotonic()
                with deployed(
                    ROOTS / mode, local_aws.endpoint, Path(scratch), mode_variables(mode, params)
                ) as root:
                    applied = time.monotonic() - started
                    log(f"[{mode}] applied in {applied:.1f} s; running {params.executions} executions ...")
                    run = run_workload(
                        mode,
                        local_aws.endpoint,
                        root.outputs,
                        params.executions,
                        params.stagger_ms / 1000,
                        timeout,
                        warmup=params.warmup,
                    )
                    log(f"[{mode}] done; destroying ...")
                summaries[mode] = summarize(run, params)
                plot_path = results_dir / f"{mode}.png"
                plot_mode(run, summaries[mode], params, plot_path)
                plots[mode] = plot_path.name
                log(f"[{mode}] makespan {summaries[mode].makespan:.1f} s, plot {plot_path}")

    validity = targets.validity(summaries, params)
    issue_targets = targets.issue_targets(summaries, params)
    ordered = [summaries[mode] for mode in params.modes]
    text = report.markdown(ordered, params, validity, issue_targets, date, plots)
    report.write(results_dir, text, ordered, params, validity, issue_targets, date)

    print(f"Workload: {report.parameters_line(params)}.\n")
    print(report.table(ordered))
    print("\nTargets (issue 6):")
    for result in issue_targets:
        print(f"  {result.verdict:4}  {result.mode:8}  {result.target}: {result.measured}")
    print("\nValidity:")
    for result in validity:
        print(f"  {result.verdict:4}  {result.mode:8}  {result.target}: {result.measured}")
    print(
        f"\nWritten: {results_dir / report.RESULTS_MD}, {report.RESULTS_JSON} and {', '.join(plots.values())}"
    )

    if any(r.verdict == targets.FAIL for r in validity):
        return 1
    if args.check and any(r.verdict == targets.FAIL for r in issue_targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
