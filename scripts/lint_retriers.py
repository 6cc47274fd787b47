"""``python scripts/lint_retriers.py [DIR]``: every Lambda task the module renders retries transient errors.

A Lambda call that failed in the service, was throttled or timed out must never fail a user's execution
when calling again is safe, and every Lambda the module's states call is safe to call again. So every Task
state that invokes a Lambda function (``arn:aws:states:::lambda:invoke`` and its ``.waitForTaskToken``) in
every definition that scripts/render.py wrote (default ``.work/rendered``) must have retriers that name each
of AWS's recommended transient Lambda errors and ``Sandbox.Timedout``. The benchmark's baseline, a copy of
the AWS sample as published, is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RENDERED = ROOT / ".work" / "rendered"
#: Roots that are not the module's (render.py ids).
NOT_OURS = ("bench-baseline",)
#: AWS's recommended retrier for Lambda tasks ("Handle Lambda service exceptions"), and a function timeout.
REQUIRED = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Sandbox.Timedout",
)


def lambda_tasks(states: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, state) of every Task that invokes a Lambda function, in nested branches and Map iterations."""
    for name, state in states.items():
        where = f"{path}/{name}"
        if state.get("Type") == "Task" and str(state.get("Resource", "")).startswith(
            "arn:aws:states:::lambda:invoke"
        ):
            yield where, state
        for branch in state.get("Branches", []):
            yield from lambda_tasks(branch["States"], where)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from lambda_tasks(state[key]["States"], where)


def missing_retries(definition: Mapping[str, Any]) -> list[str]:
    """One line per Lambda task whose retriers leave out a required error name."""
    problems = []
    for where, state in lambda_tasks(definition["States"]):
        retried = {name for retrier in state.get("Retry", []) for name in retrier.get("ErrorEquals", [])}
        if "States.ALL" in retried:
            continue
        missing = [name for name in REQUIRED if name not in retried]
        if missing:
            problems.append(f"{where}: not retried: {', '.join(missing)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rendered", nargs="?", type=Path, default=RENDERED, help="default .work/rendered")
    args = parser.parse_args(argv)
    files = [
        path
        for path in sorted(args.rendered.glob("*/state-machines/*.json"))
        if path.parent.parent.name not in NOT_OURS
    ]
    if not files:
        print(
            f"lint_retriers: no definitions under {args.rendered}: run scripts/render.py first",
            file=sys.stderr,
        )
        return 1
    failed = 0
    tasks = 0
    for path in files:
        definition = json.loads(path.read_text())
        tasks += sum(1 for _ in lambda_tasks(definition["States"]))
        for problem in missing_retries(definition):
            print(f"FAIL  {path.relative_to(args.rendered)}{problem}")
            failed += 1
    print(f"retriers: {tasks} Lambda tasks in {len(files)} definitions, {failed} missing a retry")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
