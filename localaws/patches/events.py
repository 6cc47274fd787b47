"""EventBridge events and delivery as on AWS: status-change events, rule targets, schedules.

moto sends no "Step Functions Execution Status Change" events, fails PutEvents (HTTP 500) when a matching
rule targets a state machine or a Lambda function, matches disabled rules, and never fires scheduled rules.
This patch:

- puts a status-change event (AWS's shape, ``localaws.eventbridge.shapes``) on the default bus of the
  execution's account and region when a Standard execution starts and when it ends (SUCCEEDED, FAILED,
  TIMED_OUT, ABORTED), and makes StopExecution abort at once (``localaws.eventbridge.execution_hooks``);
- matches every event put on a bus (these, PutEvents, schedules) against the bus's ENABLED rules with moto's
  pattern matcher and delivers it to Step Functions and Lambda targets on worker threads, with the target's
  Input, InputPath or InputTransformer (``localaws.eventbridge.delivery``, ``.target_input``);
- fires ``rate(...)`` and ``cron(...)`` rules (``localaws.eventbridge.schedule``);
- serves ``/localaws/config`` and ``/localaws/stats`` (section ``events``): the switch that loses a fraction
  of status-change events and the counters of what was emitted, dropped and delivered
  (``localaws.eventbridge.settings``, ``localaws.admin``).
"""

from __future__ import annotations

from typing import Any

from moto.events.models import EventsBackend, Rule
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import Execution

from localaws import admin
from localaws.eventbridge import execution_hooks
from localaws.eventbridge.delivery import Delivery
from localaws.eventbridge.schedule import Scheduler
from localaws.eventbridge.settings import EventsSettings
from localaws.eventbridge.shapes import status_change_event
from localaws.patches import patch

_DELIVERY: Delivery | None = None


@patch
def apply() -> None:
    global _DELIVERY
    settings = EventsSettings.from_environment()
    delivery = Delivery(settings, moto_send=Rule.send_to_targets)
    _DELIVERY = delivery

    section = admin.Section(
        get_config=settings.get_config, set_config=settings.set_config, get_stats=settings.get_stats
    )
    admin.register_section("events", section)
    admin.install()

    execution_hooks.install(lambda execution: delivery.emit_status_change(*_status_change(execution)))
    _hook_rule_delivery(delivery)
    _hook_put_events(settings)
    Scheduler(settings, fire=delivery.fire_schedule).start()


def _status_change(execution: Execution) -> tuple[str, str, dict[str, Any]]:
    """(account, region, event) for the execution's current status."""
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    state_machine = execution.state_machine
    output = None
    if status == "SUCCEEDED":
        output = to_json_str(execution.output, separators=(",", ":"))
    event = status_change_event(
        account=execution.account_id,
        region=execution.region_name,
        execution_arn=execution.exec_arn,
        state_machine_arn=getattr(state_machine, "source_arn", None) or execution.state_machine_arn,
        name=execution.name,
        status=status,
        start_date=execution.start_date,
        stop_date=execution.stop_date if status != "RUNNING" else None,
        input_text=str(execution.execution_input),
        output_text=output,
        error=execution.error,
        cause=execution.cause,
    )
    return execution.account_id, execution.region_name, event


def _hook_rule_delivery(delivery: Delivery) -> None:
    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        delivery.send_to_rule(self, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _hook_put_events(settings: EventsSettings) -> None:
    original = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries = original(self, events)
        settings.count("client_events_put", sum(1 for entry in entries if "EventId" in entry))
        return entries

    EventsBackend.put_events = put_events  # type: ignore[method-assign]
