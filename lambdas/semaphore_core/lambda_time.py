"""How long a function may keep working: its deadline from the Lambda context, less a safety margin."""

from __future__ import annotations

from semaphore_core.clock import Clock

#: Time kept in hand before the function's own timeout.
SAFETY_MARGIN_MS = 2000
#: Budget when there is no Lambda context (a test calling the handler directly).
DEFAULT_BUDGET_MS = 10_000


def deadline_ms(clock: Clock, context: object) -> int:
    """Epoch ms by which the function must stop sleeping."""
    now = clock()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return now + DEFAULT_BUDGET_MS
    return now + max(0, int(remaining()) - SAFETY_MARGIN_MS)
