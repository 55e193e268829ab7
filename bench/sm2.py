"""Cost of SM2 per rating, as a ratio against HMAC-SHA256 signing of the same rating, measured in the same run.

What the forward function pays per rating beyond the national format, per profile:
  - national: build the body and HMAC-SHA256 headers (the baseline);
  - shandong (Epoint): two SM2 encryptions per push (the record and the sign), two pushes (service record,
    evaluation), plus one SM2 decryption of the answer's result;
  - jiangxi: the whole body SM2-encrypted once, plus HMAC-SM3 headers.
And the primitives alone: one SM2 encryption of a record, one decryption, one signature, one verification.

    .venv/bin/python bench/sm2.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.normalize_cmd import content_type_for  # noqa: E402
from connectors.normalize import normalize  # noqa: E402
from connectors.registry import adapter_for  # noqa: E402
from hub.calendar import WorkingDayCalendar  # noqa: E402
from infra.province import sm2  # noqa: E402
from infra.province.client import Credentials, ProvincialClient  # noqa: E402
from infra.province.profile import Codec, ProfileKeys, ProvinceProfile  # noqa: E402
from infra.province.stub import STUB_HUB_SM2_PUBLIC, STUB_PROVINCE_SM2_KEY, stub_credentials  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json"
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


def per_call(fn: Callable[[], object], rounds: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=rounds, number=number)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    [outcome] = normalize(
        adapter_for("kiosk"), SAMPLE.read_bytes(), content_type_for(SAMPLE),
        connector_id="bench", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip
    rating = outcome.rating
    creds = Credentials(**stub_credentials())

    def client(name: str) -> ProvincialClient:
        profile = ProvinceProfile.load(name)
        return ProvincialClient("http://127.0.0.1:9/", creds.app_id, creds.secret, profile=profile, credentials=creds)

    national = ProvincialClient("http://127.0.0.1:9/", creds.app_id, creds.secret)
    shandong, jiangxi = client("shandong"), client("jiangxi")
    province = Codec(
        ProvinceProfile.load("shandong"),
        ProfileKeys(sm2.load_public_key(STUB_HUB_SM2_PUBLIC), sm2.load_private_key(STUB_PROVINCE_SM2_KEY)),
    )
    result = {"code": "200", "msg": "success", "evalId": rating.rating_id}
    answer = json.dumps(province.encode_answer([result], ok=True))

    def shandong_rating() -> None:
        shandong.encode(rating, "service")
        shandong.encode(rating, "evaluate")
        assert shandong._codec is not None
        shandong._codec.decode_answer(200, answer, {})

    record = json.dumps(shandong.profile.record(rating), ensure_ascii=False).encode()  # type: ignore[union-attr]
    key = sm2.load_private_key(creds.sm2_private_key or "")
    cipher = sm2.encrypt(key.public, record)
    signature = sm2.sign(key, record)
    cases: dict[str, Callable[[], object]] = {
        "national: body + HMAC-SHA256 (baseline)": lambda: national.encode(rating),
        "shandong: 2 pushes, 4 SM2 encryptions, 1 answer decryption": shandong_rating,
        "jiangxi: body SM2-encrypted + HMAC-SM3": lambda: jiangxi.encode(rating),
        "SM2 encrypt one record": lambda: sm2.encrypt(key.public, record),
        "SM2 decrypt one record": lambda: sm2.decrypt(key, cipher),
        "SM2 sign one record": lambda: sm2.sign(key, record),
        "SM2 verify one record": lambda: sm2.verify(key.public, record, signature),
    }
    baseline = None
    print(f"record: {len(record)} bytes JSON; rounds: {args.rounds}; per rating, best of rounds")
    for name, fn in cases.items():
        seconds = per_call(fn, args.rounds)
        baseline = baseline or seconds
        print(f"  {name:<62} {seconds * 1e6:>10.1f} µs  {seconds / baseline:>7.1f}× HMAC")


if __name__ == "__main__":
    main()
