"""`hcp normalize` as an integrator uses it: one JSON object out, exit 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import ROOT, SAMPLES, expected_for, sample_files

NOW = "2026-11-28T12:00:00+08:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize(
    "sample", [p for p in sample_files() if p.parent.name != "cases"], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_normalize_prints_what_the_expected_file_requires(capsys, sample: Path) -> None:
    code, out = run(capsys, "normalize", "--kind", sample.parent.name, str(sample), "--now", NOW)
    expected = expected_for(sample)
    assert out["outcome"] == expected["outcome"]
    assert code == (0 if expected["outcome"] == "accepted" else 1)
    if code == 1:
        assert {e["rule"] for e in out["errors"]} >= {e["rule"] for e in expected["errors"]}
        assert set(out["errors"][0]) >= {"code", "path", "message", "message_zh", "rule"}


def test_personal_data_is_masked_unless_asked_R20(capsys) -> None:
    sample = str(SAMPLES / "vertical_system" / "01-bad-realname.json")
    _, masked = run(capsys, "normalize", "--kind", "vertical_system", sample, "--now", NOW)
    assert masked["rating"]["rater"] | {"type": "person"} == {
        "type": "person", "name": "王*", "phone": "139****0001", "id_no": "360***********1233",
        "credit_code": None, "real_name": True,
    }  # fmt: skip
    _, clear = run(capsys, "normalize", "--kind", "vertical_system", sample, "--now", NOW, "--show-personal")
    assert clear["rating"]["rater"]["phone"] == "13907970001"


def test_a_rating_made_inside_its_window_is_still_accepted_when_checked_later_R5(capsys) -> None:
    sample = str(SAMPLES / "kiosk" / "01-dissatisfied-labels.json")
    code, out = run(capsys, "normalize", "--kind", "kiosk", sample, "--now", "2026-12-20T09:00:00+08:00")
    # rated inside its window: still accepted later (the rating time counts, not the arrival)
    assert code == 0 and out["outcome"] == "accepted"


def test_unusable_arguments_exit_2(capsys, tmp_path: Path) -> None:
    assert main(["normalize", "--kind", "kiosk", str(tmp_path / "missing.json")]) == 2
    assert main(["normalize", "--kind", "nope", str(SAMPLES / "kiosk" / "01-dissatisfied-labels.json")]) == 2
    assert main(["normalize", "--kind", "kiosk", str(SAMPLES / "kiosk" / "01-dissatisfied-labels.json"),
                 "--now", "yesterday"]) == 2  # fmt: skip
    odd = tmp_path / "payload.bin"
    odd.write_bytes(b"{}")
    assert main(["normalize", "--kind", "kiosk", str(odd)]) == 2
    assert "content type" in capsys.readouterr().err


def test_a_malformed_file_is_a_rejection_not_a_crash(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"orderId": ', "utf-8")
    code, out = run(capsys, "normalize", "--kind", "kiosk", str(bad))
    assert code == 1 and out["errors"][0]["code"] == "BODY_MALFORMED"


def test_the_installed_console_script_runs() -> None:
    sample = SAMPLES / "window_device" / "01-very-bad-staff.gbk.form"
    done = subprocess.run(
        [sys.executable, "-m", "cli", "normalize", "--kind", "window_device", str(sample), "--now", NOW],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rating"]["staff_grade"] == "very_dissatisfied"
