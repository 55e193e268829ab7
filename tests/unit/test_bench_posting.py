"""The benches' vendor (bench/posting.py) against a real HTTP server on loopback: what it sends again, how it
signs each attempt, and what it reports by status and code (issue 16)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bench.posting import Poster, Tally


class Script:
    """The answers the server gives, one per request, and the requests it saw (headers, body)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        self.seen: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.seen.append((dict(self.headers), body))
            status, headers, payload = script.answers.pop(0)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/connectors/kiosk-1/ratings", script
    httpd.shutdown()


BUSY = (503, {"Retry-After": "5"}, {"errors": [{"code": "HUB_BUSY", "path": "", "message": "m", "message_zh": "忙"}]})
GATEWAY = (502, {}, {"message": "Internal server error"})


def results(*outcomes: str) -> tuple[int, dict[str, str], Any]:
    return 202, {}, {"results": [{"index": i, "outcome": o, "rating_id": f"r{i}"} for i, o in enumerate(outcomes)]}


def test_a_5xx_is_sent_again_signed_afresh_after_its_retry_after_and_duplicates_count_as_accepted(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.answers = [GATEWAY, BUSY, results("duplicate", "accepted")]
    slept: list[float] = []
    tally = Tally()

    posted = Poster(url, "kiosk-1", "secret", sleep=slept.append).post(b"[1,2]", 2)
    tally.add(posted, 0.0)

    assert [a.label for a in posted.answers] == ["502", "503 HUB_BUSY", "202"]
    assert slept == [1.0, 5.0]  # backoff 1 s, then the answer's Retry-After (more than the backoff's 2 s)
    assert {body for _, body in script.seen} == {b"[1,2]"}  # the same body ...
    assert len({headers["X-Hcp-Nonce"] for headers, _ in script.seen}) == 3  # ... each attempt signed afresh
    assert posted.accepted == {"r0": True, "r1": False} and tally.found_stored == 1 and tally.refused == 0
    assert tally.first_answers == {"502": 1}


def test_a_4xx_is_final_and_a_first_duplicate_is_a_refusal_both_reported_by_status_and_code(
    server: tuple[str, Script],
) -> None:
    url, script = server
    unauthorized = (401, {}, {"errors": [{"code": "NONCE_REUSED", "path": "", "message": "m", "message_zh": "重放"}]})
    conflict = {"index": 1, "outcome": "conflict", "rating_id": "r1", "errors": [{"code": "RATING_CONFLICT"}]}
    script.answers = [unauthorized, (202, {}, {"results": [{"index": 0, "outcome": "duplicate", "rating_id": "r0"},
                                                           conflict]})]  # fmt: skip
    tally, poster = Tally(), Poster(url, "kiosk-1", "secret", sleep=lambda s: None)

    tally.add(poster.post(b"[1,2,3]", 3), 0.0)
    tally.add(poster.post(b"[1,2]", 2), 0.0)

    assert len(script.seen) == 2  # neither sent again
    assert tally.never_accepted == {"401 NONCE_REUSED": 3, "202 duplicate": 1, "202 conflict RATING_CONFLICT": 1}
    assert tally.unposted == 0 and tally.posted_at == {}
    assert tally.first_answers == {"401 NONCE_REUSED": 1, "202": 1}


def test_no_answer_at_all_is_sent_again_until_the_attempts_run_out() -> None:
    tally = Tally()
    posted = Poster("http://127.0.0.1:9/closed", "kiosk-1", "secret", attempts=3, sleep=lambda s: None).post(b"[1]", 1)
    tally.add(posted, 0.0)
    assert [a.status for a in posted.answers] == [None, None, None]
    assert tally.unposted == 1 and tally.never_accepted == {"no answer (URLError)": 1}
