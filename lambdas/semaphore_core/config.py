"""Settings every lock function reads from its environment (set by the Terraform module)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from semaphore_core.errors import ConfigurationError
from semaphore_core.lock_item import DEFAULT_LOCK_ID_ATTRIBUTE

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


@dataclass(frozen=True)
class LockTableConfig:
    table_name: str
    lock_id_attribute: str = DEFAULT_LOCK_ID_ATTRIBUTE


def lock_table_config(environ: Mapping[str, str] | None = None) -> LockTableConfig:
    """``LOCK_TABLE_NAME`` (required) and ``LOCK_ID_ATTRIBUTE`` (default ``LockName``)."""
    env = os.environ if environ is None else environ
    table_name = env.get("LOCK_TABLE_NAME", "")
    lock_id_attribute = env.get("LOCK_ID_ATTRIBUTE") or DEFAULT_LOCK_ID_ATTRIBUTE
    if not table_name:
        raise ConfigurationError("LOCK_TABLE_NAME is not set: the function does not know its lock table")
    if not _NAME.match(table_name):
        raise ConfigurationError(f"LOCK_TABLE_NAME {table_name!r} is not a valid DynamoDB table name")
    if not _NAME.match(lock_id_attribute):
        raise ConfigurationError(f"LOCK_ID_ATTRIBUTE {lock_id_attribute!r} is not a valid attribute name")
    return LockTableConfig(table_name=table_name, lock_id_attribute=lock_id_attribute)
