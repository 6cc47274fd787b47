"""Queue mode's pure decisions: settle's FIFO grants under the limit and the warm-up rate, acquire, release,
and the item format and capacity figures they are stored with."""

from __future__ import annotations

import random

import pytest
from semaphore_core.capacity import (
    HOLDER_MAX_BYTES,
    ITEM_LIMIT_BYTES,
    MAX_EXECUTION_ARN_LENGTH,
    WAITER_MAX_BYTES,
    max_queue_length_for,
    worst_case_item_bytes,
)
from semaphore_core.config import LockTableConfig
from semaphore_core.errors import LockItemCorruptError, SemaphoreQueueFullError
from semaphore_core.lock_item import Holder, grant_interval_ms
from semaphore_core.queue import QueueLock, Waiter, acquire, release, release_all, settle
from semaphore_core.queue_store import build_put, parse_queue_lock

T0 = 1_700_000_000_000


def arn(n: int | str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:m:e{n}"


def waiter(n: int, weight: int = 1) -> Waiter:
    return Waiter(arn(n), weight, T0 + n)


def holders(*pairs: tuple[int, int]) -> dict[str, Holder]:
    return {arn(n): Holder(weight=w, acquired_at="2023-11-14T22:13:20.000Z") for n, w in pairs}


# --- settle ----------------------------------------------------------------------------------------------


def test_settle_grants_heads_in_order_while_they_fit() -> None:
    lock = QueueLock(count=1, holders=holders((0, 1)), queue=(waiter(1), waiter(2), waiter(3), waiter(4)))
    settled = settle(lock, limit=3, tps_limit=None, now_ms=T0)
    assert [w.execution_arn for w in settled.granted] == [arn(1), arn(2)]
    assert settled.lock.count == 3
    assert set(settled.lock.holders) == {arn(0), arn(1), arn(2)}
    assert settled.lock.queue == (waiter(3), waiter(4))
    assert settled.rate_blocked_until is None


def test_a_head_that_does_not_fit_blocks_lighter_waiters_behind_it() -> None:
    # count 3 of 4: the weight-2 head waits, and the weight-1 waiter behind it must not overtake it.
    lock = QueueLock(count=3, holders=holders((0, 3)), queue=(waiter(1, weight=2), waiter(2, weight=1)))
    settled = settle(lock, limit=4, tps_limit=None, now_ms=T0)
    assert settled.granted == ()
    assert settled.lock == lock


def test_settle_is_idempotent() -> None:
    lock = QueueLock(count=0, queue=(waiter(1, 2), waiter(2, 2), waiter(3, 1)))
    once = settle(lock, limit=3, tps_limit=None, now_ms=T0).lock
    assert settle(once, limit=3, tps_limit=None, now_ms=T0).lock == once


def test_the_rate_allows_one_grant_per_interval() -> None:
    lock = QueueLock(queue=(waiter(1), waiter(2)))
    first = settle(lock, limit=5, tps_limit=2, now_ms=T0)
    assert [w.execution_arn for w in first.granted] == [arn(1)]
    assert first.lock.next_grant_at == T0 + 500
    assert first.rate_blocked_until == T0 + 500

    too_soon = settle(first.lock, limit=5, tps_limit=2, now_ms=T0 + 499)
    assert too_soon.granted == () and too_soon.rate_blocked_until == T0 + 500

    due = settle(first.lock, limit=5, tps_limit=2, now_ms=T0 + 500)
    assert [w.execution_arn for w in due.granted] == [arn(2)]
    assert due.lock.next_grant_at == T0 + 1000
    assert due.rate_blocked_until is None, "the queue is empty: nothing waits for the rate"


def test_a_full_lock_is_not_reported_as_rate_blocked() -> None:
    lock = QueueLock(count=2, holders=holders((0, 2)), queue=(waiter(1),), next_grant_at=T0 + 100)
    settled = settle(lock, limit=2, tps_limit=2, now_ms=T0)
    assert settled.granted == () and settled.rate_blocked_until is None


def test_grant_interval_rounds_up() -> None:
    assert grant_interval_ms(None) is None
    assert grant_interval_ms(3) == 334
    assert grant_interval_ms(1000) == 1
    assert grant_interval_ms(0.1) == 10_000


def test_a_queued_holder_is_dropped_from_the_queue_without_counting_twice() -> None:
    lock = QueueLock(count=1, holders=holders((1, 1)), queue=(waiter(1), waiter(2)))
    settled = settle(lock, limit=3, tps_limit=None, now_ms=T0)
    assert settled.lock.count == 2
    assert [w.execution_arn for w in settled.granted] == [arn(2)]


@pytest.mark.parametrize("seed", range(20))
def test_random_histories_keep_the_invariants(seed: int) -> None:
    """Random acquires and releases with weights 1-3 under limit 4: never over the limit, count equals the
    holders' weights, grants in arrival order, and never a head that fits left waiting."""
    rng = random.Random(seed)
    limit = 4
    lock = QueueLock()
    arrivals: list[str] = []
    grants: list[str] = []
    weights: dict[str, int] = {}
    for step in range(200):
        now = T0 + step
        if lock.holders and rng.random() < 0.45:
            outcome = release(lock, rng.choice(sorted(lock.holders)), limit, None, now)
        else:
            name = arn(step)
            weights[name] = rng.choice([1, 1, 2, 3])
            arrivals.append(name)
            outcome = acquire(lock, name, weights[name], limit, None, now, max_queue_length=1000)
        grants += [w.execution_arn for w in outcome.granted]
        lock = outcome.lock
        assert lock.count <= limit
        assert lock.count == sum(h.weight for h in lock.holders.values())
        if lock.queue:
            assert lock.count + lock.queue[0].weight > limit, "a head that fits was left waiting"
    assert grants == arrivals[: len(grants)], "granted out of arrival order"
    assert [w.execution_arn for w in lock.queue] == arrivals[len(grants) :], "a waiter was lost"


# --- acquire and release ---------------------------------------------------------------------------------


def test_acquire_grants_at_once_when_nobody_waits_and_it_fits() -> None:
    outcome = acquire(QueueLock(), arn(1), 2, limit=3, tps_limit=None, now_ms=T0, max_queue_length=10)
    assert [w.execution_arn for w in outcome.granted] == [arn(1)]
    assert outcome.lock.count == 2 and outcome.lock.queue == ()
    assert outcome.changed


def test_acquire_queues_behind_a_waiter_even_when_it_would_fit() -> None:
    lock = QueueLock(count=2, holders=holders((0, 2)), queue=(waiter(1, weight=2),))
    outcome = acquire(lock, arn(2), 1, limit=3, tps_limit=None, now_ms=T0 + 2, max_queue_length=10)
    assert outcome.granted == ()
    assert [w.execution_arn for w in outcome.lock.queue] == [arn(1), arn(2)]


def test_a_late_call_is_placed_by_its_arrival_not_by_when_it_ran() -> None:
    # e3 reached the acquire state before e4 and e5 were queued, but its call ran last.
    lock = QueueLock(
        count=1, holders=holders((0, 1)), queue=(waiter(1), waiter(4), waiter(5)), tail_at=T0 + 5
    )
    outcome = acquire(
        lock, arn(3), 1, limit=1, tps_limit=None, now_ms=T0 + 50, max_queue_length=10, arrived_at=T0 + 3
    )
    assert [w.execution_arn for w in outcome.lock.queue] == [arn(1), arn(3), arn(4), arn(5)]
    assert outcome.lock.tail_at == T0 + 5, "the latest arrival stays the tail's"
    # One that arrived at the same moment as a queued waiter goes behind it; a later one at the tail.
    same = acquire(
        lock, arn(6), 1, limit=1, tps_limit=None, now_ms=T0 + 50, max_queue_length=10, arrived_at=T0 + 4
    )
    assert [w.execution_arn for w in same.lock.queue] == [arn(1), arn(4), arn(6), arn(5)]
    last = acquire(
        lock, arn(7), 1, limit=1, tps_limit=None, now_ms=T0 + 50, max_queue_length=10, arrived_at=T0 + 9
    )
    assert [w.execution_arn for w in last.lock.queue][-1] == arn(7) and last.lock.tail_at == T0 + 9


def test_an_early_arrival_placed_at_the_head_is_granted_when_it_fits() -> None:
    lock = QueueLock(count=2, holders=holders((0, 2)), queue=(waiter(5, weight=2),), tail_at=T0 + 5)
    outcome = acquire(
        lock, arn(2), 1, limit=3, tps_limit=None, now_ms=T0 + 50, max_queue_length=10, arrived_at=T0 + 2
    )
    assert [w.execution_arn for w in outcome.granted] == [arn(2)]
    assert [w.execution_arn for w in outcome.lock.queue] == [arn(5)]


def test_acquire_again_keeps_the_place_or_the_grant_and_changes_nothing() -> None:
    lock = QueueLock(count=1, holders=holders((0, 1)), queue=(waiter(1), waiter(2)))
    queued_again = acquire(lock, arn(1), 1, limit=1, tps_limit=None, now_ms=T0 + 99, max_queue_length=10)
    assert not queued_again.changed and queued_again.lock.position(arn(1)) == 0
    holding_again = acquire(lock, arn(0), 1, limit=1, tps_limit=None, now_ms=T0 + 99, max_queue_length=10)
    assert not holding_again.changed and holding_again.granted == ()


def test_a_full_queue_refuses_newcomers_only() -> None:
    lock = QueueLock(count=1, holders=holders((0, 1)), queue=(waiter(1), waiter(2)))
    with pytest.raises(SemaphoreQueueFullError, match="max_queue_length 2"):
        acquire(lock, arn(3), 1, limit=1, tps_limit=None, now_ms=T0, max_queue_length=2)
    # A waiter already queued may re-check; a newcomer that is granted at once never occupies the queue.
    assert not acquire(lock, arn(2), 1, limit=1, tps_limit=None, now_ms=T0, max_queue_length=2).changed
    empty = QueueLock()
    assert acquire(empty, arn(3), 1, limit=1, tps_limit=None, now_ms=T0, max_queue_length=1).granted


def test_release_gives_back_the_recorded_weight_and_hands_the_slot_on() -> None:
    lock = QueueLock(count=3, holders=holders((0, 2), (1, 1)), queue=(waiter(2, weight=2), waiter(3)))
    outcome = release(lock, arn(0), limit=3, tps_limit=None, now_ms=T0)
    assert outcome.released_weights == {arn(0): 2}
    assert [w.execution_arn for w in outcome.granted] == [arn(2)]
    assert outcome.lock.count == 3 and outcome.lock.queue == (waiter(3),)


def test_release_removes_a_waiter_and_a_lighter_one_behind_it_may_now_go() -> None:
    lock = QueueLock(count=3, holders=holders((0, 3)), queue=(waiter(1, weight=2), waiter(2, weight=1)))
    outcome = release(lock, arn(1), limit=4, tps_limit=None, now_ms=T0)
    assert outcome.dequeued_ids == (arn(1),) and outcome.released_weights == {}
    assert [w.execution_arn for w in outcome.granted] == [arn(2)]


def test_release_of_nothing_changes_nothing() -> None:
    lock = QueueLock(count=1, holders=holders((0, 1)), queue=(waiter(1),))
    outcome = release(lock, arn(9), limit=1, tps_limit=None, now_ms=T0)
    assert not outcome.changed and outcome.released_weights == {} and outcome.dequeued_ids == ()


def test_release_all_frees_every_slot_and_place_before_the_one_settle() -> None:
    # e0 (weight 1) and e1 (weight 2) hold; e2 waits at the head, e3 behind it, e4 last. Releasing e0, e1
    # and e2 together grants e3 and e4, never e2 (which is leaving).
    lock = QueueLock(
        count=3, holders=holders((0, 1), (1, 2)), queue=(waiter(2), waiter(3, weight=2), waiter(4))
    )
    outcome = release_all(lock, [arn(0), arn(1), arn(2), arn(9)], limit=3, tps_limit=None, now_ms=T0)
    assert outcome.released_weights == {arn(0): 1, arn(1): 2}
    assert outcome.dequeued_ids == (arn(2),)
    assert [w.execution_arn for w in outcome.granted] == [arn(3), arn(4)]
    assert outcome.lock.count == 3 and set(outcome.lock.holders) == {arn(3), arn(4)}
    assert not release_all(outcome.lock, [arn(0), arn(1), arn(2)], 3, None, T0 + 1).changed


def test_fitting_prefix() -> None:
    lock = QueueLock(count=1, holders=holders((0, 1)), queue=(waiter(1), waiter(2, 2), waiter(3), waiter(4)))
    assert [w.execution_arn for w in lock.fitting_prefix(4)] == [arn(1), arn(2)]
    assert lock.fitting_prefix(1) == ()


# --- the item --------------------------------------------------------------------------------------------

CONFIG = LockTableConfig(table_name="locks")


def test_the_item_round_trips_and_keeps_unknown_attributes() -> None:
    raw = {
        "LockName": {"S": "db"},
        "lockCount": {"N": "2"},
        "version": {"N": "7"},
        arn(0): {"M": {"weight": {"N": "2"}, "acquiredAt": {"S": "2023-11-14T22:13:20.000Z"}}},
        "queue": {"L": [{"M": {"id": {"S": arn(1)}, "w": {"N": "1"}, "at": {"N": str(T0)}}}]},
        "note": {"S": "kept"},
    }
    stored = parse_queue_lock(raw)
    assert stored.version == 7
    assert stored.lock.queue == (Waiter(arn(1), 1, T0),)
    outcome = release(stored.lock, arn(0), limit=2, tps_limit=None, now_ms=T0 + 5)
    put = build_put(CONFIG, "db", stored, outcome.lock)
    assert put["ConditionExpression"] == "#version = :version"
    assert put["ExpressionAttributeValues"] == {":version": {"N": "7"}}
    item = put["Item"]
    assert item["version"] == {"N": "8"} and item["note"] == {"S": "kept"}
    assert arn(0) not in item and arn(1) in item
    assert item["queue"] == {"L": []} and item["lockCount"] == {"N": "1"}
    assert parse_queue_lock(item).lock == outcome.lock


def test_a_first_write_requires_that_nobody_wrote_a_version() -> None:
    stored = parse_queue_lock(None)
    put = build_put(CONFIG, "db", stored, acquire(stored.lock, arn(1), 1, 1, None, T0, 10).lock)
    assert put["ConditionExpression"] == "attribute_not_exists(#version)"
    assert "ExpressionAttributeValues" not in put
    assert put["Item"]["version"] == {"N": "1"}


MALFORMED_QUEUES = [
    {"S": "x"},
    {"L": [{"M": {"w": {"N": "1"}, "at": {"N": "1"}}}]},
    {"L": [{"M": {"id": {"S": "a"}}}]},
]


@pytest.mark.parametrize("queue", MALFORMED_QUEUES)
def test_a_malformed_queue_is_reported(queue: dict[str, object]) -> None:
    with pytest.raises(LockItemCorruptError):
        parse_queue_lock({"LockName": {"S": "db"}, "queue": queue})


# --- capacity --------------------------------------------------------------------------------------------


def _number_bytes(text: str) -> int:
    """The larger of DynamoDB's estimate (a byte per two significant digits, plus one) and the local AWS's
    (one per character)."""
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return max((len(digits) + 1) // 2 + 1, len(text))


def item_bytes(value: dict[str, object]) -> int:
    """The size of an attribute value as DynamoDB documents it (strings in UTF-8, maps and lists with 3
    bytes plus their elements; plus 1 byte per element to be safe), numbers counted the larger way."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_bytes(str(inner))
    if kind == "L":
        assert isinstance(inner, list)
        return 3 + sum(1 + item_bytes(v) for v in inner)
    if kind == "M":
        assert isinstance(inner, dict)
        return 3 + sum(1 + len(k.encode()) + item_bytes(v) for k, v in inner.items())
    raise AssertionError(kind)


def test_the_per_entry_bounds_cover_the_longest_entries_this_module_writes() -> None:
    longest = "arn:" + "x" * (MAX_EXECUTION_ARN_LENGTH - 4)
    entry = {"M": {"id": {"S": longest}, "w": {"N": "99999"}, "at": {"N": str(9_999_999_999_999)}}}
    assert 1 + item_bytes(entry) <= WAITER_MAX_BYTES
    holder = {"M": {"weight": {"N": "99999"}, "acquiredAt": {"S": "2024-05-01T12:00:00.123Z"}}}
    assert len(longest) + item_bytes(holder) <= HOLDER_MAX_BYTES


def test_a_thousand_waiters_fit_next_to_a_few_hundred_holders() -> None:
    assert worst_case_item_bytes(limit=4, max_queue_length=1000) < ITEM_LIMIT_BYTES
    assert max_queue_length_for(4) >= 1000
    assert max_queue_length_for(398) >= 1000 > max_queue_length_for(399)
    for limit in (1, 4, 100, 398, 1000):
        longest = max_queue_length_for(limit)
        assert worst_case_item_bytes(limit, longest) <= ITEM_LIMIT_BYTES
        assert worst_case_item_bytes(limit, longest + 1) > ITEM_LIMIT_BYTES
