"""Plugins the benchmark loads into the local AWS's server process (``LocalAwsProcess(plugins=...)``).

They are no part of what AWS does: the local AWS (``localaws/``) only closes gaps between moto and AWS.

- ``bench.server.meter``: what AWS would bill (DynamoDB request units, Lambda GB-seconds), served as section
  ``meter`` of ``GET /localaws/stats`` and read by ``bench.usage``.
- ``bench.server.speedups``: moto's own per-request and per-execution costs taken out, so they do not compete
  with the executions being measured; no answer changes.
"""

#: Every plugin, in the order the benchmark loads them.
PLUGINS = ("bench.server.meter", "bench.server.speedups")
