"""``bench/run.py`` end to end, tiny workload: the report has its parts, and the limit held in every mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import ROWS

EXECUTIONS = 8
LIMIT = 2
MODES = ("queue", "poll", "baseline")


@pytest.mark.e2e
def test_a_tiny_benchmark_reports_every_mode_and_keeps_the_limit(repo_root: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(repo_root / "bench" / "run.py"),
        f"--executions={EXECUTIONS}",
        f"--limit={LIMIT}",
        "--work-seconds=1",
        f"--modes={','.join(MODES)}",
        f"--results-dir={tmp_path}",
        "--timeout=150",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    # The Markdown table: one column per mode, every metric a row, on stdout and in results.md.
    header = "| | " + " | ".join(MODES) + " |"
    markdown = (tmp_path / "results.md").read_text()
    for text in (result.stdout, markdown):
        assert header in text
        for label, _ in ROWS:
            assert f"| {label} |" in text
    assert "makespan <= 1.3x ideal" in result.stdout
    for mode in MODES:
        png = tmp_path / f"{mode}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
        assert f"]({mode}.png)" in markdown

    data = json.loads((tmp_path / "results.json").read_text())
    assert data["parameters"]["executions"] == EXECUTIONS
    assert list(data["modes"]) == list(MODES)
    for mode, summary in data["modes"].items():
        assert summary["succeeded"] == EXECUTIONS, mode
        # The limit held, measured both ways, and was reached: otherwise the run proves nothing.
        assert summary["max_holders_sampled"] <= LIMIT, mode
        assert summary["max_count_sampled"] <= LIMIT, mode
        assert summary["max_in_work"] == LIMIT, mode
        assert summary["lock_samples"] > 20, f"{mode}: the sampler must have watched the run"
        assert summary["handoffs"] > 0, mode
        assert summary["makespan"] >= summary["ideal_makespan"], mode
        # Every execution enters at least the acquire, the work's Parallel and the release.
        assert summary["semaphore_transitions_mean"] >= 3, mode
        assert summary["work_transitions_mean"] == 1, mode
        # Every execution writes the lock item at least twice (acquire, release); the meter saw them.
        assert summary["write_units_per_execution"] >= 2, mode
        assert summary["total_cost_per_1000"] > summary["cost_per_1000"], mode
    # Queue mode calls its acquire and release Lambdas once each per execution; the baseline has none.
    assert data["modes"]["queue"]["lambda_invocations_per_execution"] >= 2
    assert data["modes"]["baseline"]["lambda_invocations_per_execution"] == 0
