"""Event validation: each helper checks one field and raises ``InvalidEventError`` saying what is wrong.

Booleans are rejected where numbers are expected (``True`` is an ``int`` in Python, never in an event).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from semaphore_core.clock import parse_iso8601_ms
from semaphore_core.errors import InvalidEventError
from semaphore_core.lock_item import HOLDER_PREFIX, HOLDER_SEPARATOR, is_valid_iteration_id


def _describe(value: object) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def require_object(event: object) -> Mapping[str, object]:
    if not isinstance(event, Mapping) or not all(isinstance(key, str) for key in event):
        raise InvalidEventError(f"the event must be a JSON object, got {_describe(event)}")
    return event


def require_exact_keys(
    event: Mapping[str, object], keys: Collection[str], optional: Collection[str] = ()
) -> None:
    """Every key present and no other (``optional`` ones may be left out): a misspelt optional key must not
    silently switch a feature off."""
    missing = sorted(set(keys) - set(event))
    unknown = sorted(set(event) - set(keys) - set(optional))
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown {', '.join(unknown)}")
    if problems:
        expected = ", ".join(sorted(keys))
        also = f", optionally {', '.join(sorted(optional))}" if optional else ""
        raise InvalidEventError(f"event fields: {'; '.join(problems)} (expected exactly {expected}{also})")


def require_str(
    event: Mapping[str, object],
    key: str,
    *,
    min_length: int = 1,
    max_length: int | None = None,
    prefix: str | None = None,
) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise InvalidEventError(f"{key} must be a string, got {_describe(value)}")
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        bounds = f"{min_length} to {max_length}" if max_length is not None else f"at least {min_length}"
        raise InvalidEventError(f"{key} must be {bounds} characters long, got {len(value)}")
    if prefix is not None and not value.startswith(prefix):
        raise InvalidEventError(f"{key} must start with {prefix!r}, got {_describe(value)}")
    return value


def require_holder_id(event: Mapping[str, object], key: str, *, max_length: int) -> str:
    """A holder id (``semaphore_core.lock_item``): an execution ARN, optionally followed by '#' and an
    iteration id; at most ``max_length`` characters in all."""
    value = require_str(event, key, max_length=max_length, prefix=HOLDER_PREFIX)
    _execution, separator, iteration = value.partition(HOLDER_SEPARATOR)
    if separator and not is_valid_iteration_id(iteration):
        raise InvalidEventError(
            f"{key} must be an execution ARN, optionally followed by '#' and an iteration id of 1 to 40"
            f" letters, digits, '.', '_' or '-'; got the iteration id {_describe(iteration)}"
        )
    return value


def optional_bool(event: Mapping[str, object], key: str, *, default: bool = False) -> bool:
    """``true`` or ``false``, or ``default`` when the key is absent (null is not absent: it is refused)."""
    if key not in event:
        return default
    value = event[key]
    if not isinstance(value, bool):
        raise InvalidEventError(f"{key} must be true or false, got {_describe(value)}")
    return value


def optional_timestamp_ms(event: Mapping[str, object], key: str) -> int | None:
    """An ISO 8601 date-time with a time zone (as Step Functions writes ``$$.State.EnteredTime``) as epoch
    milliseconds, or None when the key is absent."""
    if key not in event:
        return None
    value = event[key]
    parsed = parse_iso8601_ms(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidEventError(
            f"{key} must be an ISO 8601 date-time with a time zone, e.g. 2024-01-01T00:00:00.000Z,"
            f" got {_describe(value)}"
        )
    return parsed


def require_int(event: Mapping[str, object], key: str, *, minimum: int | None = None) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEventError(f"{key} must be an integer, got {_describe(value)}")
    if minimum is not None and value < minimum:
        raise InvalidEventError(f"{key} must be at least {minimum}, got {value}")
    return value


def optional_positive_number(event: Mapping[str, object], key: str) -> float | None:
    """A finite number above 0, or null (the feature is off)."""
    value = event.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEventError(f"{key} must be a number above 0 or null, got {_describe(value)}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidEventError(f"{key} must be a finite number above 0 or null, got {value}")
    return float(value)
