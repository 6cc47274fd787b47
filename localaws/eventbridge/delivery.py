"""The bus: match an event against a rule and deliver it to the rule's targets, off the request thread.

moto matches PutEvents against every rule (even disabled ones) and fails the whole request (HTTP 500) when a
rule has a Step Functions or Lambda target. Here a rule only takes events while it is ENABLED and its pattern
(moto's own matcher) matches; its Step Functions and Lambda targets are delivered by worker threads:

- Step Functions: ``StartExecution`` with a fresh unique name and the target's input;
- Lambda: an asynchronous invoke (``InvocationType: Event``) through moto's Lambda backend, so whatever runs
  Lambda handlers in this server runs it.

Every other target type goes to moto's own delivery (SQS, CloudWatch Logs, archives, other buses). A failed
delivery never fails the PutEvents that caused it, as on AWS; it is logged and counted (no retries and no
dead-letter queue here).
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from moto.events.models import Rule, events_backends
from moto.utilities.arns import parse_arn

from localaws.eventbridge.settings import EventsSettings
from localaws.eventbridge.shapes import for_target, scheduled_event
from localaws.eventbridge.target_input import target_input

LOG = logging.getLogger("localaws.events")

#: Threads that deliver to targets at once; StartExecution and an Event invoke both return quickly.
DELIVERY_WORKERS = 8

SendToTargets = Callable[..., None]


class Delivery:
    """Routes events to rules and delivers them to targets; one per server process."""

    def __init__(
        self, settings: EventsSettings, moto_send: SendToTargets, workers: int = DELIVERY_WORKERS
    ) -> None:
        self.settings = settings
        self._moto_send = moto_send
        self._workers = workers
        self._status_events: queue.SimpleQueue[tuple[str, str, dict[str, Any]]] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()

    # -- entry points ------------------------------------------------------------------------------------
    def emit_status_change(self, account: str, region: str, event: dict[str, Any]) -> None:
        """Put a Step Functions status-change event on the default bus, unless the drop switch loses it.

        Called on the execution's own thread: matching happens on the dispatcher thread, in the order the
        events were emitted.
        """
        if self.settings.should_drop(str(event["detail"]["status"])):
            return
        self._ensure_started()
        self.settings.begin()
        self._status_events.put((account, region, event))

    def fire_schedule(self, rule: Rule) -> None:
        """Send a scheduled rule's targets the "Scheduled Event"."""
        event = scheduled_event(account=rule.account_id, region=rule.region_name, rule_arn=rule.arn)
        self.settings.count("scheduled_events_put")
        self.send_to_rule(rule, event, scheduled=True)

    def send_to_rule(
        self, rule: Rule, event: dict[str, Any], transform_input: bool = True, scheduled: bool = False
    ) -> None:
        """``Rule.send_to_targets`` as AWS behaves: ``event`` came from the bus, or from the rule's schedule.

        A rule without an event pattern is a scheduled rule: it takes no events from the bus (moto's matcher
        would match every event with it).
        """
        if rule.state != "ENABLED":
            return
        if not scheduled and not (
            rule.event_pattern.get_pattern() and rule.event_pattern.matches_event(event)
        ):
            return
        ours = [target for target in list(rule.targets) if _kind(target) is not None]
        others = [target for target in list(rule.targets) if _kind(target) is None]
        if others:
            moto_rule = copy.copy(rule)
            moto_rule.targets = others
            try:
                self._moto_send(moto_rule, event, transform_input)
            except Exception as error:  # a target moto cannot reach must not fail PutEvents
                self._failed(
                    f"rule {rule.name}: moto could not deliver to {[t['Arn'] for t in others]}: {error!r}"
                )
        if not ours:
            return
        delivered = for_target(event)
        self._ensure_started()
        for target in ours:
            self.settings.begin()
            self._jobs.put(self._delivery_job(rule.name, rule.arn, dict(target), delivered))

    # -- threads -----------------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._started:
                return
            threading.Thread(
                target=self._dispatch_status_events, name="localaws-events-bus", daemon=True
            ).start()
            for number in range(self._workers):
                threading.Thread(target=self._work, name=f"localaws-events-{number}", daemon=True).start()
            self._started = True

    def _dispatch_status_events(self) -> None:
        while True:
            account, region, event = self._status_events.get()
            try:
                self._route_to_bus(account, region, "default", event)
            except Exception as error:
                self._failed(f"status-change event {event['detail'].get('executionArn')}: {error!r}")
            finally:
                self.settings.end()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception as error:
                LOG.exception("events: delivery job crashed: %r", error)
            finally:
                self.settings.end()

    # -- delivery ----------------------------------------------------------------------------------------
    def _route_to_bus(self, account: str, region: str, bus_name: str, event: dict[str, Any]) -> None:
        bus = events_backends[account][region].event_buses.get(bus_name)
        if bus is None:
            return
        for rule in _snapshot(bus.rules):
            rule.send_to_targets(event)

    def _delivery_job(
        self, rule_name: str, rule_arn: str, target: dict[str, Any], event: dict[str, Any]
    ) -> Callable[[], None]:
        def job() -> None:
            self.settings.count("deliveries_started")
            kind = _kind(target)
            try:
                payload = target_input(target, event, rule_name=rule_name, rule_arn=rule_arn)
                if kind == "states":
                    _start_execution(target["Arn"], payload)
                else:
                    _invoke_lambda(target["Arn"], payload)
            except Exception as error:
                self._failed(f"rule {rule_name} target {target.get('Id')} ({target['Arn']}): {error!r}")
                return
            self.settings.count("deliveries_succeeded")
            self.settings.count("delivered_stepfunctions" if kind == "states" else "delivered_lambda")

        return job

    def _failed(self, message: str) -> None:
        LOG.warning("events: delivery failed: %s", message)
        self.settings.failure(message)


def _kind(target: dict[str, Any]) -> str | None:
    """``states`` or ``lambda`` for the targets this module delivers, else None (moto's own)."""
    try:
        arn = parse_arn(str(target.get("Arn", "")))
    except Exception:
        return None
    if arn.service == "states" and arn.resource_type == "stateMachine":
        return "states"
    if arn.service == "lambda":
        return "lambda"
    return None


def _start_execution(state_machine_arn: str, payload: str) -> None:
    from moto.stepfunctions.responses import get_backend

    json.loads(payload)  # Step Functions takes JSON input only: a bad template fails here, as on AWS
    arn = parse_arn(state_machine_arn)
    get_backend(arn.account, arn.region).start_execution(
        state_machine_arn=state_machine_arn, name=str(uuid.uuid4()), execution_input=payload
    )


def _invoke_lambda(function_arn: str, payload: str) -> None:
    from moto.awslambda.utils import get_backend

    arn = parse_arn(function_arn)
    get_backend(arn.account, arn.region).invoke(
        function_name=function_arn,
        qualifier=None,
        body=payload,
        headers={"x-amz-invocation-type": "Event"},
        response_headers={},
    )


def _snapshot(rules: dict[str, Rule]) -> list[Rule]:
    """The bus's rules now (one C-level copy, so a request thread adding a rule cannot break it)."""
    return list(rules.values())
