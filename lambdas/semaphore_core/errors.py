"""Named exceptions. A Lambda's error name is its exception's class name, and the state machine routes on it
(Catch ``ErrorEquals``), so these names are a contract: never rename one without changing the templates.
"""


class SemaphoreError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidEventError(SemaphoreError):
    """The event is malformed. Raised before any DynamoDB call: the execution fails fast, no write."""


class SemaphoreFullError(SemaphoreError):
    """The lock's count plus this execution's weight would exceed the limit: wait and try again."""


class WarmupTooSoonError(SemaphoreError):
    """The warm-up rate allows no grant yet: wait at least ``wait_ms`` milliseconds and try again."""

    def __init__(self, message: str, wait_ms: int) -> None:
        super().__init__(message)
        self.wait_ms = wait_ms


class LockThrottledError(SemaphoreError):
    """DynamoDB throttled the request even after the client's own retries: wait and try again."""


class LockItemCorruptError(SemaphoreError):
    """The lock item does not have the shape of docs/lock-item.md; retrying cannot help."""


class ConfigurationError(SemaphoreError):
    """The function's environment is missing a setting or has an invalid one."""


class SemaphoreQueueFullError(SemaphoreError):
    """Queue mode: the lock's queue already holds ``max_queue_length`` waiters. The execution fails rather
    than wait unlisted; nobody already queued is affected."""


class LockContentionError(SemaphoreError):
    """Queue mode: the lock item changed between the read and the conditional write of every attempt (many
    writers at once). Nothing was written: try again."""
