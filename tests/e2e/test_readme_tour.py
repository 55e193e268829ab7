"""The README's tour, run as a new user runs it: every `hcp` line of README.md's shell blocks, in order, in a
subprocess against ONE local cloud (its own, fresh as a new `make run`), each comment's claim checked. The lines
are read from README.md itself, so the README and this test cannot drift: a line without a check of its own gets
the generic one (exit 0, or a refusal's status and code when the comment names them), and a check whose line
left the README fails.

Between two commands the due work runs (`run_due`), as `make run`'s pollers would do it within a second; the
comment under `--up` claims the backlog drains "within the next retry", so there the held retries come back.
Structure is read as JSON where the command offers `--json`, or from its output where it prints JSON already,
so the checks hold key values, not layout. Rules: R2, R5, R6, R7, R9, R13, R17, R20.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.hubcloud import HubLocalCloud
from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.e2e
README = ROOT / "README.md"
HCP = Path(sys.executable).with_name("hcp")
# Lines of the README's shell blocks that are not the tour's commands: the make targets, the benchmarks.
NOT_RUN = (re.compile(r"make \S+$"), re.compile(r"\.venv/bin/python bench/\S+\.py( \S+)*$"))
COMMENT = re.compile(r"\s+#\s?")
RATING_ID = re.compile(r"\br[0-9a-f]{32}\b")


@dataclass
class Line:
    command: str
    comment: str
    number: int  # in README.md


def tour_lines(text: str) -> list[Line]:
    """Every line of the ```sh blocks, a comment-only line joined to the command above it."""
    lines: list[Line] = []
    block = False
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("```"):
            block = raw.strip() == "```sh"
            continue
        if not block or not raw.strip():
            continue
        if raw.lstrip().startswith("#"):
            lines[-1].comment += " " + raw.strip().lstrip("#").strip()
            continue
        command, *comment = COMMENT.split(raw.strip(), maxsplit=1)
        lines.append(Line(command.strip(), "".join(comment).strip(), number))
    return lines


@dataclass
class Run:
    code: int
    out: str


