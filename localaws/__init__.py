"""A local AWS for sfn-semaphore: moto server plus the fixes the module depends on.

moto differs from AWS in ways that matter to a semaphore (see ../shared/LOCAL-AWS.md). Each difference
we close lives in its own module under ``localaws.patches`` and is applied before the server starts:

- ``dynamodb``: every DynamoDB request runs alone, as the real service makes single-item writes atomic.
- ``stepfunctions``: executions really run (moto's interpreter is switched on before anything exists).
- ``sfn_definitions``: CreateStateMachine / UpdateStateMachine refuse a definition AWS refuses
  (``InvalidDefinition``), checked by ``localaws.asl`` (asl-validator plus the AWS rules it lacks).

Start it with ``python -m localaws --port PORT`` (``make sandbox``) or, from Python, ``LocalAws``.
"""

from localaws.server import LocalAws

__all__ = ["LocalAws"]
