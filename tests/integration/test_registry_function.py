"""The registry function in-process, over the in-memory connector store: claims in the request context as API
Gateway's Cognito authorizer delivers them (R20: who may register, see and manage which connector)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from functions.registry import make_handler
from infra.bootstrap import build_registry
from infra.memory import InMemoryConnectorStore
from tests.lambda_context import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
MARKET = "11360704MB1C000102"
POLICE = "11360704MB1C000405"
OTHER_COUNTY = "11360702MB1C000105"
USERS = {
    "market-dept": {"cognito:groups": "department", "custom:agency_code": MARKET},
    "police-dept": {"cognito:groups": "department", "custom:agency_code": POLICE},
    "other-dept": {"cognito:groups": "department", "custom:agency_code": OTHER_COUNTY},
    "ganxian-management": {"cognito:groups": "management", "custom:region_code": "360704000000"},
    "operator": {"cognito:groups": "operator"},
    "auditor": {"cognito:groups": "auditor"},
}
HOTLINE = (ROOT / "docs" / "examples" / "hotline" / "spec.json").read_text("utf-8")


def invocation() -> LambdaContext:
    return LambdaContext("hcp-hub-RegistryFunction", 512, "req-1")


class Api:
    def __init__(self) -> None:
        self.store = InMemoryConnectorStore()
        self.handler = make_handler(lambda: build_registry(self.store))

    def __call__(
        self, method: str, path: str, *, user: str | None = "market-dept", body: Any = None,
        raw: bytes | None = None, content_type: str = "application/json", query: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        context: dict[str, Any] = {"requestId": "r-1", "stage": "prod", "path": path}
        if user is not None:
            context["authorizer"] = {"claims": {"sub": f"sub-{user}", "cognito:username": user, **USERS[user]}}
        event = {
            "resource": path, "path": path, "httpMethod": method, "headers": {"Content-Type": content_type},
            "queryStringParameters": query, "body": base64.b64encode(data).decode(), "isBase64Encoded": True,
            "requestContext": context,
        }  # fmt: skip
        answer = self.handler(event, invocation())
        return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv("CONNECTORS_TABLE", "in-memory")
    return Api()


def register(api: Api, user: str = "market-dept", **body: Any) -> tuple[int, Any]:
    return api("POST", "/v1/connectors", user=user, body={"name": "12345 热线", "spec": HOTLINE, **body})


def test_a_department_registers_a_custom_spec_and_sees_the_secret_once(api: Api) -> None:
    status, answer = register(api)
    assert status == 201, answer
    connector = answer["connector"]
    assert connector["kind"] == "custom" and connector["owner_agency"] == MARKET and connector["agencies"] == [MARKET]
    assert answer["secret"] and "secret" not in json.dumps(connector)
    status, shown = api("GET", f"/v1/connectors/{connector['connector_id']}")
    assert status == 200 and answer["secret"] not in json.dumps(shown)


def test_a_spec_failing_its_schema_is_422_with_its_line(api: Api) -> None:
    status, answer = register(api, spec=HOTLINE.replace('"format"', '"formt"'))
    assert status == 422
    assert {e["code"] for e in answer["errors"]} == {"SPEC_INVALID"}
    assert all(isinstance(e["line"], int) for e in answer["errors"])


def test_a_path_matching_nothing_in_the_sample_is_422(api: Api) -> None:
    sample = json.loads((ROOT / "docs" / "examples" / "hotline" / "ratings.json").read_text("utf-8"))
    status, _ = register(api, sample=sample)
    assert status == 201
    status, answer = register(api, spec=HOTLINE.replace('"dept.uscc"', '"dept.creditCode"'), sample=sample)
    assert status == 422 and "SPEC_PATH_UNMATCHED" in {e["code"] for e in answer["errors"]}, answer


def test_r20_a_department_scopes_only_within_its_agencies(api: Api) -> None:
    status, answer = register(api, agencies=[MARKET, POLICE])
    assert status == 403 and answer["errors"][0]["code"] == "SCOPE_INVALID"


def test_r20_another_department_is_forbidden_and_management_reads_its_region(api: Api) -> None:
    _, answer = register(api)
    cid = answer["connector"]["connector_id"]
    assert api("GET", f"/v1/connectors/{cid}", user="police-dept")[0] == 403
    assert api("POST", f"/v1/connectors/{cid}/rotate", user="police-dept")[0] == 403
    assert api("GET", "/v1/connectors", user="police-dept")[1]["connectors"] == []
    assert [c["connector_id"] for c in api("GET", "/v1/connectors", user="ganxian-management")[1]["connectors"]] == [
        cid
    ]
    assert api("POST", f"/v1/connectors/{cid}/disable", user="ganxian-management")[0] == 403
    assert api("GET", "/v1/connectors", user="auditor")[0] == 403
    assert api("GET", "/v1/connectors", user=None)[1]["errors"][0]["code"] == "TOKEN_MISSING"


def test_rotate_gives_a_new_secret_and_the_old_one_a_grace_period(api: Api) -> None:
    _, answer = register(api)
    cid = answer["connector"]["connector_id"]
    status, rotated = api("POST", f"/v1/connectors/{cid}/rotate", query={"grace": "2h"})
    assert status == 200 and rotated["secret"] != answer["secret"]
    stored = api.store.get(cid)
    assert stored is not None and stored.previous_secret == answer["secret"]
    assert api("POST", f"/v1/connectors/{cid}/rotate", query={"grace": "soon"})[0] == 400


def test_dry_run_reads_the_payload_and_checks_scope_storing_nothing(api: Api) -> None:
    """The hotline sample rates a 章贡区 agency: read fine, but outside a 赣县区 department's connector (R20)."""
    _, answer = register(api)
    cid = answer["connector"]["connector_id"]
    payload = (ROOT / "docs" / "examples" / "hotline" / "ratings.json").read_bytes()
    status, report = api("POST", f"/v1/connectors/{cid}/dry-run", raw=payload)
    assert status == 200 and report["outcome"] == "rejected", report
    paths = {(e["code"], e["path"]) for item in report["results"] for e in item.get("errors", [])}
    assert ("CONNECTOR_OUT_OF_SCOPE", "[0].target.agency_code") in paths, report
    _, operator = register(api, user="operator", owner_agency="11360702MB1E00010A")
    status, report = api("POST", f"/v1/connectors/{operator['connector']['connector_id']}/dry-run", raw=payload,
                         user="operator")  # fmt: skip
    assert status == 200 and report["results"][0]["outcome"] == "accepted", report


