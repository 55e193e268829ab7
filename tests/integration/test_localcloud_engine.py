"""The local cloud engine, on a tiny template (tests/fixtures/localcloud): real moto server, real HTTP.

One moto server and one cloud for the module; the fixture handlers record what they receive.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infra.clock import current_clock
from infra.localcloud import LocalCloud
from infra.localcloud.lambdas import EnvironmentConflict, FunctionSpec, merge_environments
from infra.localcloud.motoserver import MotoServer
from infra.localcloud.schedules import Schedule, parse_duration
from infra.localcloud.translate import adapt_for_moto

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "localcloud" / "template.yaml"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def cloud(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("state")
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    local = LocalCloud(FIXTURE, aws_endpoint=moto.endpoint, stack_name=f"engine-{uuid.uuid4().hex[:6]}",
                       parameters={"Greeting": "nihao"}, state_dir=state_dir,
                       seed=lambda c: {"seeded_by": "test", "api_seen": c.api_url})
    local.clock.set(start)
    with local:
        yield local


def handlers(cloud: LocalCloud) -> ModuleType:
    """The module the cloud imported the fixture handlers as (code dir on sys.path, like Lambda)."""
    return sys.modules[cloud.functions["ConsumerFunction"].handler().__module__]


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# --- API ------------------------------------------------------------------------------------------


def test_a_gbk_post_reaches_the_handler_as_a_base64_proxy_event_with_its_path_parameters(cloud: LocalCloud) -> None:
    body = "满意，窗口服务很好".encode("gbk")

    status, headers, raw = http("POST", f"{cloud.api_url}/items/42%2Fa?x=1&x=2&y=3", body,
                                {"Content-Type": "application/json; charset=GBK", "X-Source": "kiosk"})

    assert status == 201
    assert headers["X-Echo"] == "yes"
    event = json.loads(raw)["event"]
    assert event["resource"] == "/items/{item_id}"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"item_id": "42/a"}
    assert event["queryStringParameters"] == {"x": "2", "y": "3"}
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["headers"]["X-Source"] == "kiosk"
    assert event["requestContext"]["stage"] == "test"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_a_utf8_body_arrives_as_text_and_the_stage_prefix_is_accepted(cloud: LocalCloud) -> None:
    status, _, raw = http("POST", f"{cloud.api_url}/test/items/7", '{"grade": "满意"}'.encode(),
                          {"Content-Type": "application/json"})

    event = json.loads(raw)["event"]
    assert status == 201
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"grade": "满意"}
    assert event["path"] == "/items/7"
    assert event["requestContext"]["requestTimeEpoch"] >= int(datetime(2026, 11, 28, tzinfo=UTC).timestamp() * 1000)


def test_an_unknown_route_is_a_json_404(cloud: LocalCloud) -> None:
    status, headers, raw = http("GET", f"{cloud.api_url}/items/42")

    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert "POST /items/{item_id}" in json.loads(raw)["routes"]


@pytest.fixture
def slow_echo(cloud: LocalCloud) -> Iterator[Any]:
    """`GET /slow` held until the test releases it, the echo function's timeout 1 s (Lambda's least)."""
    function = cloud.functions["EchoFunction"]
    spec = function.spec
    function.spec = dataclasses.replace(spec, timeout=1)
    release = sys.modules[function.handler().__module__].release
    release.clear()
    yield function
    release.set()
    function.spec = spec


def test_a_function_past_its_timeout_is_answered_502_as_api_gateway_answers(slow_echo: Any, cloud: LocalCloud) -> None:
    """The proxy integration's function stopped at its timeout gives API Gateway no result: 502, never the
    function's own late answer (issue 16: the local cloud used to wait for it and answer it)."""
    before = slow_echo.limits()

    status, _, raw = http("GET", f"{cloud.api_url}/slow")

    assert (status, json.loads(raw)) == (502, {"message": "Internal server error"})
    assert slow_echo.limits()["timed_out"] == before["timed_out"] + 1


def test_a_function_answering_in_time_is_not_abandoned(slow_echo: Any, cloud: LocalCloud) -> None:
    """The negative control: released at once, the same route answers the function's own 201."""
    handlers_module = sys.modules[slow_echo.handler().__module__]
    handlers_module.release.set()

    status, _, raw = http("GET", f"{cloud.api_url}/slow")

    assert (status, json.loads(raw)) == (201, {"released": True})


