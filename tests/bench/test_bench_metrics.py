"""The benchmark's analysis on hand-made histories: what it counts as billed, and how it pairs handoffs."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from bench import metrics
from harness.executions import Interval

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def _event(seconds: float, kind: str, name: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": T0 + datetime.timedelta(seconds=seconds), "type": kind}
    if name is not None and kind.endswith("Entered"):
        event["stateEnteredEventDetails"] = {"name": name}
    if name is not None and kind.endswith("Exited"):
        event["stateExitedEventDetails"] = {"name": name}
    return event


def _history(work_start: float, work_end: float, acquire_retries: int = 0) -> list[dict[str, Any]]:
    """A poll-mode-like history: one acquire attempt (retried ``acquire_retries`` times in place), one wait
    loop pass, the work, the release."""
    events = [
        _event(0.0, "ExecutionStarted"),
        _event(0.0, "ParallelStateEntered", "Acquire semaphore"),
        _event(0.0, "TaskStateEntered", "Acquire slot"),
        _event(0.0, "TaskScheduled"),
        _event(0.0, "TaskFailed"),
    ]
    events += [_event(0.1, "TaskScheduled"), _event(0.1, "TaskFailed")] * acquire_retries
    events += [
        _event(0.1, "TaskStateExited", "Acquire slot"),
        _event(0.1, "WaitStateEntered", "Wait for a free slot"),
        _event(0.2, "WaitStateExited", "Wait for a free slot"),
        _event(0.2, "TaskStateEntered", "Acquire slot"),
        _event(0.2, "TaskScheduled"),
        _event(0.2, "TaskSucceeded"),
        _event(0.2, "TaskStateExited", "Acquire slot"),
        _event(0.2, "ParallelStateExited", "Acquire semaphore"),
        _event(work_start, "ParallelStateEntered", "Run work"),
        _event(work_start, "WaitStateEntered", "Do work"),
        _event(work_end, "WaitStateExited", "Do work"),
        _event(work_end, "ParallelStateExited", "Run work"),
        _event(work_end, "ParallelStateEntered", "Release semaphore"),
        _event(work_end, "TaskStateEntered", "Release slot"),
        _event(work_end, "TaskScheduled"),
        _event(work_end, "TaskSucceeded"),
        _event(work_end, "TaskStateExited", "Release slot"),
        _event(work_end, "ParallelStateExited", "Release semaphore"),
        _event(work_end, "ExecutionSucceeded"),
    ]
    return events


def _record(index: int, start: float, end: float, arrived: float | None = None) -> metrics.ExecutionRecord:
    return metrics.ExecutionRecord(
        index=index,
        arn=f"arn:{index}",
        status="SUCCEEDED",
        started=0.0,
        arrived=float(index) / 100 if arrived is None else arrived,
        stopped=end,
        work=Interval(start, end),
        transitions=metrics.Transitions(semaphore=0, work=0),
    )


def test_every_state_entered_and_every_retry_is_billed_and_the_work_is_counted_apart() -> None:
    plain = metrics.billed_transitions(_history(1.0, 2.0))
    # Acquire semaphore, Acquire slot, Wait, Acquire slot, Run work, Release semaphore, Release slot.
    assert plain == metrics.Transitions(semaphore=7, work=1)

    retried = metrics.billed_transitions(_history(1.0, 2.0, acquire_retries=3))
    assert retried == metrics.Transitions(semaphore=10, work=1)
    assert retried.total == 11


def test_execution_record_reads_times_status_and_work() -> None:
    record = metrics.execution_record(4, "arn:x", _history(1.5, 2.5))
    origin = T0.timestamp()
    assert (record.index, record.arn, record.status) == (4, "arn:x", "SUCCEEDED")
    assert (record.started - origin, (record.stopped or 0) - origin) == (0.0, 2.5)
    assert record.arrived == record.started  # this history enters its first state as it starts
    late = _history(1.5, 2.5)
    late[1] = _event(0.02, "ParallelStateEntered", "Acquire semaphore")
    assert metrics.execution_record(4, "arn:x", late).arrived - origin == pytest.approx(0.02)
    assert record.work == Interval(origin + 1.5, origin + 2.5)


def test_handoffs_start_once_the_limit_is_reached_and_take_the_most_recent_free_slot() -> None:
    records = [
        _record(0, 0.0, 1.0),
        _record(1, 0.1, 1.1),  # limit 2 reached at 0.1
        _record(2, 1.3, 2.3),  # frees so far: 1.0, 1.1 -> takes 1.1 (0.2 s)
        _record(3, 1.5, 2.5),  # 1.1 is taken -> takes 1.0 (0.5 s)
        _record(4, 2.6, 3.6),  # frees 2.3, 2.5 -> takes 2.5 (0.1 s)
    ]
    latencies = metrics.handoff_latencies(records, capacity=2)
    assert latencies == pytest.approx([0.2, 0.5, 0.1])


def test_no_handoffs_when_the_limit_is_never_reached() -> None:
    records = [_record(0, 0.0, 1.0), _record(1, 1.0, 2.0)]
    assert metrics.limit_reached_at([r.work for r in records if r.work], 2) is None
    assert metrics.handoff_latencies(records, capacity=2) == []


def test_fifo_inversions_count_pairs_where_a_later_arrival_entered_first() -> None:
    in_order = [_record(i, float(i), float(i) + 1) for i in range(4)]
    assert metrics.fifo_inversions(in_order) == 0
    # Arrival 3 entered first, before 0, 1 and 2; arrival 2 entered before 1.
    shuffled = [_record(0, 1.0, 2.0), _record(1, 3.0, 4.0), _record(2, 2.0, 3.0), _record(3, 0.5, 1.5)]
    assert metrics.fifo_inversions(shuffled) == 4
    assert metrics.fifo_inversions(shuffled, by_start_order=True) == 4


def test_fifo_order_is_arrival_at_the_acquire_state_and_same_millisecond_arrivals_are_unordered() -> None:
    records = [
        _record(0, 3.0, 4.0, arrived=0.0203),  # started first, but reached the acquire state after 1
        _record(1, 2.0, 3.0, arrived=0.0101),
        _record(2, 5.0, 6.0, arrived=0.0302),  # the same millisecond as 3: no order between them
        _record(3, 4.0, 5.0, arrived=0.0304),
    ]
    assert metrics.fifo_inversions(records) == 0
    assert metrics.fifo_inversions(records, by_start_order=True) == 2
    records.append(_record(4, 1.0, 2.0, arrived=0.05))  # arrived last, entered the work first
    assert metrics.fifo_inversions(records) == 4


def test_makespan_ideal_and_percentiles() -> None:
    records = [_record(0, 0.2, 1.2), _record(1, 1.2, 2.7)]
    assert metrics.makespan(records) == pytest.approx(2.7)
    assert metrics.ideal_makespan([1] * 40, 4, 1) == 10
    assert metrics.ideal_makespan([2, 2, 1, 1], 4, 2) == 3
    assert metrics.percentile([0.3, 0.1, 0.2, 0.4], 50) == 0.2
    assert metrics.percentile([0.3, 0.1, 0.2, 0.4], 95) == 0.4
    assert metrics.percentile([], 50) is None


def test_waiting_and_in_work_over_time() -> None:
    records = [_record(0, 0.0, 1.0), _record(1, 1.0, 2.0)]
    # Both start at 0; the first enters the work at once, the second at 1.0 as the first leaves it.
    waiting = metrics.waiting_over_time(records, origin=0.0)
    assert list(zip(waiting.times, waiting.values, strict=True))[-1] == (1.0, 0)
    assert max(waiting.values) == 2 and min(waiting.values) == 0
    in_work = metrics.in_work_over_time(records, origin=0.0)
    assert max(in_work.values) == 1, "a holder leaving as the next enters is not two at once"
    assert in_work.values[-1] == 0


def test_idle_slot_time_counts_free_slots_only_while_someone_waits() -> None:
    records = [
        _record(0, 0.0, 1.0),
        _record(1, 0.0, 1.0),
        # Waits from 0 (its start) until 1.5: one of the two slots is idle from 1.0 to 1.5.
        _record(2, 1.5, 2.5),
    ]
    # The other slot stays idle after 1.0 too, but nobody waits for it.
    assert metrics.idle_slot_seconds(records, capacity=2) == pytest.approx(0.5)
    # With one slot, execution 2 waits behind both: the slot is free only from 1.0 to 1.5 as well.
    assert metrics.idle_slot_seconds(records, capacity=1) == pytest.approx(0.5)


def test_work_start_gaps_are_between_successive_entries_over_all_executions() -> None:
    # Entries at 0.2, 0.6 and 1.5 s, out of arrival order; one execution that never worked.
    records = [_record(0, 1.5, 2.0), _record(1, 0.2, 1.0), _record(2, 0.6, 3.0)]
    records.append(metrics.ExecutionRecord(3, "arn:x", "FAILED", 0.0, 0.0, 0.1, None, records[0].transitions))
    assert metrics.work_start_gaps(records) == pytest.approx([0.4, 0.9])
    assert metrics.work_start_gaps(records[:1]) == []
