"""The scheduled run's fan-out (issue 13, "generation that fits Lambda at city scale"): one message per report.

A city has ~20 counties and ~300 departments, each report a few seconds of charts: together far more than one
invocation's 300 s. The schedule's invocation only lists the targets (one composition of the city's cells) and
puts one message per target on ReportsQueue; the same function takes them a few at a time (an SQS event source,
partial batch failures), and each message writes its target's HTML, XLSX and JSON and tells its management.

A message names its target only: `{"period": "2026-W48", "region_code": "360704000000", "agency_code": null,
"audience": "management"}`. Handling one again (a redelivery, a re-run) writes the same keys again: a new version
in the versioned bucket, nothing counted twice (a report holds no counter of its own).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from typing import Any

from hub.reports.document import Audience
from hub.reports.periods import parse_period
from infra.reports.service import ReportTarget

SQS_BATCH = 10  # SendMessageBatch takes at most ten entries


def job_message(target: ReportTarget) -> str:
    named = {"period": target.period.key, "region_code": target.region_code, "agency_code": target.agency_code,
             "audience": target.audience.value}  # fmt: skip
    return json.dumps(named, sort_keys=True)


def job_target(body: str) -> ReportTarget:
    """The target a message names; ValueError (or KeyError) when it names none: the message fails, and after the
    queue's receives it waits in the dead-letter queue for a person to look at."""
    data: dict[str, Any] = json.loads(body)
    region, agency = data.get("region_code"), data.get("agency_code")
    if (region is None) == (agency is None):
        raise ValueError("a report job names a region_code or an agency_code")
    return ReportTarget(parse_period(str(data["period"])), region, agency, Audience(data["audience"]))


class ReportJobs(ABC):
    """Where the scheduled run leaves one job per report to write."""

    @abstractmethod
    def enqueue(self, targets: list[ReportTarget]) -> int:
        """Queues one message per target; returns how many."""


class SqsReportJobs(ReportJobs):
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def enqueue(self, targets: list[ReportTarget]) -> int:
        for start in range(0, len(targets), SQS_BATCH):
            chunk = targets[start : start + SQS_BATCH]
            entries = [{"Id": str(i), "MessageBody": job_message(t)} for i, t in enumerate(chunk)]
            answer = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = answer.get("Failed") or []
            for _ in range(3):  # SQS refuses entries of a batch one by one (throttling): send those again
                if not failed:
                    break
                again = [entries[int(f["Id"])] for f in failed]
                failed = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=again).get("Failed") or []
            if failed:
                raise RuntimeError(f"ReportsQueue refused {len(failed)} report jobs: {failed[0].get('Code')}")
        return len(targets)


class InMemoryReportJobs(ReportJobs):
    def __init__(self) -> None:
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def enqueue(self, targets: list[ReportTarget]) -> int:
        with self._lock:
            self.messages += [job_message(t) for t in targets]
        return len(targets)

    def take(self) -> list[str]:
        """Every message queued so far, removed (what a consumer would receive)."""
        with self._lock:
            taken, self.messages = self.messages, []
        return taken
