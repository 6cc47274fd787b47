"""What a rule's target receives, as EventBridge computes it.

- no input settings: the event, as JSON;
- ``Input``: that text, as given;
- ``InputPath``: the part of the event the JSON path selects;
- ``InputTransformer``: ``InputTemplate`` with every ``<name>`` replaced by the value ``InputPathsMap[name]``
  selects, or by a predefined variable (``aws.events.rule-arn``, ``aws.events.rule-name``,
  ``aws.events.event.ingestion-time``, ``aws.events.event`` (the event without ``detail``) and
  ``aws.events.event.json`` (the whole event)).

Placement rules of the transformer, as AWS documents them: in a JSON template, a placeholder outside quotes
becomes the value as JSON (a string gets its quotes), and one inside a quoted string becomes the value's
text, escaped for that string (objects and arrays are inserted as raw JSON: AWS does not escape them
either). A template that is not JSON (``<a> is in state <b>``) gets each value's plain text. A path that
selects nothing gives ``null`` outside quotes and nothing inside them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from localaws.eventbridge.shapes import iso_time


class InvalidJsonPathError(ValueError):
    """An ``InputPath`` or ``InputPathsMap`` value that is not a JSON path EventBridge accepts."""


class _Missing:
    """What a path that selects nothing yields."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_STEP = re.compile(r"""\.(\*|[^.\[\]]+)|\[(\*|\d+)\]|\[(?:'([^']*)'|"([^"]*)")\]""")


def target_input(target: dict[str, Any], event: dict[str, Any], rule_name: str, rule_arn: str) -> str:
    """The text ``target`` receives for ``event`` (the AWS-shaped event, see ``shapes.for_target``)."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        selected = select(event, str(target["InputPath"]))
        return json.dumps(None if selected is MISSING else selected)
    transformer = target.get("InputTransformer")
    if transformer:
        return transform(
            template=str(transformer.get("InputTemplate", "")),
            paths=dict(transformer.get("InputPathsMap") or {}),
            event=event,
            rule_name=rule_name,
            rule_arn=rule_arn,
        )
    return json.dumps(event)


def select(document: Any, path: str) -> Any:
    """The value at JSON path ``path`` (``$``, ``$.a.b``, ``$.a[0]``, ``$.a.*``), or ``MISSING``."""
    path = path.strip()
    if not path.startswith("$"):
        raise InvalidJsonPathError(f"JSON path must start with '$': {path!r}")
    rest = path[1:]
    values = [document]
    wildcard = False
    position = 0
    while position < len(rest):
        step = _STEP.match(rest, position)
        if step is None:
            raise InvalidJsonPathError(f"unsupported JSON path {path!r} at {rest[position:]!r}")
        position = step.end()
        dotted, index, single_quoted, double_quoted = step.groups()
        name = next((part for part in (dotted, single_quoted, double_quoted) if part is not None), None)
        if dotted == "*" or index == "*":
            wildcard = True
            values = [child for value in values for child in _children(value)]
        elif index is not None:
            values = [
                value[int(index)] for value in values if isinstance(value, list) and int(index) < len(value)
            ]
        else:
            values = [value[name] for value in values if isinstance(value, dict) and name in value]
    if wildcard:
        return values
    return values[0] if values else MISSING


def transform(
    template: str, paths: dict[str, str], event: dict[str, Any], rule_name: str, rule_arn: str
) -> str:
    """``InputTemplate`` with its placeholders filled (see the module docstring)."""
    variables: dict[str, Any] = {name: select(event, path) for name, path in paths.items()}
    variables.update(
        {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": iso_time(None),
            "aws.events.event": {key: value for key, value in event.items() if key != "detail"},
            "aws.events.event.json": event,
        }
    )
    if _is_json_template(template, variables):
        return _fill(template, variables, json_mode=True)
    return _fill(template, variables, json_mode=False)


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _is_json_template(template: str, variables: dict[str, Any]) -> bool:
    """Whether the template is JSON once its placeholders hold values (a placeholder stands in as ``0``)."""
    probe = _fill(template, {name: 0 for name in variables}, json_mode=True)
    try:
        json.loads(probe)
    except ValueError:
        return False
    return True


def _fill(template: str, variables: dict[str, Any], json_mode: bool) -> str:
    pieces: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if json_mode and char == "\\" and in_string:
            pieces.append(template[position : position + 2])
            position += 2
            continue
        if json_mode and char == '"':
            in_string = not in_string
        if char == "<":
            match = _PLACEHOLDER.match(template, position)
            if match and match.group(1) in variables:
                pieces.append(_render(variables[match.group(1)], json_mode, in_string))
                position = match.end()
                continue
        pieces.append(char)
        position += 1
    return "".join(pieces)


def _render(value: Any, json_mode: bool, in_string: bool) -> str:
    if value is MISSING:
        return "" if (in_string or not json_mode) else "null"
    if isinstance(value, str):
        if not json_mode:
            return value
        return json.dumps(value)[1:-1] if in_string else json.dumps(value)
    return json.dumps(value)
