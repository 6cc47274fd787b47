"""Make DynamoDB requests atomic.

moto checks a ConditionExpression and then writes without a lock, so concurrent conditional increments
overshoot (seen: four holders under a limit of three). AWS makes every single-item write atomic. Running
each DynamoDB request under one process-wide lock gives the same guarantee; the lock is held only for the
in-memory operation, so throughput stays far above what the tests need.
"""

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from localaws.patches import patch

_LOCK = threading.RLock()


@patch
def apply() -> None:
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with _LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
