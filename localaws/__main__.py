"""``python -m localaws --port PORT``: run the local AWS in the foreground until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from localaws.server import LocalAws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__)
    parser.add_argument("--port", type=int, default=4566, help="TCP port to listen on (default 4566)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module whose @patch apply() is applied after the local AWS's own patches (repeatable)",
    )
    args = parser.parse_args(argv)

    aws = LocalAws(port=args.port, host=args.host, plugins=args.plugin)
    aws.start()
    # The line below is what localaws.process waits for: keep its wording.
    print(f"localaws ready on {aws.endpoint}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    aws.stop()
    print("localaws stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
