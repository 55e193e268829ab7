"""`hcp connectors test|check` as a department uses them, offline, before registering anything."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

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


# -- docs/connectors.md: every command in it runs and answers as the guide shows --

GUIDE = ROOT / "docs" / "connectors.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def guide_blocks() -> list[tuple[str, str]]:
    return _BLOCK.findall(GUIDE.read_text("utf-8"))


def guide_commands() -> list[tuple[str, int, Any]]:
    """(command, expected exit code, expected JSON or None): a ```json block right after a one-command
    ```sh block is what that command prints (all of it, or an abridged part)."""
    blocks, found = guide_blocks(), []
    for i, (lang, body) in enumerate(blocks):
        commands = [line for line in body.splitlines() if line.startswith("hcp connectors ")] if lang == "sh" else []
        for line in commands:
            command, _, comment = line.partition("#")
            code = re.search(r"exit (\d)", comment)
            shown = i + 1 < len(blocks) and blocks[i + 1][0] == "json" and len(commands) == 1
            found.append(
                (command.strip(), int(code.group(1)) if code else 0, json.loads(blocks[i + 1][1]) if shown else None)
            )
    return found


def contains(expected: Any, actual: Any, where: str = "output") -> None:
    """Everything the guide shows is in the output; lists match item by item (same length)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if value is None:
                assert actual.get(key) is None, f"{where}.{key}: expected null, got {actual.get(key)!r}"
            else:
                assert key in actual, f"{where}.{key} is missing"
                contains(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            contains(e, a, f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: the guide shows {expected!r}, the command printed {actual!r}"


def test_the_guide_has_its_commands() -> None:
    commands = guide_commands()
    assert len(commands) >= 6 and sum(1 for _, _, shown in commands if shown is not None) >= 6


@pytest.mark.parametrize(("command", "exit_code", "shown"), guide_commands(), ids=lambda v: str(v)[:60])
def test_every_command_of_the_guide_answers_as_shown(capsys, monkeypatch, command, exit_code, shown) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, *shlex.split(command)[1:])
    assert code == exit_code, out
    if shown is not None:
        contains(shown, out)


def test_the_guide_shows_the_example_specs_as_they_are() -> None:
    yaml_blocks = [body for lang, body in guide_blocks() if lang == "yaml"]
    assert yaml.safe_load(yaml_blocks[0]) == yaml.safe_load((TOWNSHIP / "draft-1.yaml").read_text("utf-8"))
    assert yaml.safe_load(yaml_blocks[1]) == yaml.safe_load((TOWNSHIP / "spec.yaml").read_text("utf-8"))
    hotline = next(json.loads(body) for lang, body in guide_blocks() if lang == "json" and "hotline_12345" in body)
    contains(hotline, json.loads((ROOT / "docs" / "examples" / "hotline" / "spec.json").read_text("utf-8")))


def test_the_guide_names_every_key_field_and_spec_code() -> None:
    from connectors.spec import UNIFIED_FIELDS, ConnectorSpec, FieldRule
    from connectors.spec_loader import SPEC_CODES
    from hub.errors import CATALOG

    text = GUIDE.read_text("utf-8")
    names = [*ConnectorSpec.model_fields, *FieldRule.model_fields, *UNIFIED_FIELDS, *SPEC_CODES]
    assert not [name for name in names if f"`{name}`" not in text]
    codes_section = text[text.index("## 9.") : text.index("## 10.")]
    first_cells = re.findall(r"^\| ([^|]+) \|", codes_section, re.M)
    documented = {code for cell in first_cells for code in re.findall(r"`([A-Z][A-Z_]+)`", cell)}
    assert documented <= set(CATALOG) | set(SPEC_CODES), documented - set(CATALOG) - set(SPEC_CODES)
    rating_codes = {code for code in CATALOG if code.startswith(("BODY_", "FIELD_", "SIGNATURE_", "CONNECTOR_"))}
    rating_codes |= {code for code, (rule, _, _) in CATALOG.items() if rule in {"R1", "R2", "R3", "R4", "R5"}}
    assert rating_codes <= documented, rating_codes - documented
