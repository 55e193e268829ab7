"""`hcp province encode`: what an integrator sees is what the stub playing that province accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from infra.province import sm2
from tests.conftest import sample_files

KIOSK = next(p for p in sample_files() if p.parent.name == "kiosk")
NOW = "2026-11-28T12:00:00+08:00"


def encode(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["province", "encode", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_shandong_prints_both_steps_with_each_ciphertext_opened(capsys: pytest.CaptureFixture[str]) -> None:
    out = encode(capsys, "--profile", "shandong", "--kind", "kiosk", "--now", NOW, str(KIOSK))
    service, evaluate = out["pushes"]
    assert (service["step"], evaluate["step"]) == ("service", "evaluate")
    [opened] = evaluate["decrypted"]["txnBodyCom"]["params"]["evaluate"]
    assert opened["decrypted"] == evaluate["record"]
    assert opened["decrypted"]["dataSource"] == "165" and opened["decrypted"]["projectNo"].startswith("37")
    assert json.loads(evaluate["body"])["txnBodyCom"]["params"]["evaluate"][0] != opened  # the wire is ciphertext
    sign = evaluate["decrypted"]["txnBodyCom"]["sign"]["decrypted"]
    assert sign.endswith("hcp-hub<appWord>") and "province-stub-secret" not in json.dumps(out["pushes"][1]["decrypted"])


def test_a_unified_rating_json_encodes_for_the_national_profile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    normalized = encode(capsys, "--profile", "zhejiang", "--kind", "kiosk", "--now", NOW, str(KIOSK))
    record = normalized["pushes"][0]["record"]
    assert record["dataSource"] == "133" and "X-Signature" in normalized["pushes"][0]["headers"]
    assert main(["normalize", "--kind", "kiosk", "--now", NOW, "--show-personal", str(KIOSK)]) == 0
    rating = json.loads(capsys.readouterr().out)["rating"]
    (tmp_path / "rating.json").write_text(json.dumps(rating, ensure_ascii=False))
    out = encode(capsys, "--profile", "national", str(tmp_path / "rating.json"))
    assert json.loads(out["pushes"][0]["body"])["evalId"] == rating["rating_id"]


def test_a_province_key_off_the_curve_or_an_unknown_profile_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["province", "encode", "--profile", "shandong", "--kind", "kiosk", "--province-key",
                 "04" + "11" * 64, str(KIOSK)]) == 2  # fmt: skip
    assert "not a point of the SM2 curve" in capsys.readouterr().err
    assert main(["province", "encode", "--profile", "atlantis", str(KIOSK)]) == 2


def test_with_the_province_key_no_view_is_claimed(capsys: pytest.CaptureFixture[str]) -> None:
    key = sm2.PrivateKey.generate()
    out = encode(capsys, "--profile", "shandong", "--kind", "kiosk", "--now", NOW,
                 "--province-key", key.public.to_pem(), str(KIOSK))  # fmt: skip
    evaluate = out["pushes"][1]
    assert evaluate["decrypted"] is None
    [cipher] = json.loads(evaluate["body"])["txnBodyCom"]["params"]["evaluate"]
    assert json.loads(sm2.decrypt_text(key, cipher)) == evaluate["record"]  # the province's key opens it
