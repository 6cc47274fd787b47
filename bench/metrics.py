"""What the execution histories say about one mode's run: pure functions, no AWS.

Definitions (the README's Benchmark section repeats them):

- **Work**: the time between entering and leaving "Run work" (the Parallel around the user's work). A slot is
  *freed* when its holder leaves "Run work": from then on nothing useful happens in it until the next holder
  enters "Run work", so the release's own time counts as handoff time.
- **Handoff latency**: for each entry into the work after the limit was first reached (the first moment as
  many executions were inside the work as fit under the limit), the time since the most recent freed slot
  that no earlier entry was paired with. Entries before that moment did not wait for anyone.
- **Billed state transitions**: one per state entered (every ``*StateEntered`` event, Parallel states and the
  states inside their branches included) plus one per retry (each attempt of a task after the first within
  one entry of that state: a ``*Scheduled`` event that is not the first since the state was entered). States
  entered inside "Run work" are the work's; every other one, "Run work" itself included, is the semaphore's.
- **Makespan**: from the first execution's start to the last one's end. The ideal is the total weight divided
  by the limit, times the work's seconds (no arrival spread, no overhead).
- **Work-start spacing** (runs with a warm-up rate, ``--warmup-tps-limit``): the time between successive
  entries into the work, over all executions (the benchmark uses one lock), reported as its minimum and 5th
  percentile against 1/tps. The rate spaces the grants' writes; a work start comes after the grant's settle
  write, the Lambda's response and the transitions into "Run work", so it can come a little closer.
- **Idle slot time**: slot-seconds during which a slot was free while an execution was waiting for one
  (started, not yet in the work): the time the semaphore wasted, whatever the pairing.
- **FIFO inversions**: pairs of executions where the later arrival entered the work strictly before the
  earlier one. An execution *arrives* when it enters its first state, the semaphore's acquire state: the
  moment a semaphore can first know of it, and the order queue mode serves. Two arrivals in the same
  millisecond (the history's resolution) have no order between them. Inversions by *start order* (the
  order in which the benchmark started the executions) are reported too: they also count the executions
  that the emulator, under load, took longer to move from their start to their first state.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.executions import WORK_STATE, Interval, max_overlap, work_interval

Event = dict[str, Any]

#: Price of one state transition of a Standard workflow (US East), in dollars: $0.025 per 1,000.
PRICE_PER_TRANSITION = 0.025 / 1000

_END_EVENTS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}


@dataclass(frozen=True)
class Transitions:
    """Billed state transitions of one execution, split between the semaphore and the work."""

    semaphore: int
    work: int

    @property
    def total(self) -> int:
        return self.semaphore + self.work


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution as the analysis needs it."""

    #: Arrival order: the position in which the benchmark started it (0 first).
    index: int
    arn: str
    status: str
    started: float
    #: When it entered its first state (the acquire state): its arrival at the semaphore.
    arrived: float
    stopped: float | None
    #: Inside "Run work"; None if it never both entered and left it.
    work: Interval | None
    transitions: Transitions


def _timestamp(event: Event) -> float:
    return float(event["timestamp"].timestamp())


def _entered_name(event: Event) -> str | None:
    if not str(event.get("type", "")).endswith("StateEntered"):
        return None
    return str(event.get("stateEnteredEventDetails", {}).get("name", ""))


def _exited_name(event: Event) -> str | None:
    if not str(event.get("type", "")).endswith("StateExited"):
        return None
    return str(event.get("stateExitedEventDetails", {}).get("name", ""))


def billed_transitions(events: Sequence[Event]) -> Transitions:
    """The billed state transitions in one history (rule in the module docstring)."""
    semaphore = work = 0
    in_work = False
    scheduled_since_entry = False
    for event in events:
        entered = _entered_name(event)
        if entered is not None:
            scheduled_since_entry = False
            if in_work:
                work += 1
            else:
                semaphore += 1
            if entered == WORK_STATE:
                in_work = True
            continue
        if _exited_name(event) == WORK_STATE:
            in_work = False
            continue
        if str(event.get("type", "")).endswith("Scheduled"):
            if scheduled_since_entry:  # a retry: the same state's task scheduled again
                if in_work:
                    work += 1
                else:
                    semaphore += 1
            scheduled_since_entry = True
    return Transitions(semaphore=semaphore, work=work)


def execution_record(index: int, arn: str, events: Sequence[Event]) -> ExecutionRecord:
    """Read one execution's history into an ``ExecutionRecord``."""
    started = stopped = arrived = None
    status = "RUNNING"
    for event in events:
        kind = event["type"]
        if kind == "ExecutionStarted":
            started = _timestamp(event)
        elif arrived is None and _entered_name(event) is not None:
            arrived = _timestamp(event)
        elif kind in _END_EVENTS:
            stopped = _timestamp(event)
            status = kind.removeprefix("Execution").upper()
    if started is None:
        raise ValueError(f"history of {arn} has no ExecutionStarted event")
    return ExecutionRecord(
        index=index,
        arn=arn,
        status=status,
        started=started,
        arrived=arrived if arrived is not None else started,
        stopped=stopped,
        work=work_interval(events),
        transitions=billed_transitions(events),
    )


