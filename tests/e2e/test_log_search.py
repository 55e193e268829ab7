"""R20: no log line of the whole e2e run holds a phone, ID number or rater/applicant name of the samples.

Runs last (tests/e2e/conftest.py orders it), over every line the session's `log_capture` kept: the
Powertools JSON lines of every function, the std logging root, the local cloud's own. It first drives
the paths that handle personal data itself, so it means something when run alone too. That it can
fail is shown in tests/unit/test_log_search.py.
"""

from __future__ import annotations

import json

import pytest

from cli.normalize_cmd import content_type_for
from tests.conftest import SAMPLES, sample_files
from tests.e2e.conftest import Hub
from tests.log_search import LogCapture, leaks, personal_values

pytestmark = pytest.mark.e2e


def test_no_log_line_of_the_e2e_run_holds_the_samples_personal_data_R20(hub: Hub, log_capture: LogCapture) -> None:
    # GIVEN every sample posted (a fresh case number each, so what ran before is not a duplicate here)
    for i, sample in enumerate(p for p in sample_files() if p.parent.name != "cases"):
        body = sample.read_bytes().replace(b"GX20261127", f"LS{i:02d}261127".encode())
        hub.post(sample.parent.name, body, content_type_for(sample))
    notice = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
    hub.post("cases", json.dumps([{**notice, "case_no": "LS-CASE-1"}], ensure_ascii=False).encode(), path="/v1/cases")
    # and read by people, in clear by the auditor
    hub.call("GET", "/v1/ratings", user="auditor")
    hub.call("POST", "/v1/ratings/lookup", user="auditor", body={"phone": "13907970001"})
    hub.call("GET", "/v1/ratings", user="operator", query={"unmasked": "true"})
    hub.cloud.drain(30)
    # WHEN every captured line is searched
    lines = log_capture.snapshot()
    assert any(line.logger.startswith("hcp-hub") for line in lines), "no Powertools line was captured"
    found = leaks(lines, personal_values(SAMPLES))
    # THEN nothing is found
    assert not found, f"{len(found)} log line(s) hold personal data (R20):\n" + "\n".join(found[:50])
