"""End to end: a township department connects a format no built-in family reads, from its spec to a rating at
the provincial stub, through the registry API as docs/connectors.md tells it (issue #4) — and every attack
of the issue refused with its code, nothing of it kept (R20)."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.rating import rating_id_for
from infra.connector_store import CONNECTOR_CACHE_TTL
from infra.signing import sign

from .conftest import BUSINESS_NOW, Hub

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "village-pad"
SPEC = (EXAMPLE / "spec.yaml").read_text("utf-8")
PAYLOAD = (EXAMPLE / "payload.json").read_bytes()
TOWNSHIP = "11360704MB1C000203"


def renumbered(tag: str, payload: bytes = PAYLOAD) -> bytes:
    """The example payload with source ids of its own, so each test's ratings are new."""
    return payload.replace(b"MLZ-PAD-20261128-", f"MLZ-PAD-{tag}-".encode())


def post(
    hub: Hub, connector_id: str, secret: str, body: bytes, *, signed_body: bytes | None = None, nonce: str | None = None
) -> tuple[int, Any]:
    """POST as the connector: signed over `signed_body` when given (a body swapped after signing)."""
    headers = sign(secret, signed_body if signed_body is not None else body, int(time.time()),
                   nonce or secrets.token_hex(16), connector_id=connector_id)  # fmt: skip
    request = urllib.request.Request(
        f"{hub.cloud.api_url}/v1/connectors/{connector_id}/ratings", data=body, method="POST",
        headers={**headers, "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def past_the_connector_copies(hub: Hub) -> None:
    """The business clock (the one the functions' services read) moved past the TTL of a warm ingest function's
    copy of a connector: disabling and a second rotation take effect within it (docs/signing.md)."""
    hub.cloud.move_clock(advance=CONNECTOR_CACHE_TTL + timedelta(seconds=1))


def codes(answer: Any) -> set[str]:
    return {e["code"] for e in (answer or {}).get("errors", [])}


def register(hub: Hub, user: str = "township-unit", **extra: Any) -> tuple[str, str]:
    status, answer = hub.call("POST", "/v1/connectors", user=user, body={"name": "梅林镇代办点平板", "spec": SPEC,
                              "regions": ["360704101"], "sample": PAYLOAD.decode(), **extra})  # fmt: skip
    assert status == 201, answer
    return answer["connector"]["connector_id"], answer["secret"]


def archived(hub: Hub, connector_id: str) -> list[str]:
    s3 = hub.cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=hub.cloud.resources["RawPayloadBucket"], Prefix=f"raw/{connector_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_new_format_goes_from_spec_to_the_province_through_the_registry(hub: Hub) -> None:
    """The guide's walk (docs/connectors.md §11): register with a sample, dry-run, post signed, see it forwarded."""
    # GIVEN a township department's connector for its own agency and township
    status, answer = hub.call("POST", "/v1/connectors", user="township-unit",
                              body={"spec": SPEC, "name": "梅林镇代办点平板", "regions": ["360704101"]})  # fmt: skip
    assert status == 201, answer
    connector_id, secret = answer["connector"]["connector_id"], answer["secret"]
    assert answer["connector"]["owner_agency"] == TOWNSHIP and answer["connector"]["agencies"] == [TOWNSHIP]
    # the secret is shown once: never on reading, listing or to management
    status, shown = hub.call("GET", f"/v1/connectors/{connector_id}", user="township-unit")
    assert status == 200 and secret not in json.dumps(shown)
    status, listed = hub.call("GET", "/v1/connectors", user="ganxian-management")
    assert status == 200 and connector_id in [c["connector_id"] for c in listed["connectors"]]
    assert secret not in json.dumps(listed)
    # WHEN the dry run reads the payload, storing nothing
    body = renumbered("WALK")
    status, report = hub.call("POST", f"/v1/connectors/{connector_id}/dry-run", user="township-unit", body=body,
                              headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 200 and report["outcome"] == "accepted", report
    assert report["results"][0]["rating"]["rater"]["phone"] == "139****0011"  # masked (R20)
    assert archived(hub, connector_id) == []
    # THEN the signed post is accepted and reaches the provincial stub (R9)
    status, answer = post(hub, connector_id, secret, body)
    assert status == 202 and [r["outcome"] for r in answer["results"]] == ["accepted", "accepted"], answer
    ids = [r["rating_id"] for r in answer["results"]]
    hub.cloud.drain()
    assert set(ids) <= set(hub.received_ids()), "the township's ratings at the province"
    forwarded = {p["evalId"]: p for p in hub.province.received()}
    assert forwarded[ids[0]]["deptCode"] == TOWNSHIP and forwarded[ids[0]]["satisfaction"] == "2"


def test_a_spec_failing_its_schema_is_422_with_its_line(hub: Hub) -> None:
    status, answer = hub.call("POST", "/v1/connectors", user="township-unit",
                              body={"spec": SPEC.replace("records: items", "record: items")})  # fmt: skip
    assert status == 422, answer
    lines = {(e["code"], e["path"], e["line"]) for e in answer["errors"]}
    assert ("SPEC_INVALID", "record", 7) in lines, lines


def test_a_path_matching_nothing_in_the_sample_is_422_with_its_line(hub: Hub) -> None:
    status, answer = hub.call("POST", "/v1/connectors", user="township-unit", body={
        "spec": SPEC.replace("target.agency_code: danwei.xydm", "target.agency_code: danwei.uscc"),
        "sample": PAYLOAD.decode(),
    })  # fmt: skip
    assert status == 422, answer
    unmatched = [e for e in answer["errors"] if e["code"] == "SPEC_PATH_UNMATCHED"]
    assert unmatched and unmatched[0]["path"] == "fields.target.agency_code" and unmatched[0]["line"] == 14


def test_bad_signatures_and_replays_are_refused_with_their_codes(hub: Hub) -> None:
    connector_id, secret = register(hub)
    _, other_secret = register(hub)
    body = renumbered("SIG")
    assert codes(post(hub, connector_id, other_secret, body)[1]) == {"SIGNATURE_INVALID"}
    status, answer = post(hub, connector_id, secret, body, signed_body=renumbered("SIGNED"))
    assert (status, codes(answer)) == (401, {"SIGNATURE_INVALID"})
    nonce = secrets.token_hex(16)
    assert post(hub, connector_id, secret, body, nonce=nonce)[0] == 202
    status, answer = post(hub, connector_id, secret, renumbered("REPLAY"), nonce=nonce)
    assert (status, codes(answer)) == (401, {"NONCE_REUSED"})
    assert archived(hub, connector_id) and len(archived(hub, connector_id)) == 1  # only the accepted request


def test_rotation_keeps_the_old_key_for_its_grace_period_then_key_retired(hub: Hub) -> None:
    """The grace period runs on the wall clock, as signatures do, whatever the business clock says."""
    connector_id, old = register(hub)
    hub.cloud.move_clock(set_to=BUSINESS_NOW - timedelta(days=60))
    try:
        status, rotated = hub.call("POST", f"/v1/connectors/{connector_id}/rotate", user="township-unit",
                                   query={"grace": "1h"})  # fmt: skip
    finally:
        hub.cloud.move_clock(set_to=BUSINESS_NOW)
    assert status == 200 and rotated["secret"] != old
    assert post(hub, connector_id, old, renumbered("GRACE"))[0] == 202
    assert post(hub, connector_id, rotated["secret"], renumbered("NEW"))[0] == 202
    status, again = hub.call("POST", f"/v1/connectors/{connector_id}/rotate", user="township-unit",
                             query={"grace": "0s"})  # fmt: skip
    assert status == 200
    past_the_connector_copies(hub)  # the ingest function's copy still holds the second key for up to its TTL
    status, answer = post(hub, connector_id, rotated["secret"], renumbered("AFTER"))
    assert (status, codes(answer)) == (401, {"KEY_RETIRED"})
    # two rotations old: still named for what it is (issue 11 item 4), never accepted
    assert post(hub, connector_id, old, renumbered("OLDEST"))[1]["errors"][0]["code"] == "KEY_RETIRED"
    assert post(hub, connector_id, "never-issued", renumbered("NEVER"))[1]["errors"][0]["code"] == "SIGNATURE_INVALID"
    assert post(hub, connector_id, again["secret"], renumbered("AFTER"))[0] == 202


def test_a_disabled_connector_is_refused(hub: Hub) -> None:
    connector_id, secret = register(hub)
    assert post(hub, connector_id, secret, renumbered("ENABLED"))[0] == 202  # the ingest function keeps a copy
    assert hub.call("POST", f"/v1/connectors/{connector_id}/disable", user="township-unit")[0] == 200
    past_the_connector_copies(hub)
    status, answer = post(hub, connector_id, secret, renumbered("DISABLED"))
    assert (status, codes(answer)) == (403, {"CONNECTOR_DISABLED"})


@pytest.mark.parametrize(
    ("what", "old", "new", "path"),
    [
        ("agency", b'"xydm": "11360704MB1C000203"', b'"xydm": "11360704MB1C000102"', "[0].target.agency_code"),
        ("region", b'"qh": "360704101201"', b'"qh": "360704102201"', "[1].target.region_code"),
    ],
)
def test_r20_a_rating_outside_the_connectors_scope_refuses_the_whole_request(
    hub: Hub, what: str, old: bytes, new: bytes, path: str
) -> None:
    connector_id, secret = register(hub)
    body = renumbered(f"SCOPE-{what}").replace(old, new, 1)
    assert body != renumbered(f"SCOPE-{what}")
    status, answer = post(hub, connector_id, secret, body)
    assert status == 403 and [(e["code"], e["path"]) for e in answer["errors"]] == [("CONNECTOR_OUT_OF_SCOPE", path)]
    # nothing stored, archived or queued: not even the item that was in scope
    store = hub.ratings()
    for source_id in (f"MLZ-PAD-SCOPE-{what}-0001", f"MLZ-PAD-SCOPE-{what}-0002"):
        assert store.get(rating_id_for(connector_id, source_id)) is None
    assert archived(hub, connector_id) == []


def test_r20_case_notices_outside_scope_are_refused_too(hub: Hub) -> None:
    notice = json.loads((Path(__file__).resolve().parents[3] / "shared" / "samples" / "cases" /
                         "01-completed-no-rating.json").read_text("utf-8"))  # fmt: skip
    notice["region_code"] = "360702000000"
    status, answer = hub.post("cases", json.dumps(notice, ensure_ascii=False).encode(), path="/v1/cases")
    assert status == 403 and codes(answer) == {"CONNECTOR_OUT_OF_SCOPE"}, answer


def test_r20_people_see_and_manage_only_their_own_connectors(hub: Hub) -> None:
    connector_id, _ = register(hub)
    assert codes(hub.call("GET", f"/v1/connectors/{connector_id}", user="market-dept")[1]) == {"FORBIDDEN"}
    assert hub.call("PATCH", f"/v1/connectors/{connector_id}", user="police-dept", body={"name": "x"})[0] == 403
    assert hub.call("POST", f"/v1/connectors/{connector_id}/rotate", user="other-dept")[0] == 403
    assert connector_id not in json.dumps(hub.call("GET", "/v1/connectors", user="market-dept")[1])
    assert hub.call("POST", f"/v1/connectors/{connector_id}/disable", user="ganxian-management")[0] == 403
    assert hub.call("GET", "/v1/connectors", user="auditor")[0] == 403
    status, answer = hub.call("POST", "/v1/connectors", user="township-unit",
                              body={"spec": SPEC, "agencies": ["11360704MB1C000102"]})  # fmt: skip
    assert (status, codes(answer)) == (403, {"SCOPE_INVALID"})


def test_registry_calls_without_a_token_or_with_an_expired_one_are_401(hub: Hub) -> None:
    from joserfc import jwk, jwt
    from moto.utilities.utils import load_resource

    from infra.localcloud.people import id_token

    assert codes(hub.call("GET", "/v1/connectors")[1]) == {"TOKEN_MISSING"}
    assert hub.call("POST", "/v1/connectors", body={"spec": SPEC})[0] == 401
    # signed with the identity provider's own key (moto's), so only the expiry is wrong
    token = id_token(hub.cloud.seeded, "township-unit")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    now = int(time.time())
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    expired = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims | {"iat": now - 7200, "exp": now - 3600}, key)
    status, answer = hub.call(
        "POST", "/v1/connectors", body={"spec": SPEC}, headers={"Authorization": f"Bearer {expired}"}
    )
    assert (status, codes(answer)) == (401, {"TOKEN_EXPIRED"})
