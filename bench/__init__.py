"""The benchmark: queue mode, poll mode and a baseline shaped like the AWS sample, on one local AWS.

- ``bench.run``: the command (``python bench/run.py``): apply each mode's root, run the workload, report.
- ``bench.workload``: run the workload on one applied root and collect histories and lock samples.
- ``bench.metrics``: pure analysis of the histories (transitions, handoffs, inversions, makespan).
- ``bench.targets``: the issue's targets, checked against the measurements.
- ``bench.report``: the Markdown report and the JSON results.
- ``bench.plot``: one PNG per mode of holders and waiting executions over time.
"""
