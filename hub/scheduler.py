"""The timers of completed cases fired: SMS reminders (R7) and the default rating (R6).

The scheduler reads only what is due (`TimerStore.due`, an index on due time) and claims each timer
before acting, so two overlapping runs fire it once. The claim is a lease: a run that dies mid-way
leaves the timer due again when the lease ends. The default rating is written under its case slot
(R8) like a real one, so whichever of the two comes first wins and the other is told so (R6).

The window is recounted at firing from the stored notice with the calendar as it is now, so a
notice loaded for an unpublished year is honoured even for a timer its recompute has not reached.
Every reminder's fate — sent, skipped and why, deferred, failed — goes to the notification log with
the phone masked (R20).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.calendar import WorkingDayCalendar
from hub.cases import (
    Timer,
    TimerKind,
    default_rating,
    first_reminder_due,
    open_rating_window,
    outside_quiet_hours,
    reminder_phone,
    reminder_text,
    second_reminder_due,
    slot_key,
)
from hub.masking import mask_phone
from hub.ports import (
    CaseStore,
    ForwardQueue,
    Notification,
    NotificationLog,
    NotificationOutcome,
    RatingStore,
    SmsFailed,
    SmsSender,
    StoredCase,
    TimerStore,
)
from hub.rules import RatingPolicy

LEASE = timedelta(minutes=5)  # longer than a run may take (the function's timeout is 60 s)
TIME_TO_SPARE_MS = 15_000  # a run stops firing with less than this left: the work orders, the answer
SMS_ATTEMPTS = 5  # claims of one reminder before it is given up (a quiet-hours deferral is one of them)
SMS_RETRY_AFTER = timedelta(minutes=5)  # times the attempt number
DEFAULT_AFTER_CLOSE = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RunReport:
    """`full`: it stopped with timers still due (a full batch without a time budget; out of time with one):
    the caller may run again at once, or the next firing goes on. `read`: timers read from the due index."""

    due: int
    counts: Counter[str] = field(default_factory=Counter)
    errors: tuple[str, ...] = ()
    full: bool = False
    read: int = 0


class CaseScheduler:
    def __init__(
        self,
        *,
        cases: CaseStore,
        timers: TimerStore,
        ratings: RatingStore,
        queue: ForwardQueue,
        sms: SmsSender,
        log: NotificationLog,
        calendars: Callable[[], WorkingDayCalendar],
        rating_link: str,
        policy: RatingPolicy | None = None,
        batch: int = 500,
    ) -> None:
        self.cases = cases
        self.timers = timers
        self.ratings = ratings
        self.queue = queue
        self.sms = sms
        self.log = log
        self.calendars = calendars
        self.rating_link = rating_link
        self.policy = policy or RatingPolicy()
        self.batch = batch

    def run(
        self,
        now: datetime,
        calendar: WorkingDayCalendar | None = None,
        *,
        remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = TIME_TO_SPARE_MS,
    ) -> RunReport:
        """Fire what is due at `now`. A timer that fails is counted and retried when its lease ends.

        Without `remaining_ms`, one batch. With it (the invocation's time left), batch after batch while more
        than `spare_ms` is left, checked before every timer: a slow SMS gateway or a backlog of 100,000 due
        timers ends the run cleanly before Lambda's timeout, with `full` set. What it did not reach is still
        due in the index (a claimed timer's due time moves to its lease's end), so the index is the cursor
        and the next firing resumes there."""
        calendar = calendar or self.calendars()
        counts: Counter[str] = Counter()
        errors: list[str] = []
        fired = read = 0
        while True:
            if remaining_ms is not None and remaining_ms() < spare_ms:
                return RunReport(fired, counts, tuple(errors), full=True, read=read)
            due = self.timers.due(now, self.batch)
            read += len(due)
            stuck = 0  # timers of this batch that did not move out of the due range by this run's hand
            for timer in due:
                if remaining_ms is not None and remaining_ms() < spare_ms:
                    return RunReport(fired, counts, tuple(errors), full=True, read=read)
                fired += 1
                try:
                    outcome = self.fire(timer, now, calendar)
                except Exception as exc:  # one case's fault must not hold up the others
                    counts["error"] += 1
                    errors.append(f"{timer.timer_id}: {type(exc).__name__}")
                    stuck += 1
                    continue
                counts[outcome] += 1
                stuck += outcome == "taken"
            full = len(due) >= self.batch
            if remaining_ms is None:
                return RunReport(fired, counts, tuple(errors), full=full, read=read)
            # with a budget, read again until nothing is due: a sharded due index may answer less than a batch
            # while more is due. A batch all taken by another run or failing is no progress (the index may lag
            # the claims): stop there, and say so
            if not due or stuck == len(due):
                return RunReport(fired, counts, tuple(errors), full=bool(due), read=read)

    def fire(self, timer: Timer, now: datetime, calendar: WorkingDayCalendar | None = None) -> str:
        """Claim and act on one timer; the outcome, or "taken" when another run has it."""
        attempt = self.timers.claim(timer, now + LEASE)
        if attempt is None:
            return "taken"
        case = self.cases.get(timer.case_key)
        if case is None:
            self.timers.finish(timer, "case_missing", at=now)
            return "case_missing"
        calendar = calendar or self.calendars()
        if timer.kind is TimerKind.DEFAULT_RATING:
            return self._default(timer, case, calendar, now)
        return self._remind(timer, case, calendar, now, attempt)

    def _default(self, timer: Timer, case: StoredCase, calendar: WorkingDayCalendar, now: datetime) -> str:
        window = open_rating_window(case.notice, calendar, self.policy)
        if now <= window.closes_at:  # the window moved later (a notice loaded since): not yet
            self.timers.defer(timer, window.closes_at + DEFAULT_AFTER_CLOSE)
            return "deferred"
        rating = default_rating(case.notice, case.connector_id, window.closes_at, now)
        put = self.ratings.put_new(rating, case.raw_ref)
        if put.outcome == "accepted":
            self.queue.enqueue([rating.rating_id])  # what is not queued stays pending: the sweep sends it
        # a duplicate is this default stored by an attempt that died before finishing; a conflict on the
        # case is a real rating that came first (R6: exactly one wins)
        outcome = "rated" if put.outcome == "conflict" and put.conflict == "case" else "default_rated"
        self.timers.finish(timer, outcome, at=now)
        return outcome

    def _remind(
        self, timer: Timer, case: StoredCase, calendar: WorkingDayCalendar, now: datetime, attempt: int
    ) -> str:
        notice = case.notice
        window = open_rating_window(notice, calendar, self.policy)
        second_due = second_reminder_due(window.closes_at)
        if self.ratings.slot_holder(slot_key(notice)) is not None:
            return self._skip(timer, case, now, "RATED", attempt)  # a rating came: the case is closed
        if now > window.closes_at:
            return self._skip(timer, case, now, "WINDOW_CLOSED", attempt)
        if timer.kind is TimerKind.FIRST_REMINDER and first_reminder_due(notice) < second_due <= now:
            return self._skip(timer, case, now, "SUPERSEDED", attempt)  # one reminder, not two at once
        if timer.kind is TimerKind.SECOND_REMINDER and now < second_due:
            self.timers.defer(timer, second_due)  # the window moved later
            return "deferred"
        morning = outside_quiet_hours(now)
        if morning != now:
            self.timers.defer(timer, morning)
            self._record(timer, case, now, "deferred", "QUIET_HOURS", attempt)
            return "deferred"
        phone, unusable = reminder_phone(notice.applicant)
        if phone is None:
            return self._skip(timer, case, now, unusable or "NO_PHONE", attempt)
        text = reminder_text(timer.kind, notice, window.closes_at, self.rating_link)
        try:
            message_id = self.sms.send(phone, text)
        except SmsFailed as exc:
            if attempt >= SMS_ATTEMPTS:
                self.timers.finish(timer, "failed", at=now)
                self._record(timer, case, now, "failed", f"SMS_FAILED: {exc.reason}", attempt, phone)
                return "failed"
            self.timers.defer(timer, now + SMS_RETRY_AFTER * attempt)
            self._record(timer, case, now, "deferred", f"SMS_FAILED: {exc.reason}", attempt, phone)
            return "deferred"
        self.timers.finish(timer, "sent", at=now)
        self._record(timer, case, now, "sent", None, attempt, phone, message_id)
        return "sent"

    def _skip(self, timer: Timer, case: StoredCase, now: datetime, reason: str, attempt: int) -> str:
        outcome = f"skipped:{reason}"
        self.timers.finish(timer, outcome, at=now)
        self._record(timer, case, now, "skipped", reason, attempt)
        return outcome

    def _record(
        self,
        timer: Timer,
        case: StoredCase,
        now: datetime,
        outcome: NotificationOutcome,
        reason: str | None,
        attempt: int,
        phone: str | None = None,
        message_id: str | None = None,
    ) -> None:
        self.log.record(
            Notification(
                at=now,
                case_key=timer.case_key,
                case_no=case.notice.case_no,
                kind=timer.kind.value,
                outcome=outcome,
                reason=reason,
                phone=mask_phone(phone) if phone else None,
                channel=self.sms.channel if phone else None,
                message_id=message_id,
                attempt=attempt,
            )
        )