def test_a_function_with_a_timeout_beyond_29_s_is_answered_504_at_api_gateways_limit(
    slow_echo: Any, cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API Gateway's integration timeout (29 s, here 1 s) comes first: 504 INTEGRATION_TIMEOUT's default answer."""
    import infra.localcloud.gateway as gateway

    monkeypatch.setattr(gateway, "INTEGRATION_TIMEOUT_S", 1)
    slow_echo.spec = dataclasses.replace(slow_echo.spec, timeout=300)

    status, _, raw = http("GET", f"{cloud.api_url}/slow")

    assert (status, json.loads(raw)) == (504, {"message": "Endpoint request timed out"})


def test_functions_get_the_templates_environment_resolved_and_reach_moto(cloud: LocalCloud) -> None:
    status, _, raw = http("GET", f"{cloud.api_url}/env")

    reply = json.loads(raw)
    assert status == 201
    assert reply["environ"]["FIXTURE_GREETING"] == "nihao"
    assert reply["environ"]["FIXTURE_WORK_QUEUE_URL"].endswith(cloud.resources["WorkQueue"].rsplit("/", 1)[1])
    assert reply["environ"]["FIXTURE_SECRET_ARN"] == cloud.resources["FixtureSecret"]
    assert reply["environ"]["AWS_ENDPOINT_URL"] == cloud.aws_endpoint
    # the secret moto's CloudFormation skips was created by the local cloud, as GenerateSecretString says
    assert reply["secret"]["app_id"] == "fixture"
    assert len(reply["secret"]["secret"]) == 16
    assert reply["function_name"] == cloud.functions["EchoFunction"].spec.name
    assert 0 < reply["remaining_ms"] <= 5000


def test_what_moto_cannot_deploy_is_left_out_and_said(cloud: LocalCloud) -> None:
    left_out = {item.logical_id: item.type for item in cloud.left_out}

    assert left_out["NeverAlarm"] == "AWS::CloudWatch::Alarm"
    assert left_out["FixtureApi"] == "AWS::ApiGateway::RestApi"
    assert "NeverAlarm" in cloud.summary()


def test_the_state_file_has_the_urls_and_what_seed_returned(cloud: LocalCloud) -> None:
    assert cloud.state_dir is not None
    state = json.loads((cloud.state_dir / "local.json").read_text())

    assert state["api_url"] == cloud.api_url
    assert state["aws_endpoint"] == cloud.aws_endpoint
    assert state["seeded_by"] == "test"
    assert state["api_seen"] == cloud.api_url


# --- Queues ---------------------------------------------------------------------------------------


def test_partial_batch_failures_are_retried_then_dead_lettered(cloud: LocalCloud) -> None:
    module = handlers(cloud)
    module.consumed.clear()
    sqs = cloud.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=cloud.resources["WorkQueue"].rsplit("/", 1)[1])["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=cloud.resources["WorkDeadLetterQueue"].rsplit("/", 1)[1])["QueueUrl"]

    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    cloud.drain(timeout=20)

    deliveries: dict[str, list[str]] = {}
    for record in module.consumed:
        deliveries.setdefault(record["body"], []).append(record["receive_count"])
    assert deliveries["ok-1"] == ["1"]
    assert deliveries["ok-2"] == ["1"]
    assert deliveries["fail-1"] == ["1", "2"]  # maxReceiveCount 2, then the dead-letter queue
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["fail-1"]
    assert {r["source"] for r in module.consumed} == {cloud.mappings[0].queue_arn}


def test_an_exception_leaves_the_whole_batch_on_the_queue(cloud: LocalCloud) -> None:
    module = handlers(cloud)
    module.consumed.clear()
    sqs = cloud.client("sqs")
    queue_url = cloud.mappings[0].queue_url

    sqs.send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": "a", "MessageBody": "crash"}, {"Id": "b", "MessageBody": "ok-with-crash"}])
    cloud.drain(timeout=20)

    seen = [r["body"] for r in module.consumed]
    assert seen.count("crash") == 2
    assert seen.count("ok-with-crash") == 2  # retried with the batch it was in, then dead-lettered


def test_mappings_are_read_with_the_templates_batch_settings(cloud: LocalCloud) -> None:
    (mapping,) = cloud.mappings

    assert (mapping.function, mapping.batch_size, mapping.report_batch_item_failures) == ("ConsumerFunction", 5, True)


# --- Schedules and the clock ------------------------------------------------------------------------


def test_advancing_the_clock_fires_the_rule_once_per_move_at_the_latest_due_time(cloud: LocalCloud) -> None:
    module = handlers(cloud)
    module.ticks.clear()
    (rule,) = cloud.rules
    first_due = rule.next_due
    assert first_due is not None

    fired = cloud.move_clock(advance=timedelta(hours=3, minutes=30))

    assert [(f.rule, f.function, f.ok) for f in fired] == [("TickFunctionHourly", "TickFunction", True)]
    assert fired[0].scheduled_time == first_due + timedelta(hours=2)  # passed 3 due times, fired once
    (tick,) = module.ticks
    assert tick["event"]["detail-type"] == "Scheduled Event"
    assert tick["event"]["resources"] == [rule.arn]
    assert tick["now"] >= first_due + timedelta(hours=2, minutes=29)  # the handler reads the cloud's clock
    assert cloud.move_clock(advance=timedelta(minutes=20)) == []
    assert len(cloud.move_clock(advance=timedelta(minutes=20))) == 1


def test_setting_the_clock_back_fires_nothing_and_replans(cloud: LocalCloud) -> None:
    now = cloud.clock.now()

    fired = cloud.move_clock(set_to=now - timedelta(days=1))

    assert fired == []
    (rule,) = cloud.rules
    assert rule.next_due is not None and rule.next_due <= cloud.clock.now() + timedelta(hours=1, seconds=1)
    cloud.move_clock(set_to=now)


def test_the_clock_is_the_process_clock_and_is_driven_over_http(cloud: LocalCloud) -> None:
    assert current_clock() is cloud.clock

    status, _, raw = http("POST", f"{cloud.api_url}/_local/clock", json.dumps({"advance": "2h"}).encode())
    reply = json.loads(raw)

    assert status == 200
    assert [f["function"] for f in reply["fired"]] == ["TickFunction"]
    assert datetime.fromisoformat(reply["now"]) > datetime(2026, 11, 28, tzinfo=UTC)
    status, _, raw = http("POST", f"{cloud.api_url}/_local/clock", json.dumps({"set": "2026-12-01T09:00:00"}).encode())
    assert status == 400 and "offset" in json.loads(raw)["message"]
    status, _, raw = http("GET", f"{cloud.api_url}/_local/status")
    assert status == 200 and "TickFunction" in json.loads(raw)["functions"]


def test_invoke_calls_a_function_directly(cloud: LocalCloud) -> None:
    reply = cloud.invoke("EchoFunction", {"resource": "/items/{item_id}", "direct": True})

    assert json.loads(reply["body"])["event"]["direct"] is True
    with pytest.raises(KeyError, match="EchoFunction"):
        cloud.invoke("NoSuchFunction", {})


def test_a_second_cloud_suspends_the_first_and_restores_its_environment(cloud: LocalCloud, moto: MotoServer) -> None:
    before = dict(os.environ)
    with LocalCloud(FIXTURE, aws_endpoint=moto.endpoint, stack_name=f"nested-{uuid.uuid4().hex[:6]}") as inner:
        assert http("GET", f"{cloud.api_url}/env")[0] == 503
        assert os.environ["FIXTURE_GREETING"] == "hello"
        assert current_clock() is inner.clock
    assert dict(os.environ) == before
    assert current_clock() is cloud.clock
    assert http("GET", f"{cloud.api_url}/env")[0] == 201


# --- Pieces, without a cloud ------------------------------------------------------------------------


def _spec(logical_id: str, **environment: str) -> FunctionSpec:
    return FunctionSpec(logical_id, logical_id, f"arn:{logical_id}", "m.f", Path("."), environment, 3, 128)


def test_two_functions_setting_one_variable_differently_is_an_error() -> None:
    with pytest.raises(EnvironmentConflict, match="TABLE"):
        merge_environments([_spec("A", TABLE="a"), _spec("B", TABLE="b")])


def test_log_labels_may_differ_between_functions() -> None:
    merged, notes = merge_environments([_spec("A", POWERTOOLS_SERVICE_NAME="x", T="1"),
                                        _spec("B", POWERTOOLS_SERVICE_NAME="y", T="1")])

    assert merged == {"POWERTOOLS_SERVICE_NAME": "x", "T": "1"}
    assert "POWERTOOLS_SERVICE_NAME" in notes[0]


def test_whatever_refers_to_a_left_out_resource_is_left_out_too() -> None:
    cfn: dict[str, Any] = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {"SourceArn": {"Fn::Sub": "arn:${Api}/*"}}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    }, "Outputs": {"Url": {"Value": {"Fn::Sub": "https://${Api}.example"}}, "T": {"Value": {"Ref": "Table"}}}}

    adapted, left_out, _ = adapt_for_moto(cfn)

    assert list(adapted["Resources"]) == ["Table"]
    assert list(adapted["Outputs"]) == ["T"]
    assert [item.logical_id for item in left_out] == ["Api", "Permission", "Url"]


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("rate(5 minutes)", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
    ("cron(0 1 * * ? *)", datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 2, 1, 0, tzinfo=UTC)),
    ("cron(30 0 ? * MON-FRI *)", datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 30, 0, 30, tzinfo=UTC)),
    ("cron(0/20 * 1 JAN ? 2027)", datetime(2026, 6, 1, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
])
def test_schedule_expressions(expression: str, after: datetime, expected: datetime) -> None:
    assert Schedule(expression).next_after(after) == expected


def test_durations() -> None:
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration("1w2d3h4m5s") == timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("three days")


# --- hcp clock, against this cloud ------------------------------------------------------------------


def test_hcp_clock_advance_fires_the_schedule_through_the_running_cloud(
        cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    code = main(["clock", "--state-dir", str(cloud.state_dir), "advance", "90m"])

    out = capsys.readouterr().out
    assert code == 0
    assert "fired TickFunctionHourly -> TickFunction" in out
    assert out.startswith("now   ")


def test_hcp_clock_says_clearly_when_no_local_cloud_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    (tmp_path / "local.json").write_text(json.dumps({"api_url": "http://127.0.0.1:9"}))

    assert main(["clock", "--state-dir", str(tmp_path), "show"]) == 1
    assert "does not answer" in capsys.readouterr().err
    assert main(["clock", "--state-dir", str(tmp_path / "nowhere"), "show"]) == 1


# --- Driven: what the tests' fixture runs -------------------------------------------------------------


def test_a_driven_cloud_runs_nothing_by_itself_and_the_due_work_in_the_callers_thread(moto: MotoServer) -> None:
    before = set(threading.enumerate())  # the module's threaded cloud has its pollers and schedule thread
    with LocalCloud(FIXTURE, aws_endpoint=moto.endpoint, stack_name=f"driven-{uuid.uuid4().hex[:6]}",
                    driven=True) as driven:  # fmt: skip
        module = handlers(driven)
        module.consumed.clear()
        module.ticks.clear()
        sqs = driven.client("sqs")
        queue_url = driven.mappings[0].queue_url
        started = driven.clock.now()
        assert not [t for t in set(threading.enumerate()) - before if t.name.startswith(("sqs-", "schedules"))]
        for body in ("ok-1", "fail-1"):
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        assert module.consumed == []  # no poller took them
        assert driven.clock.now() - started < timedelta(milliseconds=1)  # the clock stood (a tick per reading)

        assert driven.drain() == 2
        # the failed one is held (its queue's 1 s timeout would have brought it back): redelivered on request
        assert [r["body"] for r in module.consumed] == ["ok-1", "fail-1"] and driven.held()["WorkQueue"] == 1
        assert driven.drain() == 0
        driven.drain(redeliver=True)
        assert [r["receive_count"] for r in module.consumed if r["body"] == "fail-1"] == ["1", "2"]
        dlq_url = sqs.get_queue_url(QueueName=driven.resources["WorkDeadLetterQueue"].rsplit("/", 1)[1])["QueueUrl"]
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq_url)["Messages"]] == ["fail-1"]  # maxReceiveCount
        assert driven.held()["WorkQueue"] == 0
        assert driven.run_due() == [] and module.ticks == []  # nothing due: the hourly rule waits for the clock
        fired = driven.move_clock(advance=timedelta(hours=1))
        assert [f.function for f in fired] == ["TickFunction"]
        assert timedelta(hours=1) <= module.ticks[0]["now"] - started < timedelta(hours=1, milliseconds=1)
