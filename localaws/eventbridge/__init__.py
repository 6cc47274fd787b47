"""EventBridge as AWS runs it, on top of moto: service events, rule matching, target delivery, schedules.

- ``settings``: the switches (``/localaws/config`` section ``events``) and the counters (``/localaws/stats``).
- ``shapes``: the events themselves, in the shape AWS delivers them.
- ``target_input``: what a target receives (the event, ``Input``, ``InputPath`` or ``InputTransformer``).
- ``delivery``: the bus: matching a rule's pattern and delivering to its targets off the request thread.
- ``schedule``: ``rate(...)`` and ``cron(...)`` rules firing on time.
- ``execution_hooks``: Step Functions status changes, the source of "Execution Status Change" events.

``localaws.patches.events`` wires them into moto.
"""
