"""Queue mode's decisions as pure functions: who is granted, who waits, in which order.

The lock item (docs/lock-item.md, "Queue mode") holds the holders and, in ``queue``, the waiters in arrival
order: the order in which their executions entered the acquire state (``$$.State.EnteredTime``), not the
order in which their Lambda calls happened to reach DynamoDB. An execution whose call was slow (a cold
start, a burst) is placed behind those that arrived before it and ahead of those that arrived after.

Every change is computed here from a consistent read and written back conditioned on what it read
(``semaphore_core.queue_store``), so these functions never see a half-applied change and never touch AWS:
they take the parsed lock and the time, and return the next lock.

``settle`` is the one rule every path ends with: grant queue heads in strict FIFO order while the head fits
(``count + weight <= limit``) and the warm-up rate allows (at most one grant per ``ceil(1000 / tps)`` ms,
tracked by ``nextGrantAt``). It stops at the first head that does not fit: nobody overtakes a waiter, even
a lighter one that would fit (zero inversions; a heavy head is never starved by a stream of light ones).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from semaphore_core.clock import iso8601_utc
from semaphore_core.errors import SemaphoreQueueFullError
from semaphore_core.lock_item import Holder, grant_interval_ms


@dataclass(frozen=True)
class Waiter:
    """One queued holder: its holder id (an execution ARN, or an iteration holder's id: see
    ``semaphore_core.lock_item``; the field keeps its older name), its weight and when it arrived at the
    semaphore (epoch ms)."""

    execution_arn: str
    weight: int
    arrived_at: int


@dataclass(frozen=True)
class QueueLock:
    """The queue-mode view of a lock item. A missing item reads as an empty lock."""

    count: int = 0
    holders: Mapping[str, Holder] = field(default_factory=dict)
    queue: tuple[Waiter, ...] = ()
    next_grant_at: int | None = None
    #: The latest arrival ever queued (epoch ms): a newcomer that arrived no earlier may simply be appended.
    tail_at: int | None = None

    def position(self, execution_arn: str) -> int | None:
        """0-based place of the execution in the queue, or None when it is not queued."""
        for index, waiter in enumerate(self.queue):
            if waiter.execution_arn == execution_arn:
                return index
        return None

    def fitting_prefix(self, limit: int) -> tuple[Waiter, ...]:
        """The waiters at the front whose weights, added in order, fit in the free capacity: the ones that
        the concurrency limit would admit now, one after the other, if only the rate allowed."""
        free = limit - self.count
        prefix = []
        for waiter in self.queue:
            if waiter.weight > free:
                break
            free -= waiter.weight
            prefix.append(waiter)
        return tuple(prefix)


@dataclass(frozen=True)
class Settled:
    """The result of ``settle``: the next lock, who was granted (in order), and, when a head that fits waits
    only for the warm-up rate, the time (epoch ms) the rate next allows a grant."""

    lock: QueueLock
    granted: tuple[Waiter, ...] = ()
    rate_blocked_until: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of an acquire or a release: the next lock and what changed on the way."""

    before: QueueLock
    lock: QueueLock
    #: Executions granted by this step, in grant (= arrival) order; may include the caller's own.
    granted: tuple[Waiter, ...] = ()
    #: A fitting head waits only for the rate until this time (epoch ms); None otherwise.
    rate_blocked_until: int | None = None
    #: The time the decision was made (epoch ms): the grant time of ``granted``.
    decided_at: int | None = None
    #: Release only: the weight each released holder gave back (only those that held a slot).
    released_weights: Mapping[str, int] = field(default_factory=dict)
    #: Release only: the released holders that were taken off the queue.
    dequeued_ids: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the lock differs from what was read (and so needs a write)."""
        return self.lock != self.before


def settle(lock: QueueLock, limit: int, tps_limit: float | None, now_ms: int) -> Settled:
    """Grant queue heads in order while the head fits and the rate allows; stop at the first that does not.

    A head that is somehow a holder already (an item written by hand) is dropped from the queue without
    being counted twice.
    """
    interval_ms = grant_interval_ms(tps_limit)
    count = lock.count
    holders: dict[str, Holder] = dict(lock.holders)
    queue = list(lock.queue)
    next_grant_at = lock.next_grant_at
    granted = []
    rate_blocked_until = None
    while queue:
        head = queue[0]
        if head.execution_arn in holders:
            queue.pop(0)
            continue
        if count + head.weight > limit:
            break
        if interval_ms is not None and next_grant_at is not None and next_grant_at > now_ms:
            rate_blocked_until = next_grant_at
            break
        queue.pop(0)
        count += head.weight
        holders[head.execution_arn] = Holder(weight=head.weight, acquired_at=iso8601_utc(now_ms))
        granted.append(head)
        if interval_ms is not None:
            next_grant_at = now_ms + interval_ms
    next_lock = replace(lock, count=count, holders=holders, queue=tuple(queue), next_grant_at=next_grant_at)
    return Settled(lock=next_lock, granted=tuple(granted), rate_blocked_until=rate_blocked_until)


def join(queue: tuple[Waiter, ...], waiter: Waiter) -> tuple[Waiter, ...]:
    """``queue`` with ``waiter`` behind every waiter that arrived no later than it, ahead of the rest."""
    position = len(queue)
    while position > 0 and queue[position - 1].arrived_at > waiter.arrived_at:
        position -= 1
    return (*queue[:position], waiter, *queue[position:])


def acquire(
    lock: QueueLock,
    execution_arn: str,
    weight: int,
    limit: int,
    tps_limit: float | None,
    now_ms: int,
    max_queue_length: int,
    arrived_at: int | None = None,
) -> Outcome:
    """Join the queue in arrival order (unless already queued or holding), then settle. ``arrived_at``
    (epoch ms) is when the execution reached the acquire state; None means now.

    Raises ``SemaphoreQueueFullError`` when the caller would have to wait but ``max_queue_length`` others
    are waiting already; nobody already queued is affected. An execution already queued keeps its place
    (a re-check after a lost resume), one already holding stays a holder (its earlier resume was lost).
    """
    newly_queued = execution_arn not in lock.holders and lock.position(execution_arn) is None
    queued = lock
    if newly_queued:
        me = Waiter(execution_arn, weight, now_ms if arrived_at is None else arrived_at)
        tail_at = me.arrived_at if lock.tail_at is None else max(lock.tail_at, me.arrived_at)
        queued = replace(lock, queue=join(lock.queue, me), tail_at=tail_at)
    settled = settle(queued, limit, tps_limit, now_ms)
    if newly_queued and len(settled.lock.queue) > max_queue_length:
        raise SemaphoreQueueFullError(
            f"{len(lock.queue)} executions are already waiting, the most this lock's queue holds"
            f" (max_queue_length {max_queue_length}); this execution is not queued"
        )
    return Outcome(
        before=lock,
        lock=settled.lock,
        granted=settled.granted,
        rate_blocked_until=settled.rate_blocked_until,
        decided_at=now_ms,
    )


def release(lock: QueueLock, execution_arn: str, limit: int, tps_limit: float | None, now_ms: int) -> Outcome:
    """Give back the caller's slot (its recorded weight) and leave the queue if it is there, then settle.

    Releasing a holder that neither holds nor waits changes nothing but the settle (idempotent).
    """
    return release_all(lock, (execution_arn,), limit, tps_limit, now_ms)


def release_all(
    lock: QueueLock, holder_ids: Collection[str], limit: int, tps_limit: float | None, now_ms: int
) -> Outcome:
    """``release`` for several holders at once (an ended execution and its iterations): every slot goes back
    and every one of them leaves the queue before the one settle, so none of the freed slots is granted to
    a waiter that is leaving too. Idempotent, like ``release``."""
    leaving = set(holder_ids)
    released = {arn: holder.weight for arn, holder in lock.holders.items() if arn in leaving}
    holders = {arn: h for arn, h in lock.holders.items() if arn not in leaving}
    queue = tuple(w for w in lock.queue if w.execution_arn not in leaving)
    count = max(0, lock.count - sum(released.values()))
    freed = replace(lock, count=count, holders=holders, queue=queue)
    settled = settle(freed, limit, tps_limit, now_ms)
    return Outcome(
        before=lock,
        lock=settled.lock,
        granted=settled.granted,
        rate_blocked_until=settled.rate_blocked_until,
        decided_at=now_ms,
        released_weights=released,
        dequeued_ids=tuple(w.execution_arn for w in lock.queue if w.execution_arn in leaving),
    )


def settle_only(lock: QueueLock, limit: int, tps_limit: float | None, now_ms: int) -> Outcome:
    """Only ``settle``: what a pump does once the warm-up rate allows the next grant."""
    settled = settle(lock, limit, tps_limit, now_ms)
    return Outcome(
        before=lock,
        lock=settled.lock,
        granted=settled.granted,
        rate_blocked_until=settled.rate_blocked_until,
        decided_at=now_ms,
    )


def arns(waiters: Sequence[Waiter]) -> list[str]:
    return [waiter.execution_arn for waiter in waiters]
