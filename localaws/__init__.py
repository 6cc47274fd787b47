"""A local AWS for sfn-semaphore: moto server plus the fixes the module depends on.

moto differs from AWS in ways that matter to a semaphore (docs/fidelity.md). Each difference we close lives
in its own module under ``localaws.patches`` (listed in its ``ALL``, each ``apply`` a ``@patch``) and is
applied before the server starts:

- ``dynamodb``: every DynamoDB request runs alone, as the real service makes single-item writes atomic;
  ``dynamodb_item_size``: an updated item is judged by its size after the update.
- ``awslambda`` (with ``sfn_lambda``): Invoke runs the function's real handler from its zip
  (``lambda_pool``, ``lambda_environment``, ``lambda_worker``); Step Functions sees a callback sent
  during the Invoke.
- ``events``: status-change events, rule delivery to Step Functions and Lambda targets, schedules
  (``localaws.eventbridge``).
- ``keep_alive``: an SDK's connection stays open between requests.
- ``sfn_math_random``: ``States.MathRandom`` excludes its end.
- ``sfn_definitions``: CreateStateMachine / UpdateStateMachine refuse a definition AWS refuses
  (``InvalidDefinition``), checked by ``localaws.asl`` (asl-validator plus the AWS rules it lacks).

Executions really run (moto's interpreter is switched on before anything exists, ``localaws.server``).
Anything else a caller wants in the server (the benchmark's billing meter) is a plugin it names:
``python -m localaws --plugin MODULE``.

Start it with ``python -m localaws --port PORT`` (``make sandbox``) or, from Python, ``LocalAws``.
"""

from localaws.server import LocalAws

__all__ = ["LocalAws"]
