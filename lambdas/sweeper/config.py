"""The sweeper's settings, read from its environment (set by modules/sweeper).

- ``LOCK_TABLES`` (required): JSON object, lock table name -> its partition key attribute,
  e.g. ``{"orders-locks": "LockName"}``.
- ``STATE_MACHINE_ARNS``: JSON list of the semaphores' state machine ARNs whose holders this sweeper looks
  after; holders of any other machine are left alone (another sweeper's, or not a semaphore's). Empty or
  unset: every holder.
- ``LOCK_LEASE_SECONDS``: a holder whose execution status cannot be read is released once it is older than
  this. Empty or unset: never (a holder is released only when its execution is known to have ended).
- ``QUEUE_RELEASE_FUNCTION``: queue mode's release function (name or ARN). When set, the sweeper releases
  through it (the slot goes to the next waiters, who are resumed) and also removes queued executions that
  have ended. Empty or unset: poll mode's plain conditional write.
- ``MAX_ITEMS_PER_RUN`` (default 10000) and ``MAX_SECONDS_PER_RUN`` (default 240): the work one run may do;
  the next run continues where this one stopped (while the execution environment stays warm).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from semaphore_core.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_FUNCTION = re.compile(r"^(arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}$")
_STATE_MACHINE_ARN = re.compile(r"^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$")

DEFAULT_MAX_ITEMS = 10_000
DEFAULT_MAX_SECONDS = 240.0


@dataclass(frozen=True)
class LockTable:
    name: str
    lock_id_attribute: str


@dataclass(frozen=True)
class SweeperConfig:
    tables: tuple[LockTable, ...]
    #: Empty: every holder is this sweeper's to look after.
    state_machine_arns: frozenset[str] = frozenset()
    lease_seconds: int | None = None
    max_items: int = DEFAULT_MAX_ITEMS
    max_seconds: float = DEFAULT_MAX_SECONDS
    #: Queue mode: the function that releases (and settles); None in poll mode.
    queue_release_function: str | None = None

    @property
    def lease_ms(self) -> int | None:
        return None if self.lease_seconds is None else self.lease_seconds * 1000

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SweeperConfig:
        env = os.environ if environ is None else environ
        return cls(
            tables=_tables(env.get("LOCK_TABLES", "")),
            state_machine_arns=_state_machine_arns(env.get("STATE_MACHINE_ARNS", "")),
            lease_seconds=_optional_positive_int(env, "LOCK_LEASE_SECONDS"),
            max_items=_optional_positive_int(env, "MAX_ITEMS_PER_RUN") or DEFAULT_MAX_ITEMS,
            max_seconds=float(_optional_positive_int(env, "MAX_SECONDS_PER_RUN") or DEFAULT_MAX_SECONDS),
            queue_release_function=_optional_function(env.get("QUEUE_RELEASE_FUNCTION", "")),
        )


def _optional_function(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if not _FUNCTION.match(text):
        raise ConfigurationError(f"QUEUE_RELEASE_FUNCTION {text!r} is not a Lambda function name or ARN")
    return text


def _json(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigurationError(f"{name} is not valid JSON: {error}") from None


def _tables(text: str) -> tuple[LockTable, ...]:
    if not text:
        raise ConfigurationError("LOCK_TABLES is not set: the sweeper does not know which tables to sweep")
    parsed = _json(text, "LOCK_TABLES")
    if not isinstance(parsed, dict) or not parsed:
        raise ConfigurationError('LOCK_TABLES must be a JSON object {"<table>": "<key attribute>", ...}')
    tables = []
    for name, attribute in parsed.items():
        if not isinstance(attribute, str) or not _NAME.match(name) or not _NAME.match(attribute):
            raise ConfigurationError(
                f"LOCK_TABLES entry {name!r}: {attribute!r} is not a valid table/key pair"
            )
        tables.append(LockTable(name=name, lock_id_attribute=attribute))
    return tuple(tables)


def _state_machine_arns(text: str) -> frozenset[str]:
    if not text:
        return frozenset()
    parsed = _json(text, "STATE_MACHINE_ARNS")
    if not isinstance(parsed, list) or not all(isinstance(arn, str) for arn in parsed):
        raise ConfigurationError("STATE_MACHINE_ARNS must be a JSON list of state machine ARNs")
    wrong = [arn for arn in parsed if not _STATE_MACHINE_ARN.match(arn)]
    if wrong:
        raise ConfigurationError(f"STATE_MACHINE_ARNS: not state machine ARNs: {wrong}")
    return frozenset(parsed)


def _optional_positive_int(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigurationError(f"{name} must be a whole number of at least 1, or empty; got {text!r}")
    return int(text)
