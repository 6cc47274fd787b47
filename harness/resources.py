"""Ask the local AWS whether the resources in a Terraform state exist, to prove an apply and a destroy.

``managed_resources`` lists the managed resources of a ``terraform show -json`` state (every module);
``exists`` looks one up through the service's own API. A resource type without a check here raises
``UnknownResourceTypeError`` rather than passing unchecked: add its look-up when the module grows one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from harness import aws


class UnknownResourceTypeError(LookupError):
    """No existence check is defined for this Terraform resource type."""


@dataclass(frozen=True)
class Resource:
    """A managed resource from a Terraform state: its address, type and attribute values."""

    address: str
    type: str
    values: dict[str, Any]


def managed_resources(state: dict[str, Any]) -> list[Resource]:
    """Every managed resource (not data sources) in a ``terraform show -json`` state, in all modules."""

    def walk(module: dict[str, Any]) -> Iterator[Resource]:
        for entry in module.get("resources", []):
            if entry.get("mode") == "managed":
                yield Resource(entry["address"], entry["type"], entry.get("values") or {})
        for child in module.get("child_modules", []):
            yield from walk(child)

    root = state.get("values", {}).get("root_module", {})
    return list(walk(root))


_NOT_FOUND = {
    "ResourceNotFoundException",
    "StateMachineDoesNotExist",
    "NoSuchEntity",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NotFoundException",
}


def _found(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] in _NOT_FOUND:
            return False
        raise
    return True


def _require(entries: list[dict[str, Any]], key: str, values: dict[str, Any]) -> None:
    """A not-found ``ClientError`` unless an entry's ``key`` is the resource's id (target or statement)."""
    wanted = values.get("target_id") if key == "Id" else values.get("statement_id")
    if not any(entry.get(key) == wanted for entry in entries):
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": str(wanted)}}, "Lookup")


def exists(resource: Resource, endpoint: str) -> bool:
    """Whether ``resource`` exists on the local AWS at ``endpoint``."""
    v = resource.values
    kind = resource.type
    if kind == "aws_sfn_state_machine":
        sfn = aws.client("stepfunctions", endpoint)
        return _found(lambda: sfn.describe_state_machine(stateMachineArn=v["arn"]))
    if kind == "aws_dynamodb_table":
        dynamodb = aws.client("dynamodb", endpoint)
        return _found(lambda: dynamodb.describe_table(TableName=v["name"]))
    if kind == "aws_iam_role":
        iam = aws.client("iam", endpoint)
        return _found(lambda: iam.get_role(RoleName=v["name"]))
    if kind == "aws_iam_role_policy":
        iam = aws.client("iam", endpoint)
        return _found(lambda: iam.get_role_policy(RoleName=v["role"], PolicyName=v["name"]))
    if kind == "aws_iam_policy":
        iam = aws.client("iam", endpoint)
        return _found(lambda: iam.get_policy(PolicyArn=v["arn"]))
    if kind == "aws_lambda_function":
        lam = aws.client("lambda", endpoint)
        return _found(lambda: lam.get_function(FunctionName=v["function_name"]))
    if kind == "aws_cloudwatch_log_group":
        logs = aws.client("logs", endpoint)
        groups = logs.describe_log_groups(logGroupNamePrefix=v["name"])["logGroups"]
        return any(group["logGroupName"] == v["name"] for group in groups)
    if kind == "aws_cloudwatch_event_rule":
        events = aws.client("events", endpoint)
        return _found(
            lambda: events.describe_rule(Name=v["name"], EventBusName=v.get("event_bus_name") or "default")
        )
    if kind == "aws_cloudwatch_event_target":
        events = aws.client("events", endpoint)
        rule, bus = v["rule"], v.get("event_bus_name") or "default"
        return _found(
            lambda: _require(events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"], "Id", v)
        )
    if kind == "aws_lambda_permission":
        lam = aws.client("lambda", endpoint)
        return _found(
            lambda: _require(
                json.loads(lam.get_policy(FunctionName=v["function_name"])["Policy"])["Statement"], "Sid", v
            )
        )
    if kind == "aws_sqs_queue":
        sqs = aws.client("sqs", endpoint)
        return _found(lambda: sqs.get_queue_attributes(QueueUrl=v["id"]))
    if kind == "aws_kms_key":
        # A destroyed key is scheduled for deletion, not gone at once: that counts as gone.
        kms = aws.client("kms", endpoint)
        try:
            state = str(kms.describe_key(KeyId=v["key_id"])["KeyMetadata"]["KeyState"])
        except ClientError as error:
            if error.response["Error"]["Code"] in _NOT_FOUND:
                return False
            raise
        return state != "PendingDeletion"
    if kind == "aws_kms_alias":
        kms = aws.client("kms", endpoint)
        aliases = kms.list_aliases()["Aliases"]
        return any(alias["AliasName"] == v["name"] for alias in aliases)
    raise UnknownResourceTypeError(f"no existence check for {kind} ({resource.address})")