@dataclass
class Tour:
    cloud: HubLocalCloud
    ids: dict[str, str] = field(default_factory=dict)  # what later lines refer to, taken from earlier outputs
    no_json: set[tuple[str, ...]] = field(default_factory=set)  # commands that print JSON without `--json`

    def hcp(self, args: list[str]) -> Run:
        env = {**os.environ, "HCP_STATE_DIR": str(self.cloud.state_dir), "COLUMNS": "200"}
        patience = 600 if args[:2] == ["local", "demo-month"] else 120  # two months of ratings, driven
        done = subprocess.run([str(HCP), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=patience)
        return Run(done.returncode, done.stdout + done.stderr)

    def structured(self, args: list[str]) -> Any:
        """The command's answer as JSON: with `--json` where it takes it, else its output (JSON today)."""
        command = tuple(a for a in args if not a.startswith("-"))[:2]
        run = self.hcp(args if command in self.no_json else [*args, "--json"])
        if run.code == 2 and "--json" in run.out:  # not offered: the command prints JSON already
            self.no_json.add(command)
            run = self.hcp(args)
        assert run.code == 0, run.out
        return json.loads(run.out)


def rating_id(run: Run) -> str:
    found = RATING_ID.findall(run.out)
    assert run.code == 0 and found and "accepted" in run.out, run.out
    return found[0]


def items(answer: Any) -> list[dict[str, Any]]:
    return answer if isinstance(answer, list) else answer.get("items", answer.get("results", []))


def notices_of(tour: Tour, order_id: str) -> list[tuple[str, str, str]]:
    listed = tour.structured(["local", "notifications", "--order", order_id])
    return [(m["attributes"]["event_type"], m["attributes"]["audience"],
             m["attributes"].get("agency_code") or m["attributes"].get("region_code", "")) for m in listed]


def sms_of(tour: Tour, case_no: str) -> list[dict[str, Any]]:
    return [e for e in items(tour.structured(["local", "sms"])) if e["case_no"] == case_no]


Check = Callable[[Tour, Run], None]


def _clock_at(text: str) -> Check:
    def check(tour: Tour, run: Run) -> None:
        moved = tour.cloud.clock.now() - datetime.fromisoformat(text)
        assert run.code == 0 and timedelta(0) <= moved < timedelta(seconds=1), run.out
    return check


def _sent(name: str) -> Check:
    def check(tour: Tour, run: Run) -> None:
        tour.ids[name] = rating_id(run)
    return check


def _last_payload_is(name: str) -> Check:
    def check(tour: Tour, run: Run) -> None:
        assert run.code == 0, run.out
        [last] = tour.structured(["local", "province", "--last", "1"])
        assert last["evalId"] == tour.ids[name], last
    return check


def _refused(status: str, code: str, *more: str) -> Check:
    def check(tour: Tour, run: Run) -> None:
        assert run.code != 0 and code in run.out, run.out
        assert status in run.out or '"errors"' in run.out, run.out  # a one-line refusal names it; JSON had no status
        assert all(word in run.out for word in more), (more, run.out)
    return check


def _not_forwarded_yet(tour: Tour, run: Run) -> None:
    assert run.code == 0 and isinstance(tour.structured(["local", "province", "--stats"]), dict), run.out
    assert tour.ids["intermediary"] not in {p["evalId"] for p in tour.cloud.province.received()}
    assert tour.cloud.held()["ForwardQueue"] >= 1  # failed, held for its backoff: the forward function retries


def _backlog_drained(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    assert tour.ids["intermediary"] in {p["evalId"] for p in tour.cloud.province.received()}
    assert tour.cloud.held()["ForwardQueue"] == 0


def _dlq_shown(tour: Tour, run: Run) -> None:
    """Only what the province itself kept failing is there, and it says why: the township rating, not the
    intermediary one that only waited out an outage."""
    assert run.code == 0, run.out
    shown = json.loads(run.out)
    assert shown["messages"] == 1, shown
    [first] = shown["first"]
    assert first["rating_id"] == tour.ids["township"] and "500" in first["reason"], first


def _dlq_redriven(tour: Tour, run: Run) -> None:
    assert run.code == 0 and json.loads(run.out)["redriven"] == 1, run.out
    assert tour.ids["township"] in {p["evalId"] for p in tour.cloud.province.received()}  # "within seconds"


def _order_listed(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    order = f"wo-{tour.ids['vertical']}"
    listed = [item["id"] for item in items(tour.structured(["workorders", "list", "--as", "market-dept"]))]
    assert order in listed and order in run.out, listed
    tour.ids["order"] = order


def _story(tour: Tour, run: Run) -> None:
    assert run.code == 0 and tour.ids["order"] in run.out, run.out
    order = tour.structured(["workorders", "show", tour.ids["order"], "--as", "ganxian-management"])
    events = [event["type"] for event in order["history"]]
    assert events[0] == "WorkOrderDispatched" and len(events) >= 3, events
    assert "13907970001" not in run.out  # R20: masked for management


def _reminded(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    tour.ids["kiosk_order"] = f"wo-{tour.ids['kiosk']}"
    assert ("DeadlineReminded", "unit", "11360704MB1C000405") in notices_of(tour, tour.ids["kiosk_order"])
    assert "2026-11-30 08:00" in run.out and "DeadlineReminded" in run.out, run.out


def _escalated(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    assert ("DeadlineEscalated", "escalation", "360704000000") in notices_of(tour, tour.ids["kiosk_order"])


def _ok(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out


def _outcome_not_adopted(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    [last] = tour.structured(["local", "province", "--outcomes", "--last", "1"])
    assert last["evalId"] == tour.ids["kiosk"] and (last["outcomeType"], last["notAdoptedBy"]) == ("3", "2"), last


def _masked_list(tour: Tour, run: Run) -> None:
    assert run.code == 0 and "139****0001" in run.out and "13907970001" not in run.out, run.out


def _in_clear(tour: Tour, run: Run) -> None:
    assert run.code == 0 and "13907970001" in run.out, run.out


def _looked_up(tour: Tour, run: Run) -> None:
    assert run.code == 0 and tour.ids["vertical"] in run.out, run.out


def _window(tour: Tour, run: Run) -> None:
    assert run.code == 0 and "2026-12-04T23:59:59+08:00" in run.out, run.out


def _first_reminder(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    [entry] = sms_of(tour, "GX2026112700088")
    assert (entry["kind"], entry["outcome"], entry["phone"]) == ("first_reminder", "sent", "139****0004"), entry
    assert entry["message_id"]
    [line] = [line for line in run.out.splitlines() if "GX2026112700088" in line]
    assert line.startswith("2026-11-27 16:55") and "13907970004" not in run.out, line


def _second_reminder(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    assert [(e["kind"], e["outcome"]) for e in sms_of(tour, "GX2026112700088")] == [
        ("first_reminder", "sent"), ("second_reminder", "sent")]  # fmt: skip


def _default_rated(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    [last] = tour.structured(["local", "province", "--last", "1"])
    assert last["projectNo"] == "GX2026112700088", last
    assert (last["isDefault"], last["satisfaction"], last["assessTime"]) == ("1", "4", "2026-12-04 23:59:59"), last


def _contains(*words: str) -> Check:
    def check(tour: Tour, run: Run) -> None:
        assert run.code == 0 and all(w in run.out for w in words), (words, run.out)
    return check


def _nothing(tour: Tour, run: Run) -> None:
    """A line whose claim another line checks (the clock moves; what they made due is checked next)."""
    assert run.code == 0, run.out


# The README's lines whose comments claim more than "it works", in README order (a line may come twice).
# `ID` in a line is replaced by the id named here, taken from an earlier line's output.
def _demo_month(tour: Tour, run: Run) -> None:
    assert run.code == 0 and "ratings accepted" in run.out, run.out
    accepted, posted = map(int, re.findall(r"(\d+) ratings accepted of (\d+)", run.out)[0])
    assert accepted == posted >= 120, run.out  # nothing refused
    written = [m for m in tour.cloud.client("s3").list_objects_v2(Bucket=tour.cloud.resources["ReportsBucket"],
                                                                  Prefix="reports/month/2026-11/").get("Contents", [])]
    assert len(written) >= 3 * 5, written  # the city, its counties, its departments and the public summary


def _county_report(tour: Tour, run: Run) -> None:
    assert run.code == 0, run.out
    assert "赣县区" in run.out and "满意率" in run.out and "窗口工作人员评价排名" in run.out, run.out
    assert "张伟" in run.out and "王芳" in run.out, run.out  # staff by name: the county's own management (R19)


def _wrote(name: str, magic: bytes) -> Check:
    def check(tour: Tour, run: Run) -> None:
        assert run.code == 0, run.out
        path = ROOT / name
        assert path.read_bytes().startswith(magic), path
        path.unlink()
    return check


CHECKS: list[tuple[str, Check, str | None]] = [
    ("hcp clock set 2026-11-28T12:00:00+08:00", _clock_at("2026-11-28T12:00:00+08:00"), None),
    ("hcp send --kind kiosk ../shared/samples/kiosk/01-dissatisfied-labels.json", _sent("kiosk"), None),
    ("hcp local province --last 1", _last_payload_is("kiosk"), None),
    ("hcp send --kind window_device ../shared/samples/window_device/01-very-bad-staff.gbk.form", _sent("window"), None),
    ("hcp send --kind vertical_system ../shared/samples/vertical_system/03-bad-no-reason.json",
     _refused("422", "R2", "path"), None),
    ("hcp send --kind intermediary ../shared/samples/intermediary/01-company-stars.json", _sent("intermediary"), None),
    ("hcp local province --stats", _not_forwarded_yet, None),
    ("hcp local province --up", _backlog_drained, None),
    ("hcp send --kind vertical_system ../shared/samples/vertical_system/02-good-township.gbk.xml",
     _sent("township"), None),
    ("hcp dlq show", _dlq_shown, None),
    ("hcp dlq redrive", _dlq_redriven, None),
    ("hcp clock set 2026-11-28T12:00:00+08:00", _clock_at("2026-11-28T12:00:00+08:00"), None),
    ("hcp send --kind vertical_system ../shared/samples/vertical_system/01-bad-realname.json", _sent("vertical"), None),
    ("hcp workorders list --as market-dept", _order_listed, None),
    ("hcp workorders act ID close --as ganxian-management", _refused("409", "FOLLOW_UP_REQUIRED"), "order"),
    ("hcp workorders show ID --as ganxian-management", _story, "order"),
    ("hcp clock set 2026-11-30T08:00:30+08:00", _nothing, None),
    ("hcp local notifications", _reminded, None),
    ("hcp clock set 2026-12-01T00:00:30+08:00", _escalated, None),
    ("hcp workorders act ID file_appeal --grounds mistaken --reason 非本单位业务 --as police-dept", _ok, "kiosk_order"),
    ("hcp workorders act ID uphold_appeal --finding 经核实系误评 --as ganxian-management", _ok, "kiosk_order"),
    ("hcp local province --outcomes --last 1", _outcome_not_adopted, None),
    ("hcp ratings list --as market-dept", _masked_list, None),
    ("hcp ratings list --unmasked --as operator", _refused("403", "PERSONAL_DATA_FORBIDDEN"), None),
    ("hcp ratings show ID --as auditor", _in_clear, "vertical"),
    ("hcp ratings lookup --phone 13907970001 --as auditor", _looked_up, None),
    ("hcp send --kind cases ../shared/samples/cases/01-completed-no-rating.json", _window, None),
    ("hcp local sms", _first_reminder, None),
    ("hcp clock advance 7d", _second_reminder, None),
    ("hcp local province --last 1", _default_rated, None),
    ("hcp local demo-month --ratings 150", _demo_month, None),
    ("hcp reports show --period 2026-11 --region 360704 --as ganxian-management", _county_report, None),
    ("hcp reports show --period 2026-11 --region 360700 --as ganzhou-management --format html --out report.html",
     _wrote("report.html", b"<!DOCTYPE html>"), None),
    ("hcp reports show --period 2026-11 --region 360700 --public --format xlsx --out public.xlsx",
     _wrote("public.xlsx", b"PK"), None),
    ("hcp calendar due 2026-09-30 10", _contains("2026-10-20"), None),
    ("hcp calendar due 2027-01-29 5 --explain", _contains("provisional"), None),
]
# The ids a line's `ID` stands for, when the line has no check of its own above.
IDS_BY_PREFIX = {"hcp workorders act ID classify": "order", "hcp workorders act ID send_reply": "order"}
REDELIVER_AFTER = {  # "the backlog drains within the next retry"; the 500s of "within ~3 minutes", all five
    "hcp local province --up",
    "hcp send --kind vertical_system ../shared/samples/vertical_system/02-good-township.gbk.xml",
}


def generic(line: Line) -> Check:
    """What any comment claims: a refusal's status and code when it names them, else that the command works."""
    refusal = re.match(r"(4\d\d) ([A-Z][A-Z_]+)", line.comment)
    return _refused(refusal.group(1), refusal.group(2)) if refusal else _ok


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A cloud of its own, as a fresh `make run` is: the samples the tour sends are new to it, and the other
    tests' samples stay new to the session's cloud. Driven, as the session's (infra.localcloud.pytest_plugin)."""
    with HubLocalCloud(state_dir=tmp_path_factory.mktemp("hcp-tour"), driven=True) as cloud:
        yield Tour(cloud)


def test_the_readme_tour_runs_top_to_bottom_on_one_local_cloud_as_its_comments_say(tour: Tour) -> None:
    lines = tour_lines(README.read_text("utf-8"))
    assert not [x for x in lines if not x.command.startswith("hcp ") and not any(p.match(x.command) for p in NOT_RUN)]
    pending = list(CHECKS)
    ran = 0
    for line in lines:
        if not line.command.startswith("hcp "):
            continue
        own = pending[0] if pending and pending[0][0] == line.command else None
        if own is not None:
            pending.pop(0)
        check, id_name = (own[1], own[2]) if own else (generic(line), next(
            (name for prefix, name in IDS_BY_PREFIX.items() if line.command.startswith(prefix)), None))
        args = [_argument(word, tour, id_name, line) for word in shlex.split(line.command)[1:]]
        run = tour.hcp(args)
        tour.cloud.run_due(redeliver=line.command in REDELIVER_AFTER)
        try:
            check(tour, run)
        except AssertionError as failed:
            raise AssertionError(f"README.md:{line.number}: {line.command}  # {line.comment}\n{failed}") from None
        ran += 1
    assert not pending, f"checks whose README line is gone or moved: {[p[0] for p in pending]}"
    assert ran >= 30


def _argument(word: str, tour: Tour, id_name: str | None, line: Line) -> str:
    if word == "ID":
        assert id_name, f"README.md:{line.number}: which id is ID in {line.command!r}? (IDS_BY_PREFIX)"
        return tour.ids[id_name]
    if word.startswith("../shared/samples/"):
        return str(SAMPLES / word.removeprefix("../shared/samples/"))
    return word


def test_the_tour_parser_joins_comment_lines_and_splits_comments() -> None:
    text = "```sh\nhcp a --x 1   # one\n                # two\nhcp b\n```\n```python\nnot = 'run'\n```\n"
    assert [(x.command, x.comment) for x in tour_lines(text)] == [("hcp a --x 1", "one two"), ("hcp b", "")]