def test_the_registry_describes_its_routes_publicly(api: Api) -> None:
    status, document = api("GET", "/v1/connectors/openapi.json", user=None)
    assert status == 200 and "/v1/connectors/{connector_id}/rotate" in document["paths"]
    assert document["paths"]["/v1/connectors"]["post"]["security"] == [{"CognitoAuthorizer": []}]


def test_every_connector_answer_is_the_published_connector_contract(api: Api) -> None:
    """schemas/connector.json is what the registry answers (register, read, list, rotate), never a secret."""
    from jsonschema import Draft202012Validator

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "connector.json").read_text("utf-8"))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    _, registered = register(api)
    cid = registered["connector"]["connector_id"]
    _, rotated = api("POST", f"/v1/connectors/{cid}/rotate", query={"grace": "2h"})
    _, one = api("GET", f"/v1/connectors/{cid}")
    _, listed = api("GET", "/v1/connectors")
    views = [registered["connector"], rotated["connector"], one, *listed["connectors"]]
    for view in views:
        assert not list(validator.iter_errors(view)), view
        assert not {"secret", "previous_secret"} & set(view)
    assert rotated["connector"]["previous_key_valid_until"] is not None
    # a view missing a required field is not the contract: the check can fail
    assert list(validator.iter_errors({k: v for k, v in one.items() if k != "owner_agency"}))


REGISTRATION = {"name": "12345 热线", "spec": json.loads(HOTLINE), "settings": {}, "agencies": [MARKET],
                "sample_content_type": "application/json"}  # fmt: skip


@pytest.mark.parametrize(
    ("schema_name", "method", "example"),
    [("connector-registration.json", "POST", REGISTRATION), ("connector-change.json", "PATCH", {"name": "新名称"})],
)
def test_every_forbidden_extra_field_of_the_registry_schemas_is_field_unknown(
    api: Api, schema_name: str, method: str, example: dict[str, Any]
) -> None:
    """Issue 11 item 1: the registry's bodies agree with their published schemas (the spec itself is checked
    against schemas/connector-spec.json by the spec loader, SPEC_INVALID with its line)."""
    from tests.schema_walk import forbidden_extras, schema

    cid = register(api)[1]["connector"]["connector_id"]
    path = "/v1/connectors" if method == "POST" else f"/v1/connectors/{cid}"
    extras = [(at, body) for at, body in forbidden_extras(schema(schema_name), example) if not at.startswith("spec.")]
    assert extras
    for at, body in extras:
        status, answer = api(method, path, body=body)
        assert (status, [(e["code"], e["path"]) for e in answer["errors"]]) == (422, [("FIELD_UNKNOWN", at)])
    status, answer = api(method, path, body={**example, "agencis": [MARKET]})
    assert status == 422 and "did you mean agencies?" in answer["errors"][0]["message"]
    assert api(method, path, body=example)[0] in (200, 201)  # the negative control


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [(b"null", "application/json", 400, "BODY_MALFORMED"), (b"[1, 2]", "application/json", 400, "BODY_MALFORMED"),
     (b'{"name": "a", "name": "b", "kind": "kiosk"}', "application/json", 400, "BODY_MALFORMED"),
     (b'{"name": "a", "kind": "kiosk"}', "text/plain", 415, "CONTENT_TYPE_UNSUPPORTED")],
)  # fmt: skip
def test_a_registration_body_is_read_as_every_json_route_reads_one(
    api: Api, raw: bytes, content_type: str, status: int, code: str
) -> None:
    got, answer = api("POST", "/v1/connectors", raw=raw, content_type=content_type)
    assert (got, [e["code"] for e in answer["errors"]]) == (status, [code])
    assert api("GET", "/v1/connectors")[1]["connectors"] == []  # nothing registered
