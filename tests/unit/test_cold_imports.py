"""What the ingest function's cold start imports (issue 15 item 1): Powertools' REST resolver without every other
resolver of its package, and the package still whole for whoever asks a name of its own
(functions.edge.lazy_package). Each check runs in a fresh interpreter: imports are per process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

FIRST_REQUEST = """
import sys
from datetime import datetime

import functions.ingest
from bench.overhead import NOW, Context, event
from infra import bootstrap
from infra.clock import LocalClock

services, fakes = bootstrap.in_memory_ingest(clock=LocalClock(NOW))
connector, secret = fakes["connectors"].create("kiosk", "大厅评价器", "数据局", now=NOW)
reply = functions.ingest.make_handler(build=lambda: services)(event(connector.connector_id, secret, 1), Context())
assert reply["statusCode"] == 202, reply
"""


def run(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "LOG_LEVEL": "WARNING", **env}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_first_request_imports_no_other_resolver_and_no_asyncio() -> None:
    out = run(FIRST_REQUEST + """
handlers, events = "aws_lambda_powertools.event_handler.", "aws_lambda_powertools.utilities.data_classes."
print(sorted(m for m in sys.modules if m == "asyncio" or m.startswith((handlers + "appsync", handlers + "bedrock",
      handlers + "vpc_lattice", events + "sqs", events + "code_pipeline"))))
""")  # fmt: skip
    assert out.strip().splitlines()[-1] == "[]"


def test_the_package_is_whole_for_a_name_of_its_own() -> None:
    out = run(FIRST_REQUEST + """
import aws_lambda_powertools.event_handler as package
from aws_lambda_powertools.event_handler import AppSyncResolver, APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler import api_gateway
assert APIGatewayRestResolver is api_gateway.APIGatewayRestResolver is functions.ingest.APIGatewayRestResolver
assert Response is api_gateway.Response
print(AppSyncResolver.__name__, "asyncio" in sys.modules, len(package.__all__), "__getattr__" in vars(package))
import aws_lambda_powertools.utilities.data_classes as events
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, SQSEvent, event_source
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSEvent as sqs
early, pipeline = APIGatewayProxyEvent, "aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event"
before = pipeline in sys.modules
print(SQSEvent is sqs, before, len(events.__all__))
print(events.APIGatewayProxyEvent is early, pipeline in sys.modules)
""")  # fmt: skip
    lines = out.strip().splitlines()
    assert lines[-3] == "AppSyncResolver True 20 False"
    assert lines[-2] == "True False 45"  # a name from its own submodule; __all__ runs the whole __init__
    assert lines[-1] == "True True"  # and then every event class is there, the same objects


def test_negative_control_the_package_imported_first_pulls_in_asyncio() -> None:
    """The saving is real: imported before `functions`, the package's __init__ runs, AppSync and asyncio with it."""
    out = run("import sys, aws_lambda_powertools.event_handler, functions.ingest; print('asyncio' in sys.modules)")
    assert out.strip() == "True"


# As in Lambda (LAMBDA_TASK_ROOT set, tracing on: template.yaml's `Tracing: Active`); segments go nowhere.
IN_LAMBDA = {"LAMBDA_TASK_ROOT": str(ROOT), "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
             "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
PATCHED = """
import json
from aws_xray_sdk.core import patcher
print(json.dumps([sorted(patcher._PATCHED_MODULES), "sqlite3" in sys.modules]))
"""


def test_in_lambda_the_tracer_patches_botocore_alone() -> None:
    """The ingest function's tracer records its AWS calls (botocore patched); patch_all would import and patch
    sqlite3, httplib, requests... on every cold start for nothing."""
    out = run("import sys\nimport functions.ingest\n" + PATCHED, **IN_LAMBDA)

    assert json.loads(out.strip().splitlines()[-1]) == [["botocore"], False]


def test_negative_control_the_default_tracer_patches_everything_it_finds() -> None:
    out = run("import sys\nfrom aws_lambda_powertools import Tracer\nTracer()\n" + PATCHED, **IN_LAMBDA)

    patched, sqlite3 = json.loads(out.strip().splitlines()[-1])
    assert {"botocore", "sqlite3"} < set(patched) and sqlite3


def test_a_client_is_created_on_its_first_use_once_with_the_hooks_of_its_time() -> None:
    """infra.bootstrap.aws_clients: a service the request never reaches costs nothing; the hooks (the local
    cloud's IAM check) still see every client, the ones registered when the services were built."""
    import botocore.session

    from infra import bootstrap

    created: list[str] = []
    session = botocore.session.get_session()
    session.set_config_variable("region", "cn-north-1")
    bootstrap.CLIENT_HOOKS.append(hook := lambda client: created.append(client.meta.service_model.service_name))
    try:
        clients = bootstrap.aws_clients(session, services=("dynamodb", "s3", "kms"))
    finally:
        bootstrap.CLIENT_HOOKS.remove(hook)

    assert created == [] and not any(c.created for c in clients.values())
    assert clients["dynamodb"].meta.region_name == "cn-north-1"
    assert clients["dynamodb"].exceptions.ConditionalCheckFailedException.__name__ == "ConditionalCheckFailedException"
    assert clients["s3"].meta.endpoint_url == "https://s3.cn-north-1.amazonaws.com.cn"
    assert created == ["dynamodb", "s3"] and not clients["kms"].created


def test_the_collector_runs_rarely_until_the_first_services_are_built_then_the_cold_start_is_frozen() -> None:
    """infra.coldgc: importing a handler raises the thresholds (never switches the collector off); the first
    build of services freezes what the cold start made and puts the thresholds back, once."""
    out = run("""
import gc, json
default = gc.get_threshold()
import functions.ingest
from infra import bootstrap, coldgc
during = gc.get_threshold()
bootstrap.BuiltOnce(lambda: object())()
after, frozen = gc.get_threshold(), gc.get_freeze_count()
bootstrap.BuiltOnce(lambda: object())()
print(json.dumps([default, during, list(coldgc.COLD_START_THRESHOLDS), after, frozen, gc.get_freeze_count(),
                  gc.isenabled()]))
""")
    default, during, raised, after, frozen, frozen_later, enabled = json.loads(out.strip().splitlines()[-1])

    assert during == raised != default and after == default and enabled
    assert frozen > 20_000 and frozen_later == frozen  # the modules, Powertools, pydantic, ...: frozen once
