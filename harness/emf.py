"""The CloudWatch Embedded Metric Format documents among a Lambda function's output lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def documents(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Every line that is an EMF document (a JSON object with ``_aws``), parsed, in order."""
    return [json.loads(line) for line in lines if line.startswith("{") and '"_aws"' in line]
