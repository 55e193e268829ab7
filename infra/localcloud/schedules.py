"""Schedule rules (EventBridge `rate(...)` and `cron(...)`), fired from the local cloud's clock.

Firing policy — coalesced: when the clock passes several due times of one rule at once (`hcp clock
advance 3d` over a `rate(5 minutes)` rule passes 864), the rule fires **once**, with the event's
`time` set to the latest due time passed; rules due in the same move fire in the order of those
times. A scheduled function picks up what is due by index at `now`, so one late run does the work
of the missed ones — as after an outage in AWS. Moving the clock backwards fires nothing and
re-plans every rule from the new time.

Driven (the tests' mode): no thread ticks (`Scheduler.start(background=False)`), and the clock is a
`DrivenClock` that stands still between moves; rules fire only when the caller moves the clock or
asks for what is due (`check()`), in the caller's thread.
"""

from __future__ import annotations

import calendar
import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.ports import Clock

log = logging.getLogger("hcp.localcloud")

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_DURATION_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class DrivenClock(Clock):
    """A business clock that moves when it is set or advanced, not with the machine: what a test sees
    between two moves does not depend on how fast the machine runs it. Each reading is one microsecond
    after the one before, so two events are never at the same instant (a rating read back "until now"
    is before now), as on a real clock. Same interface as `infra.clock.LocalClock`."""

    TICK = timedelta(microseconds=1)

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = datetime.now(UTC) if start is None else start

    def now(self) -> datetime:
        with self._lock:
            self._now += self.TICK
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("the clock takes an aware datetime (with an offset)")
        with self._lock:
            self._now = when

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._now += by


def parse_duration(text: str) -> timedelta:
    """`3d`, `2h30m`, `90s`, `1w`, `-1d` (units w d h m s)."""
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    body = stripped.lstrip("+-").replace(" ", "")
    if not body or _DURATION.sub("", body):
        raise ValueError(f"not a duration: {text!r} (use e.g. 3d, 2h30m, 90s, 1w)")
    seconds = sum(float(n) * _DURATION_SECONDS[u.lower()] for n, u in _DURATION.findall(body))
    return timedelta(seconds=sign * seconds)


