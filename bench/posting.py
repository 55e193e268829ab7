"""The benches' kiosk vendor: posts signed batches as a real integrator would, and keeps what it was answered.

A POST answered 5xx or 429, or not answered at all (a timeout, a dropped connection), is sent again: the same
body, signed afresh (a new nonce and timestamp: re-sending the same signed bytes is a replay, docs/signing.md
"Retrying"), at most `attempts` times, backing off (at least the answer's Retry-After). Any other answer is final.
A rating answered `duplicate` on a resend was stored by an attempt whose answer was lost (R8: a re-post of the same
rating is a duplicate, with its rating id), so the vendor counts it as accepted, under that id.

What it keeps, per POST: the first answer (HTTP status and the hub's error `code`, or the exception when none
came), every resend, and each rating's final outcome and code. `Tally` adds them up for the reports: "first
answers by status/code" and "ratings never accepted", by the status/code of the last answer.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.signing import sign

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Answer:
    """One attempt's answer: `status` None when none came (then `error` names the exception)."""

    status: int | None
    code: str | None = None  # the hub's first error code of a 4xx/5xx JSON body
    results: tuple[dict[str, Any], ...] | None = None  # per rating, when the body had them
    error: str | None = None
    retry_after: float | None = None

    @property
    def label(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        return f"{self.status} {self.code}" if self.code else str(self.status)

    @property
    def retried(self) -> bool:
        return self.status is None or self.status in RETRIED_STATUSES


@dataclass(slots=True)
class Posted:
    """A POST with its resends: `accepted` rating id -> whether a resend found it stored already."""

    answers: list[Answer] = field(default_factory=list)
    accepted: dict[str, bool] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # one label per rating not accepted: status and code

    @property
    def first(self) -> Answer:
        return self.answers[0]


def read_answer(status: int | None, body: bytes, retry_after: str | None = None,
                error: str | None = None) -> Answer:  # fmt: skip
    """An attempt's answer from its status and body (a JSON body that is not the hub's keeps only the status)."""
    if status is None:
        return Answer(None, error=error)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    code = None
    results = None
    if isinstance(data, dict):
        problems = data.get("errors")
        if isinstance(problems, list) and problems and isinstance(problems[0], dict):
            code = str(problems[0].get("code") or "") or None
        if isinstance(data.get("results"), list):
            results = tuple(r for r in data["results"] if isinstance(r, dict))
    try:
        after = float(retry_after) if retry_after else None
    except ValueError:
        after = None
    return Answer(status, code, results, retry_after=after)


def rating_code(result: dict[str, Any]) -> str:
    """A rating's outcome and its first problem's code, e.g. `conflict RATING_CONFLICT`."""
    errors = result.get("errors") or []
    code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
    return f"{result.get('outcome')} {code}" if code else str(result.get("outcome"))


class Poster:
    """Posts bodies to one connector's route; thread-safe (each `post` is independent)."""

    def __init__(self, url: str, connector_id: str, secret: str, *, attempts: int = 4, backoff: float = 1.0,
                 timeout: float = 120.0, sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.url, self.connector_id, self.secret = url, connector_id, secret
        self.attempts, self.backoff, self.timeout, self.sleep = attempts, backoff, timeout, sleep

    def attempt(self, body: bytes) -> Answer:
        headers = sign(self.secret, body, int(time.time()), secrets.token_hex(16), connector_id=self.connector_id)
        request = urllib.request.Request(self.url, body, {**headers, "Content-Type": "application/json"},
                                         method="POST")  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return read_answer(response.status, response.read(), response.headers.get("Retry-After"))
        except urllib.error.HTTPError as exc:  # a 4xx/5xx: an answer, with a body
            return read_answer(exc.code, exc.read(), exc.headers.get("Retry-After") if exc.headers else None)
        except OSError as exc:  # no answer: a timeout, a refused or dropped connection
            return Answer(None, error=type(exc).__name__)

    def post(self, body: bytes, ratings: int) -> Posted:
        """Send `body` (`ratings` records) until a final answer or `attempts`; a rating answered `duplicate` after a
        lost answer counts as accepted."""
        posted = Posted()
        for n in range(self.attempts):
            answer = self.attempt(body)
            posted.answers.append(answer)
            if not answer.retried or n == self.attempts - 1:
                break
            self.sleep(max(answer.retry_after or 0.0, self.backoff * 2**n))
        last = posted.answers[-1]
        if last.results is None:
            posted.refused = [last.label] * ratings
            return posted
        lost_before = len(posted.answers) > 1
        for result in last.results:
            rating_id = result.get("rating_id")
            if result.get("outcome") == "accepted" and rating_id:
                posted.accepted[str(rating_id)] = False
            elif result.get("outcome") == "duplicate" and rating_id and lost_before:
                posted.accepted[str(rating_id)] = True
            else:
                posted.refused.append(f"{last.status} {rating_code(result)}")
        return posted


@dataclass
class Tally:
    """The posts of a run added up (thread-safe `add`): rating id -> when its POST first left, and the reports."""

    posted_at: dict[str, float] = field(default_factory=dict)
    first_answers: Counter[str] = field(default_factory=Counter)  # POSTs by their first answer
    never_accepted: Counter[str] = field(default_factory=Counter)  # ratings by their last answer
    resends: int = 0
    posts_resent: int = 0
    found_stored: int = 0  # ratings a resend found stored by an attempt whose answer was lost
    unposted: int = 0  # ratings whose POST never got a final answer (5xx, 429 or none, every attempt)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, posted: Posted, started: float) -> None:
        with self._lock:
            self.first_answers[posted.first.label] += 1
            self.never_accepted.update(posted.refused)
            self.unposted += len(posted.refused) if posted.answers[-1].retried else 0
            self.resends += len(posted.answers) - 1
            self.posts_resent += len(posted.answers) > 1
            self.found_stored += sum(posted.accepted.values())
            for rating_id in posted.accepted:
                self.posted_at[rating_id] = started

    @property
    def refused(self) -> int:
        return sum(self.never_accepted.values())

    def lines(self) -> list[str]:
        """The report: first answers by status/code, ratings never accepted by status/code, the resends."""
        return [
            f"first answers by status/code (POSTs): {_grouped(self.first_answers)}",
            f"ratings never accepted, by the last answer's status/code: {_grouped(self.never_accepted) or 'none'}",
            f"resends: {self.resends} of {self.posts_resent} POSTs; {self.found_stored} ratings a resend found "
            f"stored already (answered duplicate with their rating id: the lost answer's)",
        ]


def _grouped(counts: Counter[str]) -> str:
    return ", ".join(f"{label} x {n}" for label, n in counts.most_common())


def kiosk_body(template: dict[str, Any], numbers: Sequence[int], prefix: str) -> bytes:
    """A batch of the kiosk sample, one order id per number."""
    return json.dumps([{**template, "orderId": f"{prefix}{n:07d}"} for n in numbers], ensure_ascii=False).encode()
