"""The reports bucket's port (infra/reports/archive.py): one contract over S3 (moto) and the in-memory fake, and the
ReportReady notice over SNS (moto) — what management's subscription filters on, nothing personal (R19, R20); the
scheduled run's jobs (infra/reports/jobs.py): one contract over SQS (moto) and the fake."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from hub.reports.document import Audience
from hub.reports.periods import parse_period
from infra.reports.archive import (
    InMemoryReportArchive,
    ReportArchive,
    S3ReportArchive,
    SnsReportNotifier,
    ready_message,
)
from infra.reports.jobs import InMemoryReportJobs, ReportJobs, SqsReportJobs, job_target
from infra.reports.service import ReportTarget
from tests.reports_sample import sample_document


@pytest.fixture(params=["s3", "memory"])
def archive(request: pytest.FixtureRequest) -> Iterator[ReportArchive]:
    if request.param == "memory":
        yield InMemoryReportArchive()
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="reports")
        s3.put_bucket_versioning(Bucket="reports", VersioningConfiguration={"Status": "Enabled"})
        yield S3ReportArchive(s3, "reports")


def test_a_report_written_twice_reads_back_as_the_last_one(archive: ReportArchive) -> None:
    key = "reports/month/2026-11/360700000000/management.html"
    assert archive.get(key) is None
    archive.put(key, b"<!DOCTYPE html>1", "text/html; charset=utf-8")
    archive.put(key, b"<!DOCTYPE html>2", "text/html; charset=utf-8")
    assert archive.get(key) == b"<!DOCTYPE html>2"
    assert archive.get("reports/month/2026-11/360704000000/management.html") is None


def test_the_ready_notice_carries_the_attributes_management_filters_on_and_no_figures() -> None:
    document = sample_document()
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="work-orders")["TopicArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="county")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={
            "FilterPolicy": json.dumps({"audience": ["managing_department"], "region_code": ["360700000000"]}),
            "RawMessageDelivery": "true"})  # fmt: skip
        SnsReportNotifier(sns, topic).report_ready(document, ["reports/month/2026-11/360700000000/management.html"])
        [message] = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    body = json.loads(message["Body"])
    assert body["event_type"] == "ReportReady" and body["period"] == "2026-11" and body["keys"]
    assert message["MessageAttributes"]["event_type"]["StringValue"] == "ReportReady"
    assert "values" not in body and "王芳" not in message["Body"]  # ids and keys only: no figure, no name
    # a negative control: another county's subscription would not match the city's notice
    _, attributes = ready_message(document, [])
    assert attributes["region_code"] != "360704000000"


# --------------------------------------------------------------------------------------------------
# The scheduled run's jobs (infra/reports/jobs.py): one contract over SQS (moto) and the in-memory fake


def _targets(n: int) -> list[ReportTarget]:
    week = parse_period("2026-W48")
    agencies = [ReportTarget(week, None, f"11360704MB1C{i:06d}", Audience.MANAGEMENT) for i in range(n - 1)]
    return [ReportTarget(week, "360700000000", None, Audience.PUBLIC), *agencies]


@pytest.fixture(params=["sqs", "memory"])
def jobs(request: pytest.FixtureRequest) -> Iterator[tuple[ReportJobs, Callable[[], list[str]]]]:
    if request.param == "memory":
        fake = InMemoryReportJobs()
        yield fake, fake.take
        return
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="reports")["QueueUrl"]

        def take() -> list[str]:
            bodies: list[str] = []
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                bodies += [m["Body"] for m in batch]
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])  # fmt: skip
            return bodies

        yield SqsReportJobs(sqs, url), take


def test_every_target_becomes_one_job_that_names_it_again(jobs: tuple[ReportJobs, Callable[[], list[str]]]) -> None:
    queue, take = jobs
    targets = _targets(23)  # more than one SendMessageBatch of ten
    assert queue.enqueue(targets) == 23
    received = take()
    assert len(received) == 23
    assert sorted(map(job_target, received), key=lambda t: t.scope_key) == sorted(targets, key=lambda t: t.scope_key)


@pytest.mark.parametrize("body", ['{"period": "2026-W48", "audience": "management"}',
                                  '{"period": "2026-W99", "region_code": "360700000000", "audience": "management"}',
                                  '{"period": "2026-11", "region_code": "360700000000", "audience": "everyone"}',
                                  "not json"])  # fmt: skip
def test_a_job_that_names_no_target_fails(body: str) -> None:
    with pytest.raises(ValueError):
        job_target(body)