class Schedule:
    """When a rule is due next, strictly after a given time."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        rate = re.fullmatch(r"rate\(\s*(\d+)\s+(\w+)\s*\)", expression.strip())
        cron = re.fullmatch(r"cron\((.+)\)", expression.strip())
        if rate:
            value, unit = int(rate.group(1)), rate.group(2).lower()
            if unit not in _UNITS or value < 1:
                raise ValueError(f"unsupported rate expression {expression!r}")
            self.period: timedelta | None = timedelta(seconds=value * _UNITS[unit])
            self.cron: _Cron | None = None
        elif cron:
            self.period = None
            self.cron = _Cron(cron.group(1))
        else:
            raise ValueError(f"unsupported schedule expression {expression!r}")

    def first_due(self, start: datetime) -> datetime:
        """EventBridge runs a rate rule one period after it is created."""
        return start + self.period if self.period is not None else self.next_after(start)

    def next_after(self, moment: datetime) -> datetime:
        if self.period is not None:
            return moment + self.period
        assert self.cron is not None
        return self.cron.next_after(moment)

    def latest_due(self, due: datetime, now: datetime) -> tuple[datetime, datetime]:
        """Given a due time ≤ now: the latest due time ≤ now, and the one after it."""
        if self.period is not None:
            skipped = (now - due) // self.period
            latest = due + skipped * self.period
            return latest, latest + self.period
        latest = due
        nxt = self.next_after(latest)
        for _ in range(100_000):
            if nxt > now:
                break
            latest, nxt = nxt, self.next_after(nxt)
        else:  # more passed due times than worth walking: the next one counts from now
            latest, nxt = now, self.next_after(now)
        return latest, nxt


_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}


class _Cron:
    """EventBridge cron: minutes hours day-of-month month day-of-week year, in UTC.
    Supported: `*`, `?`, numbers and names, lists, ranges and `/` steps. Not `L`, `W` or `#`."""

    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 6:
            raise ValueError(f"cron({text}) needs 6 fields: minutes hours day-of-month month day-of-week year")
        self.minutes = _field(fields[0], 0, 59, {})
        self.hours = _field(fields[1], 0, 23, {})
        self.days = _field(fields[2], 1, 31, {})
        self.months = _field(fields[3], 1, 12, _MONTHS)
        self.weekdays = _field(fields[4], 1, 7, _DOW)
        self.years = _field(fields[5], 1970, 2199, {})
        self.any_day = fields[2] in ("*", "?")
        self.any_weekday = fields[4] in ("*", "?")

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        weekday = (day.isoweekday() % 7) + 1  # EventBridge: 1 = Sunday
        in_days, in_weekdays = day.day in self.days, weekday in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return in_weekdays
        if self.any_weekday:
            return in_days
        return in_days or in_weekdays

    def next_after(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = moment.replace(hour=0, minute=0)
        for _ in range(366 * 30):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= moment:
                            return candidate
            day += timedelta(days=1)
        raise ValueError("the cron expression never fires again")


def _field(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"cron value {text!r} is not supported by the local cloud (no L, W or #)")
    return int(text)


@dataclass(frozen=True)
class RuleTarget:
    function: str  # logical id
    input: Any  # the event given to the function; None means the scheduled event


@dataclass
class Rule:
    logical_id: str
    name: str
    arn: str
    schedule: Schedule
    targets: list[RuleTarget]
    enabled: bool = True
    next_due: datetime | None = None
    fired: int = 0


@dataclass(frozen=True)
class Firing:
    rule: str
    function: str
    scheduled_time: datetime
    ok: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "function": self.function, "scheduled_time": self.scheduled_time.isoformat(),
                "ok": self.ok, **({"error": self.error} if self.error else {})}


def scheduled_event(rule: Rule, when: datetime, region: str, account: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }


Invoke = Callable[[str, Any], Any]


@dataclass
class Scheduler:
    """Fires the rules as the clock passes their due times: from a background thread while the
    clock runs, and at once when the clock is moved (`moved`)."""

    rules: list[Rule]
    clock: Clock
    invoke: Invoke
    region: str
    account: str
    tick: float = 0.25
    paused: bool = False
    history: list[Firing] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last_now: datetime | None = None

    def start(self, *, background: bool = True) -> None:
        """Plan every rule from now; with `background`, a thread fires them as the clock runs past."""
        self.plan(self.clock.now())
        if background:
            self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def plan(self, start: datetime) -> None:
        with self._lock:
            for rule in self.rules:
                rule.next_due = rule.schedule.first_due(start)
            self._last_now = start

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.check()
            except Exception:
                log.exception("firing schedules failed")

    def moved(self) -> list[Firing]:
        """Call after the clock was set or advanced: fire what it passed, or re-plan if it went back."""
        with self._lock:
            now = self.clock.now()
            if self._last_now is not None and now < self._last_now:
                self.plan(now)
                return []
            return self.check()

    def pause(self) -> None:
        with self._lock:  # waits for a firing in progress
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False

    def check(self) -> list[Firing]:
        with self._lock:
            if self.paused:
                return []
            now = self.clock.now()
            if self._last_now is not None and now < self._last_now:
                self.plan(now)  # set back between two ticks
                return []
            self._last_now = now
            due: list[tuple[datetime, Rule]] = []
            for rule in self.rules:
                if rule.enabled and rule.next_due is not None and rule.next_due <= now:
                    latest, rule.next_due = rule.schedule.latest_due(rule.next_due, now)
                    due.append((latest, rule))
            firings = []
            for when, rule in sorted(due, key=lambda item: item[0]):
                rule.fired += 1
                for target in rule.targets:
                    event = target.input if target.input is not None else scheduled_event(
                        rule, when, self.region, self.account)
                    try:
                        self.invoke(target.function, event)
                        firing = Firing(rule.logical_id, target.function, when, True)
                    except Exception as exc:
                        log.exception("%s, fired by %s, failed", target.function, rule.logical_id)
                        firing = Firing(rule.logical_id, target.function, when, False, f"{type(exc).__name__}: {exc}")
                    firings.append(firing)
            self.history.extend(firings)
            return firings
