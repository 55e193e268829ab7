"""`make run` as a new user meets it (issue 11, items 12 and 13): the real `hcp local up` in a child process.

A quiet terminal — one short line per request, no traceback when the province is down and the forward
function retries — with the full JSON logs in the file it names at start; and the banner's `aws` example
works as printed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.send_cmd import post_signed
from tests.conftest import ROOT

SAMPLES = ROOT.parent / "shared" / "samples"
START_TIMEOUT = 240  # a cold start on a shared 2-core machine; a deadline, never a sleep


class Terminal:
    """The child's stdout, line by line as it comes (a reader thread), for waiting on what it prints."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream] and None, daemon=True).start()

    def wait_for(self, found: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if found(line):
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line.rstrip("\n"))
            if found(self.lines[-1]):
                return self.lines[-1]
        raise AssertionError(f"no {what} within {timeout} s; the terminal said:\n" + "\n".join(self.lines[-40:]))

    def drain(self) -> str:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return "\n".join(self.lines)
            if line is not None:
                self.lines.append(line.rstrip("\n"))


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[str], Terminal, Path]]:
    state = tmp_path_factory.mktemp("hcp-state")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "local", "up", "--port", "0", "--province-port", "0", "--aws-port", "0",
         "--state-dir", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # the terminal shows both
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    terminal = Terminal(process)
    try:
        terminal.wait_for(lambda line: line.startswith("Running."), START_TIMEOUT, "'Running.'")
        yield process, terminal, state
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _call(url: str, data: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def hcp(capsys: pytest.CaptureFixture[str], state: Path, *argv: str) -> tuple[int, Any]:
    from cli.main import main

    code = main([*argv, "--state-dir", str(state)])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith(("{", "[")) else out


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll what the running cloud answers (its pollers run on the wall clock, in another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout} s")


def test_the_window_device_samples_work_order_names_its_agency(
    make_run: tuple[subprocess.Popen[str], Terminal, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, state = make_run
    local = json.loads((state / "local.json").read_text("utf-8"))
    _call(local["api_url"] + "/_local/clock", json.dumps({"set": "2026-11-28T12:00:00+08:00"}).encode())
    window = local["connectors"]["window_device"]
    url = f"{local['api_url']}/v1/connectors/{window['connector_id']}/ratings"
    body = (SAMPLES / "window_device" / "01-very-bad-staff.gbk.form").read_bytes()
    status, answer = post_signed(url, window["connector_id"], window["secret"], body,
                                 "application/x-www-form-urlencoded; charset=gbk")  # fmt: skip
    assert status == 202, answer
    order_id = f"wo-{answer['results'][0]['rating_id']}"

    def the_order() -> Any:
        code, page = hcp(capsys, state, "workorders", "list", "--json", "--unit", "11360704MB1C000102", "--as",
                         "market-dept")  # fmt: skip
        return code == 0 and next((o for o in page["items"] if o["id"] == order_id), None)

    order = wait_until(the_order, 120, f"work order {order_id}")
    assert order["unit"]["agency_name"] == "赣州市赣县区市场监督管理局"
    received = _call(local["province_url"] + "/_received")[1]
    assert [r["deptName"] for r in received if r["evalId"] == order["rating_id"]] == ["赣州市赣县区市场监督管理局"]


def test_one_short_line_per_request_no_traceback_when_the_province_is_down_and_json_logs_in_the_named_file(
    make_run: tuple[subprocess.Popen[str], Terminal, Path],
) -> None:
    process, terminal, state = make_run
    local = json.loads((state / "local.json").read_text("utf-8"))
    [named] = [line for line in terminal.lines if line.startswith("Logs: ")]
    log_file = Path(named.split()[1])
    assert log_file == state / "logs" / "local.jsonl"
    # GIVEN a request that is refused, and a rating accepted and forwarded
    assert _call(local["api_url"] + "/v1/me")[0] == 401
    kiosk = local["connectors"]["kiosk"]
    _call(local["api_url"] + "/_local/clock", json.dumps({"set": "2026-11-28T12:00:00+08:00"}).encode())
    url = f"{local['api_url']}/v1/connectors/{kiosk['connector_id']}/ratings"
    body = (SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_bytes()
    assert post_signed(url, kiosk["connector_id"], kiosk["secret"], body, "application/json")[0] == 202
    # WHEN the province breaks and another rating comes in
    assert _call(local["province_url"] + "/_faults", b'{"down": true}')[0] == 200
    intermediary = local["connectors"]["intermediary"]
    url = f"{local['api_url']}/v1/connectors/{intermediary['connector_id']}/ratings"
    body = (SAMPLES / "intermediary" / "01-company-stars.json").read_bytes()
    assert post_signed(url, intermediary["connector_id"], intermediary["secret"], body, "application/json")[0] == 202
    # THEN the terminal says so in one line per request, and the failed delivery in one line, no traceback
    line = re.compile(r"^\d\d:\d\d:\d\d (GET|POST) (/\S+) (\d{3}) \d+ ms$")
    terminal.wait_for(lambda text: " retry: " in text, 120, "a one-line retry notice")
    # the request's own line is written once its answer has gone, which may be after the retry is told
    posted = f"POST /v1/connectors/{intermediary['connector_id']}/ratings 202"
    terminal.wait_for(lambda text: posted in text, 30, "the rating's request line")
    shown = terminal.drain()
    requests = [m.groups() for m in map(line.match, shown.splitlines()) if m]
    assert ("GET", "/v1/me", "401") in requests
    assert ("POST", f"/v1/connectors/{intermediary['connector_id']}/ratings", "202") in requests
    after_running = shown.split("Running.", 1)[1].splitlines()[1:]
    assert all(line.match(text) or " retry: " in text for text in after_running), after_running
    assert "Traceback" not in shown
    assert process.poll() is None
    # ... and the log file has every detail, as JSON lines
    entries = [json.loads(text) for text in log_file.read_text("utf-8").splitlines()]
    assert any(e.get("message") == "province unreachable" and e.get("service") == "hcp-hub" for e in entries)
    assert any(e.get("logger") == "hcp.localcloud.requests" and e.get("status") == 401 for e in entries)
    assert any("Traceback" in str(e.get("exception", "")) for e in entries)  # the detail is kept, off the terminal
    assert any("_aws" in e for e in entries)  # the functions' metrics (EMF) too


def test_a_tour_can_fill_the_dead_letter_queue_and_redrive_it(
    make_run: tuple[subprocess.Popen[str], Terminal, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, state = make_run
    local = json.loads((state / "local.json").read_text("utf-8"))
    # GIVEN a province that fails on each rating (500: a failure it gave, counted; a 503 or an outage never is)
    faults = b'{"error_rate": 1.0, "error_status": 500}'
    assert _call(local["province_url"] + "/_faults", faults)[0] == 200
    vertical = local["connectors"]["vertical_system"]
    url = f"{local['api_url']}/v1/connectors/{vertical['connector_id']}/ratings"
    body = (SAMPLES / "vertical_system" / "02-good-township.gbk.xml").read_bytes()
    status, answer = post_signed(url, vertical["connector_id"], vertical["secret"], body,
                                 "application/xml; charset=gbk")  # fmt: skip
    assert status == 202, answer
    rating_id = answer["results"][0]["rating_id"]
    # WHEN it failed 5 times (10 s, 20 s, 40 s, 80 s of backoff) THEN it waits in the dead-letter queue, with why
    wait_until(lambda: hcp(capsys, state, "dlq", "show")[1]["messages"] >= 1, 300, "a dead-lettered message")
    shown = hcp(capsys, state, "dlq", "show")[1]
    assert shown["max_receives"] == 100  # the queue's backstop, as the template sets it: not a knob
    assert any("failures the province gave" in m["reason"] for m in shown["first"])
    # WHEN the province is mended and the queue redriven THEN the rating reaches it
    assert _call(local["province_url"] + "/_faults", b"{}")[0] == 200
    assert hcp(capsys, state, "dlq", "redrive")[1]["redriven"] >= 1

    def at_the_province() -> list[dict[str, Any]]:
        return [r for r in _call(local["province_url"] + "/_received")[1] if r["evalId"] == rating_id]

    received = wait_until(at_the_province, 120, "the redriven rating at the province")
    assert len(received) == 1
    # the queue's maxReceiveCount is no knob: lowered, it would dead-letter ratings the province never refused
    with pytest.raises(SystemExit) as refused:
        hcp(capsys, state, "dlq", "max-receives", "2")
    assert refused.value.code == 2


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")
def test_the_banners_aws_example_works_as_printed(
    make_run: tuple[subprocess.Popen[str], Terminal, Path], tmp_path: Path
) -> None:
    _, terminal, _ = make_run
    [example] = [line.strip() for line in terminal.lines if " aws --endpoint-url " in line]
    # a user with no AWS configuration at all
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", example], env=clean, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Items" in json.loads(done.stdout)
