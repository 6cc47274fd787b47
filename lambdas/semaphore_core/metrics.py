"""CloudWatch metrics as log lines in the Embedded Metric Format (EMF): no API call, no extra permission.

A Lambda function's standard output goes to its log group as one log event per line; CloudWatch Logs turns
each line that is an EMF document into metric data points. So a function reports its counts by printing one
JSON document per invocation, beside its usual log line. Off unless ``METRICS_NAMESPACE`` is set.

Settings (the function's environment):

- ``METRICS_NAMESPACE``: the CloudWatch namespace; empty or missing turns metrics off.
- ``METRICS_SEMAPHORE``: the value of the one dimension, ``Semaphore`` (the module's ``name``). One dimension
  for every lock keeps the number of metrics (each billed per month) fixed however many lock names there are;
  the lock name stays in the document as a property, for Logs Insights.

Every metric is a count (unit ``Count``); a function reports all of its own metrics on every invocation,
zeros included, so that sums and averages over a period are right.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Callable

from semaphore_core.clock import Clock, system_clock_ms

NAMESPACE_ENV = "METRICS_NAMESPACE"
SEMAPHORE_ENV = "METRICS_SEMAPHORE"
DIMENSION = "Semaphore"
#: EMF takes at most 100 metrics per document.
MAX_METRICS = 100


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emf_document(
    namespace: str,
    semaphore: str,
    counts: Mapping[str, int],
    timestamp_ms: int,
    properties: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One EMF document: ``counts`` as metrics of ``namespace`` with the dimension Semaphore=``semaphore``;
    ``properties`` are logged beside them, not turned into metrics."""
    if not counts or len(counts) > MAX_METRICS:
        raise ValueError(f"an EMF document holds 1 to {MAX_METRICS} metrics, not {len(counts)}")
    clashes = set(counts) & ({DIMENSION, "_aws"} | set(properties or {}))
    if clashes:
        raise ValueError(f"metric names clash with other fields: {sorted(clashes)}")
    return {
        **(properties or {}),
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in counts],
                }
            ],
        },
        DIMENSION: semaphore,
        **counts,
    }


def emit(
    counts: Mapping[str, int],
    properties: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock = system_clock_ms,
    write: Callable[[str], None] = _write_line,
) -> dict[str, object] | None:
    """Print ``counts`` as one EMF line if metrics are on (see the module doc); the document, or None."""
    env = os.environ if environ is None else environ
    namespace = env.get(NAMESPACE_ENV, "")
    if not namespace:
        return None
    document = emf_document(namespace, env.get(SEMAPHORE_ENV, ""), counts, clock(), properties)
    write(json.dumps(document, separators=(",", ":")))
    return document
