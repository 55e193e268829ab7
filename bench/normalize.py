"""Per-record cost of bytes -> normalized, validated rating, for each source family's sample.

`connectors.normalize.normalize` is what ingest calls: the compiled fast path (`connectors/fastpath/`), falling
back to the reference path (the spec interpreted, then the pydantic models) for whatever it cannot prove accepted.
Both are timed here, on the same bytes, with the same outcome asserted. Printed as ratios against two baselines
measured in the same run, on the same machine:
  - `orjson.loads` of the same bytes (for non-JSON samples: of the normalized record's JSON), and
  - `jsonschema` Draft 2020-12 validation of the unified record against schemas/rating.json.
Targets (issue 15): <= 8x orjson.loads, and >= 10x faster than the jsonschema validation, for every family.

    .venv/bin/python bench/normalize.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import timeit
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.normalize_cmd import content_type_for  # noqa: E402
from connectors.normalize import normalize, reference_normalize  # noqa: E402
from connectors.registry import adapter_for  # noqa: E402
from hub.calendar import WorkingDayCalendar  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples"
FILES = {
    "vertical_system (JSON)": SAMPLES / "vertical_system" / "01-bad-realname.json",
    "vertical_system (GBK XML)": SAMPLES / "vertical_system" / "02-good-township.gbk.xml",
    "kiosk": SAMPLES / "kiosk" / "01-dissatisfied-labels.json",
    "intermediary": SAMPLES / "intermediary" / "01-company-stars.json",
    "window_device (GBK form)": SAMPLES / "window_device" / "01-very-bad-staff.gbk.form",
}
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


def per_call(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """CPU seconds per call of each of `fns`: the best of `rounds` timings, each long enough to be stable, the
    functions taking turns in every round so that a burst of load on the shared machine falls on all of them alike.
    CPU time (not the wall clock), so that the other processes sharing the machine's cores do not count."""
    timers = [timeit.Timer(fn, timer=time.process_time) for fn in fns]
    numbers = [timer.autorange()[0] for timer in timers]
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, (timer, number) in enumerate(zip(timers, numbers, strict=True)):
            best[i] = min(best[i], timer.timeit(number) / number)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    calendar = WorkingDayCalendar()
    validator = Draft202012Validator(json.loads((ROOT / "schemas" / "rating.json").read_text("utf-8")))
    print("(reference: the path before issue 15, the spec interpreted then the models; fast: what ingest runs now)")
    print(f"{'family':28} {'reference µs':>12} {'fast µs':>8} {'orjson µs':>10} {'×orjson':>8} "
          f"{'jsonschema µs':>14} {'faster':>8}  ≤8× orjson / ≥10× jsonschema")  # fmt: skip
    worst_orjson, worst_schema, all_orjson, all_schema = 0.0, float("inf"), True, True
    for label, path in FILES.items():
        kind = path.parent.name
        adapter = adapter_for(kind)
        body = path.read_bytes()
        content_type = content_type_for(path)
        kwargs = {"connector_id": "bench", "received_at": NOW, "now": NOW, "calendar": calendar}

        def fast(adapter=adapter, body=body, content_type=content_type) -> object:  # type: ignore[no-untyped-def]
            return normalize(adapter, body, content_type, **kwargs)  # noqa: B023

        def reference(adapter=adapter, body=body, content_type=content_type) -> object:  # type: ignore[no-untyped-def]
            return reference_normalize(adapter, body, content_type, **kwargs)  # noqa: B023

        [outcome] = fast()  # type: ignore[misc]
        [expected] = reference()  # type: ignore[misc]
        assert outcome.rating is not None and outcome.rating == expected.rating, label
        rating_json = outcome.rating.model_dump(mode="json")
        raw_json = body if path.suffix == ".json" else orjson.dumps(rating_json)
        t_reference, t_fast, t_orjson, t_schema = per_call(
            [reference, fast, lambda: orjson.loads(raw_json), lambda: validator.validate(rating_json)],  # noqa: B023
            args.rounds,
        )
        ratio_orjson, faster = t_fast / t_orjson, t_schema / t_fast
        met_orjson, met_schema = ratio_orjson <= 8, faster >= 10
        all_orjson, all_schema = all_orjson and met_orjson, all_schema and met_schema
        worst_orjson, worst_schema = max(worst_orjson, ratio_orjson), min(worst_schema, faster)
        verdict = f"{'met' if met_orjson else 'MISSED'} / {'met' if met_schema else 'MISSED'}"
        print(
            f"{label:28} {t_reference * 1e6:12.1f} {t_fast * 1e6:8.1f} {t_orjson * 1e6:10.2f} {ratio_orjson:7.1f}× "
            f"{t_schema * 1e6:14.1f} {faster:7.1f}×  {verdict}"
        )
    print(f"\nworst: {worst_orjson:.1f}× orjson.loads (target ≤ 8×: {'met' if all_orjson else 'MISSED'}); "
          f"{worst_schema:.1f}× faster than jsonschema (target ≥ 10×: {'met' if all_schema else 'MISSED'}), "
          "over every family")  # fmt: skip
    print(f"load average during the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores; ratios within this run are what count)")

if __name__ == "__main__":
    main()
