"""Start and stop the local AWS as a child process (for tests, the demo and the benchmark)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from localaws.server import free_port

ROOT = Path(__file__).resolve().parent.parent


class LocalAwsProcess:
    """``python -m localaws`` in a subprocess; a context manager that waits until it is ready."""

    def __init__(
        self,
        port: int | None = None,
        log_path: Path | None = None,
        lambda_log_dir: Path | None = None,
        plugins: Iterable[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        #: Where each Lambda function's output goes, one ``<function name>.log`` each (None: into the log).
        self.lambda_log_dir = lambda_log_dir
        #: Modules the server applies after its own patches (``--plugin``), importable from the repository.
        self.plugins = tuple(plugins)
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LocalAwsProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        if self.lambda_log_dir is not None:
            env["LOCALAWS_LAMBDA_LOG_DIR"] = str(self.lambda_log_dir)
        self._log = open(self.log_path, "w") if self.log_path else None  # noqa: SIM115
        command = [sys.executable, "-m", "localaws", "--port", str(self.port)]
        for plugin in self.plugins:
            command += ["--plugin", plugin]
        self._proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log or subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + timeout
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"localaws exited with {self._proc.wait()} before it was ready")
            if line.startswith("localaws ready"):
                return self
        self.stop()
        raise TimeoutError(f"localaws not ready after {timeout} s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log:
            self._log.close()
        self._proc = None

    def __enter__(self) -> LocalAwsProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
