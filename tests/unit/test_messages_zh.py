"""Every message_zh reads as Chinese (issue 11, item 6): no English prose, no raw Python values.

Latin letters are allowed where a person copies them, not reads them: codes (USCC_CHECK_FAILED), field
paths and identifiers (rater.phone, case_no, X-Hcp-Nonce), the names of formats and standards (JSON,
UTF-8, ISO 8601), and the values the sender sent (they are echoed). Everything else fails, so
"校验位错误：check character is 3, expected 2" and "37 days, 21:56:12.165103" fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cli.schema_cmd import SCHEMA_DIR
from connectors.normalize import normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from hub.errors import CATALOG, Problem, Refused, beijing_time, duration_zh, problem
from hub.workorders import REFUSALS, WorkOrderError
from infra.memory import InMemoryConnectorStore, InMemoryNonceStore
from infra.signing import AuthRefused, sign, verify

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
# Names a person copies rather than reads: formats, standards, protocols, and our header names.
NAMES = {"JSON", "XML", "YAML", "UTF-8", "GBK", "GB18030", "ISO", "JMESPath", "HTTP", "SMS", "ID", "X", "DTD",
         "true", "false", "force", "base64", "Content-Type", "MiB", "KiB", "Unix", "spec",
         "schemas/connector-spec.json", "schemas/calendar-notice.json"}  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_./:+-]*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")  # an echoed value or key, as repr() or JSON shows it
_TIME_PATTERN = re.compile(r"^[yMdHhmsSTZ:./-]+$")  # yyyy-MM-dd HH:mm:ss: a time format a source declares


def _field_names() -> set[str]:
    """Every property name the published schemas define: a field name is copied, not read."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in SCHEMA_DIR.glob("*.json"):
        walk(json.loads(path.read_text("utf-8")))
    return names


FIELD_NAMES = _field_names()
_IDENTIFIER = re.compile(r"^(?:[A-Z0-9_]+|[a-z0-9]+(?:[_.:][a-z0-9_\[\]]+)+|X-Hcp-[A-Za-z]+|[a-z]+/[a-z0-9.+-]+)$")


def latin_words(text: str, values: Iterable[str] = ()) -> list[str]:
    """The Latin words of `text` that are neither identifiers, names of formats, nor echoed values."""
    echoed = " ".join(values)
    found = []
    for word in _WORD.findall(_QUOTED.sub(" ", text)):
        word = word.rstrip(".:-/")
        if not word or word in NAMES or word in FIELD_NAMES or _IDENTIFIER.match(word) or _TIME_PATTERN.match(word):
            continue
        if echoed and word in echoed:
            continue
        if re.fullmatch(r"[A-Z]?[0-9A-HJ-NPQRTUWXY]{17,18}", word):  # a code echoed back (credit code, ID)
            continue
        found.append(word)
    return found


def assert_chinese(p: Problem, *values: str) -> None:
    assert p.message_zh and re.search(r"[\u4e00-\u9fff]", p.message_zh), p
    assert not latin_words(p.message_zh, values), f"{p.code}: {p.message_zh!r} has {latin_words(p.message_zh, values)}"
    assert not re.search(r"\d+ days?, \d|\d:\d\d:\d\d\.\d{6}|T\d\d:\d\d:\d\d[+-]", p.message_zh), p.message_zh


# -- the checker itself (a test that cannot fail is a defect)


@pytest.mark.parametrize(
    "text",
    ["统一社会信用代码校验位错误：check character is 3, expected 2", "评价时间超前：37 days, 21:56:12.165103",
     "请求未签名：no X-Hcp-Nonce", "报文无法解析：JSON: unexpected character"],
)  # fmt: skip
def test_the_checker_fails_on_english_prose_and_python_values(text: str) -> None:
    p = Problem("X", "", "", text)
    with pytest.raises(AssertionError):
        assert_chinese(p)


def test_the_checker_lets_codes_paths_formats_and_values_through() -> None:
    assert_chinese(Problem("X", "", "", "缺少字段 rater.phone（USCC_CHECK_FAILED，JSON，UTF-8，X-Hcp-Nonce）"))
    assert_chinese(Problem("X", "", "", "取值不在码表中：'great'"), "great")


# -- the catalogues, rendered with a value


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_catalog_message_zh_reads_as_chinese(code: str) -> None:
    assert_chinese(problem(code, "", "3"))


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_every_work_order_refusal_reads_as_chinese(code: str) -> None:
    error = WorkOrderError(code, "3")
    assert_chinese(error.as_problem())


# -- what real inputs are refused with