def limit_reached_at(intervals: Iterable[Interval], capacity: int) -> float | None:
    """The first moment ``capacity`` intervals were open at once (exits before entries at equal times)."""
    points = sorted([(i.start, 1) for i in intervals] + [(i.end, -1) for i in intervals])
    current = 0
    for moment, delta in points:
        current += delta
        if current >= capacity:
            return moment
    return None


def handoff_latencies(records: Sequence[ExecutionRecord], capacity: int) -> list[float]:
    """Seconds from a freed slot to the next holder entering the work, one per entry after the limit was
    first reached (pairing rule in the module docstring)."""
    intervals = [r.work for r in records if r.work is not None]
    reached = limit_reached_at(intervals, capacity)
    if reached is None:
        return []
    frees = sorted(i.end for i in intervals)
    taken = [False] * len(frees)
    latencies = []
    for entry in sorted(i.start for i in intervals if i.start > reached):
        candidate = bisect.bisect_right(frees, entry) - 1
        while candidate >= 0 and taken[candidate]:
            candidate -= 1
        if candidate < 0:
            continue  # nothing freed before this entry that another entry has not already taken
        taken[candidate] = True
        latencies.append(entry - frees[candidate])
    return latencies


def fifo_inversions(records: Sequence[ExecutionRecord], by_start_order: bool = False) -> int:
    """Pairs where the later arrival entered the work strictly before the earlier one (arrival at the
    acquire state, to the millisecond; or, ``by_start_order``, the order the executions were started in)."""
    if by_start_order:
        arrivals = [(float(r.index), r.work.start) for r in records if r.work is not None]
    else:
        arrivals = [(round(r.arrived, 3), r.work.start) for r in records if r.work is not None]
    return sum(
        1
        for earlier, earlier_entry in arrivals
        for later, later_entry in arrivals
        if earlier < later and later_entry < earlier_entry
    )


def makespan(records: Sequence[ExecutionRecord]) -> float:
    """From the first start to the last end (seconds); raises ValueError if one has not ended."""
    if any(r.stopped is None for r in records):
        raise ValueError("an execution has not ended: no makespan")
    return max(r.stopped for r in records if r.stopped is not None) - min(r.started for r in records)


def ideal_makespan(weights: Sequence[int], limit: int, work_seconds: float) -> float:
    """Total weight / limit x work seconds: every slot busy all the time, no overhead."""
    return sum(weights) / limit * work_seconds


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0-100) of ``values``; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def work_start_gaps(records: Sequence[ExecutionRecord]) -> list[float]:
    """Seconds between successive entries into the work, over all executions, in time order."""
    starts = sorted(r.work.start for r in records if r.work is not None)
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


def most_in_work(records: Sequence[ExecutionRecord]) -> int:
    """The most executions inside the work at one moment, from the histories."""
    return max_overlap(r.work for r in records if r.work is not None)


@dataclass(frozen=True)
class Step:
    """A step function over time: ``values[i]`` holds from ``times[i]`` until ``times[i + 1]``."""

    times: list[float]
    values: list[int]


def _steps(changes: Iterable[tuple[float, int]], origin: float, leaves_first: bool) -> Step:
    """Running total of ``changes`` (moment, +1/-1); at equal moments, -1 first when ``leaves_first``."""
    times, values = [0.0], [0]
    current = 0
    for moment, delta in sorted(changes, key=lambda c: (c[0], c[1] if leaves_first else -c[1])):
        current += delta
        times.append(moment - origin)
        values.append(current)
    return Step(times=times, values=values)


def in_work_over_time(records: Sequence[ExecutionRecord], origin: float) -> Step:
    """How many executions were inside the work, over seconds since ``origin``."""
    changes = []
    for r in records:
        if r.work is not None:
            changes += [(r.work.start, 1), (r.work.end, -1)]
    return _steps(changes, origin, leaves_first=True)


def waiting_over_time(records: Sequence[ExecutionRecord], origin: float) -> Step:
    """How many executions had started but not yet entered the work (the queue), over seconds since
    ``origin``. One that never entered the work waits until it ended."""
    changes = []
    for r in records:
        left = r.work.start if r.work is not None else r.stopped
        changes.append((r.started, 1))
        if left is not None:
            changes.append((left, -1))
    return _steps(changes, origin, leaves_first=False)


def idle_slot_seconds(records: Sequence[ExecutionRecord], capacity: int) -> float:
    """Slot-seconds in which a slot was free while an execution waited (started, not yet in the work)."""
    origin = min(r.started for r in records)
    in_work = in_work_over_time(records, origin)
    waiting = waiting_over_time(records, origin)
    moments = sorted(set(in_work.times) | set(waiting.times))

    def value_at(step: Step, moment: float) -> int:
        return step.values[bisect.bisect_right(step.times, moment) - 1]

    idle = 0.0
    for start, end in itertools.pairwise(moments):
        free = capacity - value_at(in_work, start)
        idle += max(0, min(free, value_at(waiting, start))) * (end - start)
    return idle
