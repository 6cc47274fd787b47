"""Run moto server with this project's patches, in-process (``LocalAws``) or as ``python -m localaws``."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Iterable

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAws:
    """A patched moto server on ``host:port`` in a background thread of this process.

    The server process must be the one that applies the patches, so tests start it in a subprocess
    (``python -m localaws``) rather than in the pytest process; see ``localaws.process``. ``plugins`` names
    modules to apply after the gap-closing patches, each through its ``@patch`` ``apply`` (the benchmark's
    billing meter, ``bench.server.meter``): what AWS does not do stays out of this package.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", plugins: Iterable[str] = ()) -> None:
        self.host = host
        self.port = port
        self.plugins = tuple(plugins)
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # moto's Step Functions interpreter calls other services over HTTP on MOTO_PORT: point it here.
        os.environ["MOTO_PORT"] = str(self.port)
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from localaws.patches import apply_all

        apply_all(self.plugins)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        # Must happen before any state machine exists: machines created earlier vanish after the switch.
        self._post_config({"stepfunctions": {"execute_state_machine": True}})

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _post_config(self, config: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/config",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