GOOD: dict[str, Any] = {
    "source_rating_id": "WEB-1",
    "case": {"case_no": "GX2026112700045", "handled_at": "2026-11-27T16:02:11+08:00"},
    "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
    "channel": "web", "grade": "dissatisfied", "tags": ["ITEM_MATERIALS"], "comment": "材料要求重复提交",
    "rater": {"type": "person", "phone": "13907970001", "real_name": True},
    "rated_at": "2026-11-28T10:21:33+08:00",
}  # fmt: skip


def unified_problems(body: bytes, content_type: str = "application/json", now: datetime = NOW) -> list[Problem]:
    try:
        outcomes = normalize(adapter_for("unified"), body, content_type, connector_id="t", received_at=now, now=now,
                             calendar=WorkingDayCalendar())  # fmt: skip
    except Refused as exc:
        return exc.problems
    return [p for o in outcomes for p in o.problems]


def changed(**changes: Any) -> bytes:
    record = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        node = record
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return json.dumps(record, ensure_ascii=False).encode()


RATING_CASES = {
    "uscc check": changed(target__agency_code="11360704MB1C000103"),
    "uscc shape": changed(target__agency_code="1136"),
    "region": changed(target__region_code="99"),
    "region shape": changed(target__region_code="36x"),
    "region city digits": changed(target__region_code="360004000000"),
    "level": changed(target__level="city"),
    "phone": changed(rater__phone="12345"),
    "id check": changed(rater__id_no="360721198501011234"),
    "id shape": changed(rater__id_no="3607"),
    "id date": changed(rater__id_no="360721198513011233"),
    "grade": changed(grade="great"),
    "grade type": changed(grade=5),
    "channel": changed(channel="fax"),
    "bad without reason": changed(tags=[], comment=None),
    "staff on web": changed(staff_grade="satisfied"),
    "rated before handled": changed(rated_at="2026-11-26T10:00:00+08:00"),
    "rated in the future": changed(rated_at="2027-01-05T10:00:00+08:00", case__handled_at=None),
    "window closed": changed(rated_at="2026-11-28T11:00:00+08:00", case__handled_at="2026-10-01T10:00:00+08:00"),
    "time": changed(rated_at="yesterday"),
    "too long": changed(comment="长" * 2001),
    "real_name type": changed(rater__real_name="maybe"),
    "unknown": changed(commnet="x"),
    "case_no empty": changed(case__case_no=""),
    "duplicate": json.dumps(GOOD).replace('"grade"', '"grade": "satisfied", "grade"').encode(),
    "null": b"null",
    "malformed": b'{"grade": ',
    "empty": b"  ",
    "undecodable": b'{"comment": "\xff"}',
    "batch": json.dumps([GOOD] * 101).encode(),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(RATING_CASES))
def test_every_rating_refusal_reads_as_chinese(case: str) -> None:
    problems = unified_problems(RATING_CASES[case])
    assert problems, case
    for p in problems:
        assert_chinese(p, "great", "fax", "maybe", "commnet", "yesterday", "city", "county", "web")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml; charset=nope"])
def test_content_type_refusals_read_as_chinese(content_type: str) -> None:
    for p in unified_problems(changed(), content_type):
        assert_chinese(p, content_type)


def test_source_family_refusals_read_as_chinese() -> None:
    body = b'{"params": {"projectNo": "GX1", "deptCode": "11360704MB1C000102", "areaCode": "360704", "pf": "9", ' \
           b'"satisfaction": "2", "evalDetail": "ITEM_MATERIALS", "assessTime": "28/11/2026", "assessNumber": "1"}}'
    outcomes = normalize(adapter_for("vertical_system"), body, "application/json", connector_id="t",
                         received_at=NOW, now=NOW, calendar=WorkingDayCalendar())  # fmt: skip
    problems = [p for o in outcomes for p in o.problems]
    assert {p.code for p in problems} >= {"TIME_INVALID", "VALUE_UNMAPPED"}
    for p in problems:
        assert_chinese(p, "28/11/2026", "'9'")
    for body, ct in ((b"<a><b></a>", "application/xml"), (b"<!DOCTYPE x><a/>", "application/xml"),
                     (b"a=%ZZ", "application/x-www-form-urlencoded"), (b"x", "application/x-www-form-urlencoded")):
        kind = "window_device" if "form" in ct else "vertical_system"
        with pytest.raises(Refused) as refused:
            normalize(adapter_for(kind), body, ct, connector_id="t", received_at=NOW, now=NOW,
                      calendar=WorkingDayCalendar())  # fmt: skip
        for p in refused.value.problems:
            assert_chinese(p, "%ZZ", "'x'", "'a=%ZZ'")


