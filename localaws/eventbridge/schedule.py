"""Scheduled rules: ``rate(...)`` and ``cron(...)`` expressions firing their rule's targets on time.

- ``rate(N minute|minutes|hour|hours|day|days)``: first firing one interval after the rule is created (or
  replaced by PutRule), then every interval. ``schedule_minute_seconds`` (TEST-ONLY, see ``settings``)
  shortens the minute.
- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, UTC, at the start of every matching minute
  after the rule is created: numbers, ``*``, ``?``, ranges ``a-b``, lists ``a,b``, steps ``*/n`` ``a/n``
  ``a-b/n``, month names JAN-DEC and day names SUN-SAT (1-7 is SUN-SAT, as on AWS). ``L``, ``W`` and ``#``
  are not supported: such a rule never fires and the server logs one line saying so.

A rule fires only while it is ENABLED; a firing that falls while it is disabled is skipped, not made up.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from moto.events.models import Rule, events_backends

from localaws.eventbridge.settings import EventsSettings

LOG = logging.getLogger("localaws.events")

#: How often the scheduler looks at the rules, in seconds.
TICK_SECONDS = 0.2

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_MINUTES_PER_UNIT = {"minute": 1, "hour": 60, "day": 1440}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_DAYS = {name: number for number, name in enumerate(_DAY_NAMES, 1)}


class UnsupportedScheduleError(ValueError):
    """A schedule expression this local EventBridge cannot run."""


@dataclass(frozen=True)
class RateSchedule:
    minutes: int


@dataclass(frozen=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: ``?``
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # None: ``?``; 1 is Sunday
    years: frozenset[int] | None  # None: any year

    def matches(self, moment: datetime.datetime) -> bool:
        aws_weekday = moment.isoweekday() % 7 + 1  # Sunday 1 ... Saturday 7
        day_ok = (self.days_of_month is None or moment.day in self.days_of_month) and (
            self.days_of_week is None or aws_weekday in self.days_of_week
        )
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and day_ok
            and (self.years is None or moment.year in self.years)
        )


Schedule = RateSchedule | CronSchedule


def parse_schedule(expression: str) -> Schedule:
    """The schedule of a rule's ``ScheduleExpression``; ``UnsupportedScheduleError`` if it cannot run here."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        count = int(rate.group(1))
        if count <= 0:
            raise UnsupportedScheduleError(f"{expression}: the rate must be positive")
        return RateSchedule(minutes=count * _MINUTES_PER_UNIT[rate.group(2).rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise UnsupportedScheduleError(f"{expression}: not a rate(...) or cron(...) expression")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise UnsupportedScheduleError(f"{expression}: cron(...) needs 6 fields, got {len(fields)}")
    minutes, hours, days_of_month, months, days_of_week, years = fields
    return CronSchedule(
        minutes=_cron_field(minutes, 0, 59, {}),
        hours=_cron_field(hours, 0, 23, {}),
        days_of_month=None if days_of_month == "?" else _cron_field(days_of_month, 1, 31, {}),
        months=_cron_field(months, 1, 12, _MONTHS),
        days_of_week=None if days_of_week == "?" else _cron_field(days_of_week, 1, 7, _DAYS),
        years=None if years in ("*", "?") else _cron_field(years, 1970, 2199, {}),
    )


def _cron_field(text: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        if any(mark in part for mark in ("L", "W", "#")) and not any(name in part for name in names):
            raise UnsupportedScheduleError(f"cron field {text!r}: L, W and # are not supported locally")
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span in ("*", "?"):
            first, last = low, high
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _cron_value(start, names), _cron_value(end, names)
        else:
            first = _cron_value(span, names)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or step <= 0:
            raise UnsupportedScheduleError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_value(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise UnsupportedScheduleError(f"cron value {text!r} is not supported locally")
    return int(text)


@dataclass
class _RuleClock:
    """What the scheduler remembers of one rule object (PutRule replaces the object, restarting it)."""

    schedule: Schedule | None
    created_monotonic: float
    created_wall: datetime.datetime
    last_mark: float = field(default=0.0)
    last_cron_minute: datetime.datetime | None = None


class Scheduler:
    """A daemon thread that fires scheduled rules of every account and region."""

    def __init__(self, settings: EventsSettings, fire: Callable[[Rule], None]) -> None:
        self._settings = settings
        self._fire = fire
        self._clocks: dict[int, tuple[Rule, _RuleClock]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="localaws-events-scheduler", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.tick(time.monotonic(), datetime.datetime.now(tz=datetime.UTC))
            except Exception as error:
                LOG.exception("events: scheduler tick failed: %r", error)
            time.sleep(TICK_SECONDS)

    def tick(self, now: float, wall: datetime.datetime) -> None:
        """Fire every scheduled rule that is due at ``now`` (monotonic) / ``wall`` (UTC)."""
        seen: set[int] = set()
        for rule in _scheduled_rules():
            seen.add(id(rule))
            clock = self._clock(rule, now, wall)
            if clock.schedule is None:
                continue
            if isinstance(clock.schedule, RateSchedule):
                due = self._rate_due(clock, clock.schedule, now)
            else:
                due = self._cron_due(clock, clock.schedule, wall)
            if due and rule.state == "ENABLED":
                self._fire(rule)
            elif due:
                self._settings.count("scheduled_skipped_disabled")
        for key in set(self._clocks) - seen:
            del self._clocks[key]

    def _clock(self, rule: Rule, now: float, wall: datetime.datetime) -> _RuleClock:
        known = self._clocks.get(id(rule))
        if known is not None and known[0] is rule:
            return known[1]
        try:
            schedule: Schedule | None = parse_schedule(str(rule.scheduled_expression))
        except UnsupportedScheduleError as error:
            LOG.warning("events: rule %s will never fire here: %s", rule.arn, error)
            schedule = None
        clock = _RuleClock(schedule=schedule, created_monotonic=now, created_wall=wall, last_mark=now)
        self._clocks[id(rule)] = (rule, clock)
        return clock

    def _rate_due(self, clock: _RuleClock, schedule: RateSchedule, now: float) -> bool:
        interval = schedule.minutes * self._settings.minute_seconds
        if now < clock.last_mark + interval:
            return False
        clock.last_mark += interval
        if now >= clock.last_mark + interval:  # fell behind (a long pause): start over from now
            clock.last_mark = now
        return True

    def _cron_due(self, clock: _RuleClock, schedule: CronSchedule, wall: datetime.datetime) -> bool:
        minute = wall.replace(second=0, microsecond=0)
        if minute <= clock.created_wall or minute == clock.last_cron_minute:
            return False
        clock.last_cron_minute = minute
        return schedule.matches(minute)


def _scheduled_rules() -> list[Rule]:
    """Rules with a ScheduleExpression, on the default bus of every account and region moto has."""
    rules: list[Rule] = []
    for account in list(events_backends.values()):
        for backend in list(account.values()):
            bus = backend.event_buses.get("default")
            if bus is None:
                continue
            rules.extend(rule for rule in list(bus.rules.values()) if rule.scheduled_expression)
    return rules
