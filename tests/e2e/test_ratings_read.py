"""People read ratings on the local cloud (R20): signed in through Cognito, scoped by role, masked except
to the auditor, whose every read is in AuditTable; nothing personal in clear in DynamoDB."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES
from tests.e2e.conftest import Hub
from tests.log_search import personal_values

pytestmark = pytest.mark.e2e
SAMPLE = json.loads((SAMPLES / "vertical_system" / "01-bad-realname.json").read_text("utf-8"))
PHONE, ID_NO = SAMPLE["params"]["mobile"], SAMPLE["params"]["userCert"]


def post_rating(hub: Hub, project_no: str) -> str:
    """The sample's rater, on a case of its own (so the pipeline's own posting of the sample stays first),
    rating well: no work order, so the work-order tests' lists stay theirs."""
    params = {**SAMPLE["params"], "projectNo": project_no, "satisfaction": "5", "evalDetail": ""}
    body = json.dumps({"params": params}, ensure_ascii=False).encode()
    status, answer = hub.post("vertical_system", body)
    assert status == 202, answer
    rating_id: str = answer["results"][0]["rating_id"]
    return rating_id


def listed(hub: Hub, user: str, **query: str) -> list[dict]:
    status, body = hub.call("GET", "/v1/ratings", user=user, query=query or None)
    assert status == 200, body
    ratings: list[dict] = body["ratings"]
    return ratings


def test_people_read_ratings_in_their_scope_masked_and_the_auditor_in_clear_audited_R18_R20(hub: Hub) -> None:
    rating_id = post_rating(hub, "PD2026112800001")
    # a department sees its agency's, masked; another agency's or county's department does not see it
    mine = {r["rating"]["rating_id"]: r for r in listed(hub, "market-dept", limit="100")}
    assert mine[rating_id]["rating"]["rater"]["phone"] == PHONE[:3] + "****" + PHONE[-4:]
    assert mine[rating_id]["rating"]["rater"]["id_no"].endswith("1233") and ID_NO not in json.dumps(mine)
    for other in ("police-dept", "other-dept"):
        assert rating_id not in {r["rating"]["rating_id"] for r in listed(hub, other, limit="100")}
    # the county's management sees it; asking in clear is refused with the R20 code
    assert rating_id in {r["rating"]["rating_id"] for r in listed(hub, "ganxian-management", limit="100")}
    status, body = hub.call("GET", "/v1/ratings", user="ganxian-management", query={"unmasked": "true"})
    assert status == 403 and body["errors"][0]["code"] == "PERSONAL_DATA_FORBIDDEN"
    status, body = hub.call("GET", f"/v1/ratings/{rating_id}", user="other-dept")
    assert status == 404 and body["errors"][0]["code"] == "RATING_NOT_FOUND"
    # the auditor reads it in clear, and that read is in the audit log first
    status, body = hub.call("GET", f"/v1/ratings/{rating_id}", user="auditor")
    assert status == 200 and body["rating"]["rater"]["phone"] == PHONE and body["masked"] is False
    audit = hub.cloud.client("dynamodb").scan(TableName=hub.cloud.resources["AuditTable"])["Items"]
    mine_audited = [i for i in audit if rating_id in {v["S"] for v in i["rating_ids"]["L"]}]
    assert mine_audited and mine_audited[-1]["role"]["S"] == "auditor"
    assert PHONE not in json.dumps(audit, ensure_ascii=False)
    # without a token, API Gateway's authorizer refuses before the function
    status, body = hub.call("GET", "/v1/ratings")
    assert status == 401


def test_the_auditor_finds_a_person_by_phone_through_the_hash_index_R20(hub: Hub) -> None:
    rating_id = post_rating(hub, "PD2026112800002")
    status, body = hub.call("POST", "/v1/ratings/lookup", user="auditor", body={"phone": PHONE})
    assert status == 200 and rating_id in {r["rating"]["rating_id"] for r in body["ratings"]}
    status, body = hub.call("POST", "/v1/ratings/lookup", user="operator", body={"id_no": ID_NO})
    assert status == 403 and body["errors"][0]["code"] == "PERSONAL_DATA_FORBIDDEN"


def test_no_sample_phone_id_number_or_name_is_stored_in_clear_R20(hub: Hub) -> None:
    post_rating(hub, "PD2026112800003")
    dynamodb = hub.cloud.client("dynamodb")
    values = personal_values(SAMPLES)
    for table in ("RatingsTable", "CasesTable", "AuditTable"):
        items = dynamodb.scan(TableName=hub.cloud.resources[table])["Items"]
        text = json.dumps(items, default=lambda b: bytes(b).decode("latin-1"), ensure_ascii=False)
        clear = [(v.value, v.sample) for v in values if v.value in text or v.value.encode().decode("latin-1") in text]
        assert clear == [], table


def printed(out: str) -> dict:
    """The command's indented JSON answer, among the one-line JSON logs of the in-process functions."""
    answer, _ = json.JSONDecoder().raw_decode(out[out.index("{\n") :])
    return dict(answer)


def test_hcp_ratings_list_and_show_as_people_R20(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main
    from infra.localcloud.people import id_token

    rating_id = post_rating(hub, "PD2026112800004")
    url = ["--url", hub.cloud.api_url]
    assert main(["ratings", "list", "--limit", "100", "--json", *url, "--token",
                 id_token(hub.cloud.seeded, "market-dept")]) == 0  # fmt: skip
    listed_out = printed(capsys.readouterr().out)
    assert rating_id in {r["rating"]["rating_id"] for r in listed_out["ratings"]}
    assert PHONE not in json.dumps(listed_out)
    auditor = id_token(hub.cloud.seeded, "auditor")
    assert main(["ratings", "show", rating_id, "--json", *url, "--token", auditor]) == 0
    assert printed(capsys.readouterr().out)["rating"]["rater"]["phone"] == PHONE
    operator = id_token(hub.cloud.seeded, "operator")
    assert main(["ratings", "show", rating_id, "--unmasked", *url, "--token", operator]) == 1
    assert "hcp: 403 PERSONAL_DATA_FORBIDDEN" in capsys.readouterr().err  # one line for people
