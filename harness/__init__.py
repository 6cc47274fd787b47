"""Drive the module end to end against the local AWS: shared by the tests, the demo and the benchmark.

- ``harness.terraform``: run Terraform (init, plan, apply, destroy, output) in a working directory.
- ``harness.workspace``: copy a Terraform root into a scratch directory and point it at the local AWS,
  without editing the original.
- ``harness.executions``: start and wait for executions, sample the lock item while they run, and read
  what the execution histories say about who was inside the work when.
"""
