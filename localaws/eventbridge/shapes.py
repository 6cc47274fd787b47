"""Events in the shape AWS delivers them.

Inside moto an event on the bus is a dict with ``time`` and ``ingestion-time`` as epoch seconds (moto's own
SQS and CloudWatch Logs targets expect that); ``for_target`` turns it into what a rule's target receives on
AWS: ``time`` as ``2019-02-26T19:42:21Z`` and no ``ingestion-time``.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from typing import Any

STATUS_CHANGE_SOURCE = "aws.states"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"
SCHEDULE_SOURCE = "aws.events"
SCHEDULE_DETAIL_TYPE = "Scheduled Event"
#: Statuses after which an execution can be redriven (``redriveStatus`` in the event).
REDRIVABLE = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def status_change_event(
    *,
    account: str,
    region: str,
    execution_arn: str,
    state_machine_arn: str,
    name: str,
    status: str,
    start_date: datetime.datetime,
    stop_date: datetime.datetime | None,
    input_text: str,
    output_text: str | None,
    error: str | None,
    cause: str | None,
) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event, as moto's bus holds it.

    The detail mirrors AWS's: dates in epoch milliseconds, ``output``/``outputDetails`` only for SUCCEEDED,
    ``error``/``cause`` only when the execution has them, and the redrive fields of a never-redriven
    execution.
    """
    succeeded = status == "SUCCEEDED"
    redrivable = status in REDRIVABLE
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": name,
        "status": status,
        "startDate": epoch_millis(start_date),
        "stopDate": epoch_millis(stop_date) if stop_date is not None else None,
        "input": input_text,
        "output": output_text if succeeded else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if succeeded else None,
        "error": error or None,
        "cause": cause or None,
        "stateMachineVersionArn": None,
        "stateMachineAliasArn": None,
        "redriveCount": 0,
        "redriveDate": None,
        "redriveStatus": "REDRIVABLE" if redrivable else "NOT_REDRIVABLE",
        "redriveStatusReason": f"Execution is {status} and {'can' if redrivable else 'cannot'} be redriven",
    }
    when = stop_date if stop_date is not None else start_date
    return bus_event(
        source=STATUS_CHANGE_SOURCE,
        detail_type=STATUS_CHANGE_DETAIL_TYPE,
        account=account,
        region=region,
        resources=[execution_arn],
        detail=detail,
        at=when.timestamp() if when.tzinfo else when.replace(tzinfo=datetime.UTC).timestamp(),
    )


def scheduled_event(*, account: str, region: str, rule_arn: str) -> dict[str, Any]:
    """The event a scheduled rule sends its targets."""
    return bus_event(
        source=SCHEDULE_SOURCE,
        detail_type=SCHEDULE_DETAIL_TYPE,
        account=account,
        region=region,
        resources=[rule_arn],
        detail={},
        at=time.time(),
    )


def bus_event(
    *,
    source: str,
    detail_type: str,
    account: str,
    region: str,
    resources: list[str],
    detail: dict[str, Any],
    at: float,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": at,
        "region": region,
        "resources": resources,
        "detail": detail,
        "ingestion-time": time.time(),
    }


def for_target(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a target receives it on AWS (a new dict; ``event`` is left alone)."""
    delivered = {key: value for key, value in event.items() if key != "ingestion-time"}
    delivered["time"] = iso_time(event.get("time"))
    # A copy through JSON: targets get plain data, and no two targets share a mutable dict.
    copied: dict[str, Any] = json.loads(json.dumps(delivered, default=str))
    return copied


def iso_time(value: Any) -> str:
    """AWS's event time format, from epoch seconds, a datetime or an already formatted string."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    elif isinstance(value, int | float):
        moment = datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
    else:
        moment = datetime.datetime.now(tz=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_millis(moment: datetime.datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return int(aware.timestamp() * 1000)
