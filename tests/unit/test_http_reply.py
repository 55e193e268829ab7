"""The API functions' replies (functions.http.reply) are the JSON text json.dumps wrote, written by orjson
(issue 15 item 3): the same bytes for every answer shape, and json.dumps's own answer where orjson refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.http import dumps, errors, reply
from hub.errors import problem

ANSWERS: dict[str, Any] = {
    "an ingest answer": {"raw_ref": "raw/2026/11/28/k-1", "results": [
        {"index": 0, "outcome": "accepted", "rating_id": "r-1", "errors": []},
        {"index": 1, "outcome": "rejected", "errors": [problem("FIELD_REQUIRED", "grade").as_dict()]},
    ]},
    "Chinese, quotes, control characters": {"message_zh": "请求编号 “r-1”", "text": 'a"b\\c\n\t\x01\u2028'},
    "numbers": {"count": 3, "rate": 0.8571428571428571, "big": 1e22, "negative": -2, "yes": True, "none": None},
    "an int beyond 64 bits": {"n": 1 << 70},
    "int keys": {"by_index": {0: "a", 1: "b"}},
    "a lone surrogate": {"text": "\ud800"},
}  # fmt: skip


@pytest.mark.parametrize("name", ANSWERS)
def test_every_answer_reads_as_json_dumps_wrote_it(name: str) -> None:
    assert dumps(ANSWERS[name]) == json.dumps(ANSWERS[name], ensure_ascii=False, separators=(",", ":"))


def test_a_reply_is_the_answer_as_compact_json_with_chinese_as_is() -> None:
    answer = reply(202, ANSWERS["an ingest answer"])
    assert (answer.status_code, answer.content_type) == (202, "application/json; charset=utf-8")
    body = str(answer.body)
    assert json.loads(body) == ANSWERS["an ingest answer"] and ", " not in body
    refusal = errors(400, [problem("BODY_EMPTY", "")])
    assert json.loads(str(refusal.body))["errors"][0]["code"] == "BODY_EMPTY" and "\\u" not in str(refusal.body)


def test_what_json_dumps_refused_is_still_refused_and_the_differences_are_the_documented_ones() -> None:
    with pytest.raises(TypeError):
        dumps({"at": datetime(2026, 11, 28, tzinfo=UTC)})  # a bug to see, as before: not silently ISO
    assert dumps({"tiny": 1e-5}) == '{"tiny":0.00001}' and json.loads(dumps({"tiny": 1e-5})) == {"tiny": 1e-5}
    assert dumps({"x": float("nan")}) == '{"x":null}'