def signing_refusals() -> tuple[list[Problem], str]:
    connectors, nonces = InMemoryConnectorStore(), InMemoryNonceStore()
    connector, secret = connectors.create("kiosk", "一号机", "中心", now=NOW)
    cid = connector.connector_id
    wall = datetime.now(UTC)
    ts = int(wall.timestamp())
    found: list[Problem] = []

    def attempt(headers: dict[str, str], now: datetime = wall, path: str | None = None) -> None:
        try:
            verify(headers, b"{}", connectors=connectors, nonces=nonces, now=now, path_connector_id=path)
        except AuthRefused as exc:
            found.extend(exc.problems)

    good = sign(secret, b"{}", ts, connector_id=cid)
    attempt({k: v for k, v in good.items() if k != "X-Hcp-Nonce"})
    attempt({**good, "X-Hcp-Timestamp": "soon"})
    attempt({**good, "X-Hcp-Nonce": "short"})
    attempt(good, path="other-connector")
    attempt({**good, "X-Hcp-Connector": "nobody"})
    attempt({**good, "X-Hcp-Signature": "0" * 64})
    attempt(sign(secret, b"{}", ts - 4000, connector_id=cid))
    attempt(sign(secret, b"{}", ts + 4000, connector_id=cid))
    connectors.rotate(cid, now=wall - timedelta(days=3), grace=timedelta(hours=1))
    attempt(sign(secret, b"{}", ts, connector_id=cid))
    return found, cid


def test_every_signing_refusal_reads_as_chinese() -> None:
    problems, connector_id = signing_refusals()
    assert {p.code for p in problems} == {"SIGNATURE_MISSING", "CONNECTOR_UNKNOWN", "SIGNATURE_INVALID",
                                          "TIMESTAMP_EXPIRED", "KEY_RETIRED"}  # fmt: skip
    for p in problems:
        assert_chinese(p, "nobody", "other-connector", connector_id)


def test_times_and_durations_are_for_people() -> None:
    assert beijing_time(datetime(2026, 11, 28, 4, 0, tzinfo=UTC)) == "2026年11月28日 12:00（北京时间）"
    assert duration_zh(timedelta(days=37, hours=21, minutes=56, seconds=12.165103)) == "37天21小时56分钟"
    assert duration_zh(timedelta(seconds=20)) == "不足1分钟"


def test_real_work_order_refusals_read_as_chinese() -> None:
    from hub.workorders import DeadlineKind, Escalate, SendReply
    from tests.unit.test_workorder import APPEAL, at, new_order, refused, simple

    errors = [
        refused(simple(), APPEAL, when=at("2026-10-11", "00:00")),  # APPEAL_WINDOW_CLOSED, a time
        refused(simple(), Escalate(deadline=DeadlineKind.REPLY), when=at("2026-10-09")),  # ACTION_NOT_FOR_ROLE
        refused(new_order(), SendReply(summary="已处理"), when=at("2026-09-30", "09:00")),  # TIME_BEFORE_HISTORY
    ]
    assert {e.code for e in errors} == {"APPEAL_WINDOW_CLOSED", "ACTION_NOT_FOR_ROLE", "TIME_BEFORE_HISTORY"}
    for error in errors:
        assert_chinese(error.as_problem(), "unit", "escalate", "send_reply")
        assert "年" in error.message_zh or error.code == "ACTION_NOT_FOR_ROLE"


def test_real_access_refusals_read_as_chinese() -> None:
    from hub.access import AccessDenied, principal_from_claims
    from hub.rating_reads import ListRequest, RatingReads
    from infra.memory import InMemoryAuditLog, InMemoryRatingStore

    reads = RatingReads(InMemoryRatingStore(), InMemoryAuditLog())
    market = principal_from_claims({"sub": "s", "cognito:groups": "department", "custom:agency_code": GOOD["target"]
                                    ["agency_code"]})  # fmt: skip
    found: list[AccessDenied] = []
    requests = (ListRequest(region="360702"), ListRequest(agency="11360702MB1C000105"), ListRequest(unmasked="true"))
    for request in requests:
        with pytest.raises(AccessDenied) as refused:
            reads.list(market, request, now=NOW, request_id="r")
        found.append(refused.value)
    for claims in ({"sub": "s"}, {"sub": "s", "cognito:groups": "department"},
                   {"sub": "s", "cognito:groups": "management", "custom:region_code": "x"}):  # fmt: skip
        with pytest.raises(AccessDenied) as refused:
            principal_from_claims(claims)
        found.append(refused.value)
    for exc in found:
        groups = ("department", "management", "auditor", "operator")  # the names of groups, copied
        assert_chinese(problem(exc.code, "", exc.detail, detail_zh=exc.detail_zh), "360702", *groups)
