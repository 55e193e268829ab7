"""`hcp connectors test|check` as a department uses them, offline, before registering anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import ROOT, SAMPLES, sample_files

NOW = "2026-11-28T12:00:00+08:00"
SPECS = ROOT / "connectors" / "specs"
TOWNSHIP = ROOT / "docs" / "examples" / "township"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


@pytest.mark.parametrize(
    "sample", [p for p in sample_files() if p.parent.name != "cases"], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_test_answers_exactly_as_normalize_does(capsys, sample: Path) -> None:
    """One mechanism: a built-in family's spec file, tried as a department's spec, reads the same."""
    spec = SPECS / f"{sample.parent.name}.json"
    code, out, _ = run(capsys, "connectors", "test", "--spec", str(spec), str(sample), "--now", NOW)
    expected_code, expected, _ = run(capsys, "normalize", "--kind", sample.parent.name, str(sample), "--now", NOW)
    assert (code, out) == (expected_code, expected)


def test_an_invalid_spec_exits_2_with_its_problems_located(capsys, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text((TOWNSHIP / "spec.yaml").read_text("utf-8").replace("  comment:", "  commnet:"), "utf-8")
    code, out, _ = run(capsys, "connectors", "test", "--spec", str(spec), str(TOWNSHIP / "batch.gb18030.xml"))
    assert code == 2 and out["outcome"] == "spec_invalid"
    [problem] = out["errors"]
    assert problem["code"] == "SPEC_INVALID" and problem["path"] == "fields.commnet"
    assert problem["line"] == 1 + next(
        i for i, line in enumerate(spec.read_text("utf-8").splitlines()) if "commnet" in line
    )
    assert set(problem) == {"code", "path", "line", "column", "message", "message_zh"}


def test_unusable_arguments_exit_2(capsys, tmp_path: Path) -> None:
    payload = str(TOWNSHIP / "batch.gb18030.xml")
    assert main(["connectors", "test", "--spec", str(tmp_path / "none.yaml"), payload]) == 2
    assert main(["connectors", "test", "--spec", str(TOWNSHIP / "spec.yaml"), str(tmp_path / "none.xml")]) == 2
    odd = tmp_path / "payload.bin"
    odd.write_bytes(b"x")
    assert main(["connectors", "test", "--spec", str(TOWNSHIP / "spec.yaml"), str(odd)]) == 2
    assert main(["connectors", "check", "--spec", str(TOWNSHIP / "spec.yaml"), "--sample", str(odd)]) == 2
    assert "--content-type" in capsys.readouterr().err


def test_paths_that_find_nothing_in_the_payload_are_told_on_stderr(capsys) -> None:
    sample = SAMPLES / "kiosk" / "01-dissatisfied-labels.json"
    code, out, err = run(capsys, "connectors", "test", "--spec", str(SPECS / "kiosk.json"), str(sample), "--now", NOW)
    assert code == 0 and out["outcome"] == "accepted"
    assert "warning" in err and "fields.rater.name" in err and "'user.name'" in err


def test_check_a_valid_spec_alone_and_against_its_sample(capsys) -> None:
    code, out, _ = run(capsys, "connectors", "check", "--spec", str(TOWNSHIP / "spec.yaml"))
    assert code == 0 and out["outcome"] == "valid" and out["kind"] == "township_station"
    code, out, _ = run(
        capsys, "connectors", "check", "--spec", str(TOWNSHIP / "spec.yaml"),
        "--sample", str(TOWNSHIP / "batch.gb18030.xml"),
    )  # fmt: skip
    assert (code, out["errors"], out["warnings"]) == (0, [], [])


def test_check_an_invalid_spec_exits_1_listing_every_problem(capsys) -> None:
    code, out, _ = run(capsys, "connectors", "check", "--spec", str(TOWNSHIP / "draft-1.yaml"))
    assert code == 1 and out["outcome"] == "invalid"
    assert [e["code"] for e in out["errors"]] == [
        "SPEC_TIME_FORMAT_UNKNOWN", "SPEC_PATH_INVALID", "SPEC_PATH_INVALID", "SPEC_VALUE_INVALID", "SPEC_INVALID",
    ]  # fmt: skip


def test_check_against_a_sample_errors_and_warnings(capsys) -> None:
    code, out, _ = run(
        capsys, "connectors", "check", "--spec", str(TOWNSHIP / "draft-2.yaml"),
        "--sample", str(TOWNSHIP / "batch.gb18030.xml"),
    )  # fmt: skip
    assert code == 1 and out["outcome"] == "invalid"
    assert [(e["path"], e["line"]) for e in out["errors"]] == [("fields.target.region_code", 14)]
    assert [(w["path"], w["line"]) for w in out["warnings"]] == [("fields.rater.phone", 20)]
