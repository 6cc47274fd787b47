"""``make demo``: the semaphore at work on a local AWS, shown live.

Starts the local AWS, applies examples/basic (limit 3, one second of work), starts 20 executions at once and
draws, several times a second, how many hold a slot, how many wait and how many are done, read from the lock
item and the executions themselves. Ends with a summary, then destroys the example and stops the local AWS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import aws  # noqa: E402
from harness.deployment import deployed  # noqa: E402
from harness.executions import read_lock, start_executions  # noqa: E402
from localaws.process import LocalAwsProcess  # noqa: E402


def bar(holding: int, limit: int) -> str:
    return "[" + "#" * holding + "." * max(limit - holding, 0) + "]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=20, help="executions to start (default 20)")
    parser.add_argument("--limit", type=int, default=3, help="concurrency limit (default 3)")
    parser.add_argument("--work-seconds", type=int, default=1, help="seconds of work each (default 1)")
    parser.add_argument(
        "--wait-seconds", type=int, default=1, help="wait between acquire attempts (default 1)"
    )
    args = parser.parse_args(argv)
    live = sys.stdout.isatty()

    with tempfile.TemporaryDirectory(prefix="sfn-semaphore-demo-") as scratch:
        print("Starting the local AWS (moto server with atomic DynamoDB writes and real executions)...")
        with LocalAwsProcess(log_path=Path(scratch) / "localaws.log") as local_aws:
            print(f"  listening on {local_aws.endpoint}")
            print("Applying examples/basic with Terraform...")
            variables = {
                "concurrency_limit": args.limit,
                "work_seconds": args.work_seconds,
                "acquire_wait_seconds": args.wait_seconds,
            }
            started = time.monotonic()
            with deployed(
                ROOT / "examples" / "basic", local_aws.endpoint, Path(scratch), variables
            ) as example:
                print(f"  applied in {time.monotonic() - started:.1f} s")
                outputs = example.outputs
                sfn = aws.client("stepfunctions", local_aws.endpoint)
                dynamodb = aws.client("dynamodb", local_aws.endpoint)
                print(
                    f"\nStarting {args.executions} executions against a limit of {args.limit} "
                    f"({args.work_seconds} s of work each):\n"
                )
                t0 = time.monotonic()
                arns = start_executions(
                    sfn, outputs["state_machine_arn"], [{}] * args.executions, prefix="demo"
                )
                max_holders = 0
                last_print = -1.0
                while True:
                    lock = read_lock(dynamodb, outputs["lock_table_name"], "LockName", outputs["lock_name"])
                    statuses = [sfn.describe_execution(executionArn=arn)["status"] for arn in arns]
                    holding = len(lock.holders)
                    max_holders = max(max_holders, holding)
                    running = statuses.count("RUNNING")
                    done = len(statuses) - running
                    elapsed = time.monotonic() - t0
                    line = (
                        f"  {elapsed:5.1f} s  holding {bar(holding, args.limit)} {holding}/{args.limit}"
                        f"   count {lock.count or 0}   waiting {running - holding:2d}"
                        f"   done {done:2d}/{len(arns)}"
                    )
                    if live:
                        print("\r" + line, end="", flush=True)
                    elif elapsed - last_print >= 1.0 or not running:
                        print(line, flush=True)
                        last_print = elapsed
                    if not running:
                        break
                    time.sleep(0.2)
                wall = time.monotonic() - t0
                if live:
                    print()
                final = read_lock(dynamodb, outputs["lock_table_name"], "LockName", outputs["lock_name"])
                succeeded = statuses.count("SUCCEEDED")
                ideal = args.executions / args.limit * args.work_seconds
                print("\nSummary")
                print(f"  most holders at once  {max_holders} (limit {args.limit})")
                print(f"  succeeded             {succeeded}/{len(arns)}")
                print(f"  wall time             {wall:.1f} s (ideal {ideal:.1f} s with no waiting overhead)")
                print(f"  slots back            count {final.count or 0}, holders left {len(final.holders)}")
                print("\nDestroying the example and stopping the local AWS...")
        ok = max_holders <= args.limit and succeeded == len(arns) and not final.holders and not final.count
        print(
            "Demo finished: "
            + ("the limit held and every slot came back." if ok else "SOMETHING WENT WRONG.")
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
