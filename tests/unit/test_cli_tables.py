"""People read tables, scripts read JSON (issue 11, item 9).

The commands run for real against real HTTP servers on loopback: a stand-in hub answering the API's own
shapes (the answers the functions give, as in their tests), and the real provincial stub. Nothing of ours
is mocked; the stand-in hub only plays the network's far end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from cli.table import display_width, refusal_line, table
from infra.province.client import ProvincialClient
from infra.province.mapping import DEFAULT
from infra.province.stub import STUB_APP_ID, STUB_SECRET, ProvinceStub
from tests.unit.test_province_mapping import sample_ratings

# --- display width ------------------------------------------------------------------------------------


def column_starts(line: str, texts: list[str]) -> list[int]:
    """The display column where each of `texts` begins in `line`."""
    starts, offset = [], 0
    for text in texts:
        at = line.index(text, offset)
        starts.append(display_width(line[:at]))
        offset = at + len(text)
    return starts


def test_wide_characters_count_two_cells_and_combining_marks_none() -> None:
    assert display_width("wo-1") == 4
    assert display_width("赣县区") == 6
    assert display_width("，１") == 4  # fullwidth punctuation and digits
    assert display_width("é") == 1  # e + combining acute


def test_columns_align_by_display_width_with_chinese_text() -> None:
    rows = [["wo-1", "赣州市赣县区市场监督管理局", "dispatched"], ["wo-22", "police", "closed"],
            ["wo-333", "赣县区公安局ABC", "replied"]]  # fmt: skip
    lines = table(["ID", "UNIT", "STATUS"], rows).splitlines()

    starts = [column_starts(line, [row[1], row[2]]) for line, row in zip(lines[1:], rows, strict=True)]
    assert len({s[0] for s in starts}) == 1 and len({s[1] for s in starts}) == 1, lines
    assert column_starts(lines[0], ["UNIT", "STATUS"]) == starts[0]
    # the negative control: padded by code points (str.ljust), the Chinese rows would not line up
    naive = [f"{r[0]:<8}{r[1]:<16}{r[2]}" for r in rows]
    assert len({display_width(line[: line.index(r[2])]) for line, r in zip(naive, rows, strict=True)}) > 1


def test_a_long_cell_is_cut_at_its_display_width_with_an_ellipsis() -> None:
    text = table(["ID", "A", "B"], [["wo-1", "赣州市赣县区市场监督管理局", "x"]], widest=9).splitlines()[1]
    assert text.startswith("wo-1  赣州市赣…") and display_width(text.split("  ")[1]) <= 9


def test_a_refusal_is_one_line_with_status_code_and_message_zh() -> None:
    answer = {"errors": [{"code": "FOLLOW_UP_REQUIRED", "path": "", "message": "real name: visit first",
                          "message_zh": "实名差评须先回访"},
                         {"code": "X", "path": "", "message": "", "message_zh": ""}]}  # fmt: skip
    assert refusal_line(409, answer) == "hcp: 409 FOLLOW_UP_REQUIRED 实名差评须先回访 (+1 more; --json for all)"


# --- the API commands, against a real HTTP server on loopback -----------------------------------------

UNIT = {"agency_code": "11360704MB1C000102", "agency_name": "赣州市赣县区市场监督管理局", "region_code": "360704000000",
        "level": "county"}  # fmt: skip
ORDER_SUMMARY = {"id": "wo-ra1", "rating_id": "ra1", "version": 1, "status": "dispatched", "kind": None,
                 "grade": "very_dissatisfied", "real_name": True, "case_no": "GX2026112800001",
                 "service_name": "营业执照",
                 "unit": UNIT, "managing_department": {"region_code": "360704000000", "level": "county"},
                 "dispatched_at": "2026-11-28T04:00:00+00:00",
                 "deadlines": {"reply": "2026-12-01T15:59:59+00:00", "appeal": "2026-12-03T15:59:59+00:00"},
                 "overdue": [], "closed_at": None}  # fmt: skip
RATING = {"case": {"case_no": "K20261128093011", "service_name": "居民身份证换领",
                   "handled_at": "2026-11-28T09:20:00+08:00"},
          "target": {"agency_code": "11360704MB1C000405", "agency_name": "赣州市赣县区公安局",
                     "region_code": "360704000000", "level": "county"},
          "channel": "kiosk", "grade": "dissatisfied", "tags": ["PLATFORM_STABILITY"], "comment": "排队太久",
          "rater": {"type": "person", "phone": "138****0002", "real_name": False},
          "rated_at": "2026-11-28T09:30:00+08:00", "rating_id": "ra30e678ed7ee0fde20d0ea49f471a1d8",
          "source": {"connector_id": "c-kiosk", "kind": "kiosk", "source_rating_id": "K1"}}  # fmt: skip
SHOWN = {"rating": RATING, "stored_at": "2026-11-28T04:00:01+00:00", "delivery": "forwarded", "receipt": None,
         "adopted": True, "not_adopted_by": None}  # fmt: skip
CONNECTOR = {"connector_id": "c-kiosk", "name": "赣县区政务服务中心自助终端 (demo)", "kind": "kiosk",
             "department": "赣州市赣县区行政服务中心", "owner_agency": "11360704MB1C000014", "agencies": [],
             "regions": ["360704"], "status": "active", "spec": None, "settings": {},
             "previous_key_valid_until": None, "created_at": "2026-11-28T04:00:00+00:00",
             "updated_at": "2026-11-28T04:00:00+00:00"}  # fmt: skip
REFUSED = {"errors": [{"code": "FOLLOW_UP_REQUIRED", "path": "", "message": "a real-name order needs a visit",
                       "message_zh": "实名差评工单须先回访", "rule": "R13"}]}  # fmt: skip
ACTED = {"order": {**ORDER_SUMMARY, "version": 2, "status": "simple", "kind": "simple",
                   "open_deadlines": {"reply": {"date": "2026-12-01", "provisional": False}}},
         "event": {"type": "OrderClassified", "kind": "simple", "version": 2}}  # fmt: skip
ANSWERS: dict[tuple[str, str], tuple[int, Any]] = {
    ("GET", "/v1/work-orders"): (200, {"items": [ORDER_SUMMARY], "next_cursor": "abc"}),
    ("POST", "/v1/work-orders/wo-ra1/actions"): (200, ACTED),
    ("POST", "/v1/work-orders/wo-closed/actions"): (409, REFUSED),
    ("GET", "/v1/ratings"): (200, {"ratings": [SHOWN], "cursor": None, "from": "2026-10-29T00:00:00+08:00",
                                   "to": "2026-11-28T12:00:00+08:00", "masked": True}),
    ("GET", f"/v1/ratings/{RATING['rating_id']}"): (200, {**SHOWN, "masked": True}),
    ("GET", "/v1/connectors"): (200, {"connectors": [CONNECTOR]}),
    ("GET", "/v1/connectors/c-kiosk"): (200, CONNECTOR),
}


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    """A real HTTP server on loopback answering the API's shapes; records what it was sent."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            status, body = ANSWERS.get((self.command, path), (404, {"errors": [
                {"code": "ROUTE_UNKNOWN", "path": "", "message": path, "message_zh": "没有这个接口"}]}))  # fmt: skip
            if self.headers.get("Authorization") != "Bearer t0ken":
                status, body = 401, {"errors": [{"code": "TOKEN_MISSING", "path": "Authorization", "message": "",
                                                 "message_zh": "缺少身份令牌"}]}  # fmt: skip
            Handler.last_body = sent
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _answer
        last_body = b""

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hcp(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_workorders_list_is_a_table_with_ids_first_and_json_on_asking(
    hub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = hcp(capsys, "workorders", "list", "--url", hub, "--token", "t0ken")
    header, row, more = out.splitlines()
    assert code == 0 and header.startswith("ID ") and row.startswith("wo-ra1 ")
    assert "赣州市赣县区市场监督管理局" in row and "GX2026112800001" in row and "reply 2026-12-01 23:59" in row
    assert more == "more: --cursor abc"
    assert column_starts(header, ["STATUS", "GRADE"]) == column_starts(row, ["dispatched", "very_dissatisfied"])

    code, out, _ = hcp(capsys, "workorders", "list", "--json", "--url", hub, "--token", "t0ken")
    assert code == 0 and json.loads(out) == {"items": [ORDER_SUMMARY], "next_cursor": "abc"}


def test_workorders_act_says_what_it_did_and_a_refusal_is_one_line_on_stderr(
    hub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = hcp(capsys, "workorders", "act", "wo-ra1", "classify", "--kind", "simple", "--url", hub,
                       "--token", "t0ken")  # fmt: skip
    assert code == 0
    assert out.splitlines() == ["wo-ra1  version 2  simple: classified simple", "open deadlines: reply 2026-12-01"]

    code, out, err = hcp(capsys, "workorders", "act", "wo-closed", "close", "--url", hub, "--token", "t0ken")
    assert (code, out) == (1, "")
    assert err.splitlines() == ["hcp: 409 FOLLOW_UP_REQUIRED 实名差评工单须先回访"]

    code, out, err = hcp(capsys, "workorders", "act", "wo-closed", "close", "--url", hub, "--token", "t0ken", "--json")
    assert code == 1 and json.loads(out) == REFUSED and err.startswith("hcp: 409 FOLLOW_UP_REQUIRED")


def test_workorders_act_help_lists_every_action_with_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["workorders", "act", "--help"])
    text = capsys.readouterr().out
    assert "classify               --kind {simple,complex}" in text
    assert "request_extension      --reason TEXT --until DATE [--document-ref TEXT]" in text
    for action in ("send_reply", "record_contact", "resolve", "file_appeal", "uphold_appeal", "close"):
        assert f"\n  {action} " in text or f"\n  {action}\n" in text


def test_ratings_list_and_show_for_people_and_for_scripts(hub: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = hcp(capsys, "ratings", "list", "--url", hub, "--token", "t0ken")
    header, row = out.splitlines()
    assert code == 0 and header.startswith("RATING ") and row.startswith(RATING["rating_id"])
    assert "2026-11-28 09:30" in row and "138****0002" in row and "赣州市赣县区公安局" in row
    assert column_starts(header, ["CASE", "PHONE"]) == column_starts(row, ["K20261128093011", "138****0002"])

    code, out, _ = hcp(capsys, "ratings", "show", RATING["rating_id"], "--url", hub, "--token", "t0ken")
    pairs = [line.split(None, 1) for line in out.splitlines()]
    assert code == 0 and ["target.agency_name", "赣州市赣县区公安局"] in pairs and ["delivery", "forwarded"] in pairs
    assert len({display_width(line) - display_width(line.split(None, 1)[1]) for line in out.splitlines()}) == 1
    code, out, _ = hcp(capsys, "ratings", "show", RATING["rating_id"], "--json", "--url", hub, "--token", "t0ken")
    assert json.loads(out)["rating"] == RATING

    code, out, err = hcp(capsys, "ratings", "list", "--url", hub, "--token", "wrong")
    assert (code, out, err.strip()) == (1, "", "hcp: 401 TOKEN_MISSING 缺少身份令牌 (Authorization)")


def test_connectors_list_and_show(hub: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = hcp(capsys, "connectors", "list", "--url", hub, "--token", "t0ken")
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["ID", "KIND", "STATUS", "NAME", "AGENCIES", "REGIONS"]
    assert row.startswith("c-kiosk  kiosk") and row.endswith("360704")
    code, out, _ = hcp(capsys, "connectors", "show", "c-kiosk", "--url", hub, "--token", "t0ken")
    assert ["department", "赣州市赣县区行政服务中心"] in [line.split(None, 1) for line in out.splitlines()]
    code, out, _ = hcp(capsys, "connectors", "list", "--json", "--url", hub, "--token", "t0ken")
    assert json.loads(out) == {"connectors": [CONNECTOR]}


# --- hcp local province, against the real provincial stub ---------------------------------------------


@pytest.fixture
def province(tmp_path: Path) -> Iterator[tuple[ProvinceStub, str]]:
    with ProvinceStub() as stub:
        (tmp_path / "local.json").write_text(json.dumps({"province_url": stub.url}), "utf-8")
        yield stub, str(tmp_path)


def test_local_province_lists_a_table_one_record_whole_and_json(
    province: tuple[ProvinceStub, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, state = province
    client = ProvincialClient(stub.ratings_url, STUB_APP_ID, STUB_SECRET, DEFAULT, timeout=(0.5, 2))
    ratings = list(sample_ratings().values())[:3]
    for rating in ratings:
        client.send(rating)

    code, out, _ = hcp(capsys, "local", "province", "--state-dir", state)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["evalId", "assessTime", "satisfaction", "isDefault", "deptName",
                                              "projectNo", "pf"]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [r.rating_id for r in ratings]
    code, out, _ = hcp(capsys, "local", "province", "--last", "1", "--state-dir", state)
    assert f"evalId             {ratings[-1].rating_id}" in out.splitlines()
    assert any(line.startswith("isDefault ") for line in out.splitlines())
    code, out, _ = hcp(capsys, "local", "province", "--json", "--state-dir", state)
    assert [r["evalId"] for r in json.loads(out)] == [r.rating_id for r in ratings]


def test_local_province_down_then_stats_tell_the_story(
    province: tuple[ProvinceStub, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, state = province
    stub.set_faults(error_rate=0.5, seed=1)
    code, out, _ = hcp(capsys, "local", "province", "--down", "--state-dir", state)
    assert out.strip() == "province: DOWN (every rating connection is reset, unanswered)"
    assert stub.faults()["error_rate"] == 0.5  # the knobs not named stay as they were
    code, out, _ = hcp(capsys, "local", "province", "--stats", "--state-dir", state)
    lines = out.splitlines()
    assert lines[0].startswith("province stub") and "DOWN" in lines[0]
    assert lines[1].startswith("accepted           0 ratings and outcomes")
    code, out, _ = hcp(capsys, "local", "province", "--up", "--state-dir", state)
    assert (code, out.strip()) == (0, "province: up, no faults")


# --- hcp local sms and notifications: their rows (the e2e tests run them on the real local cloud) -------


def test_local_sms_and_notifications_are_aligned_tables() -> None:
    from cli import notifications_cmd, sms_cmd

    entries = [{"at": "2026-11-27T08:55:00+00:00", "case_no": "GX2026112700088", "kind": "first_reminder",
                "phone": "139****0004", "outcome": "sent", "channel": "sns", "message_id": "m-1"},
               {"at": "2026-11-27T09:00:00+00:00", "case_no": "E2E-LANDLINE", "kind": "first_reminder",
                "phone": None, "outcome": "skipped", "reason": "PHONE_NOT_MOBILE"}]  # fmt: skip
    lines = table(sms_cmd.COLUMNS, [sms_cmd.row(e) for e in entries]).splitlines()
    assert lines[1].split() == ["2026-11-27", "16:55:00", "GX2026112700088", "first_reminder", "139****0004", "sent",
                                "sns", "m-1"]  # fmt: skip
    assert "skipped (PHONE_NOT_MOBILE)" in lines[2]
    assert len({line.index("first_reminder") for line in lines[1:]}) == 1

    notice = {"message": {"at": "2026-11-30T00:00:31+00:00", "order_id": "wo-ra1", "deadline": "reply",
                          "due_at": "2026-11-30T15:59:59+00:00"},
              "attributes": {"audience": "unit", "agency_code": "11360704MB1C000405", "event_type": "DeadlineReminded"}}
    row = table(notifications_cmd.COLUMNS, [notifications_cmd.row(notice)]).splitlines()[1]
    assert row.split()[:6] == ["2026-11-30", "08:00:31", "DeadlineReminded", "unit", "11360704MB1C000405", "wo-ra1"]
