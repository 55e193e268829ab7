"""Ports of the local cloud (issue 11, item 11): chosen with `make run PORT=...` or flags; a busy one is named
in one line at once, never a hang (moto's taken port used to hang `make run` for ever)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.localcloud.motoserver import MotoServer, MotoServerError

ROOT = Path(__file__).resolve().parents[2]
HCP = [sys.executable, "-m", "cli"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on (SO_REUSEADDR, as servers set it: still taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("flag", ["--port", "--province-port", "--aws-port"])
def test_hcp_local_up_names_a_busy_port_in_one_line_and_exits(flag: str, taken_port: int, tmp_path: Path) -> None:
    others = {"--port": _free_port(), "--province-port": _free_port(), "--aws-port": _free_port(), flag: taken_port}
    argv = [*HCP, "local", "up", "--state-dir", str(tmp_path)]
    for name, port in others.items():
        argv += [name, str(port)]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {taken_port}" in lines[0] and flag in lines[0] and "in use" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "local.json").exists()  # nothing started
    assert elapsed < 10  # the process's own start-up (imports) is all it costs; the hang was for ever


def test_the_moto_server_on_a_busy_port_raises_naming_it_instead_of_hanging(taken_port: int) -> None:
    for mode in ("process", "thread"):
        with pytest.raises(MotoServerError, match=f"127.0.0.1:{taken_port}: Address already in use"):
            MotoServer(taken_port, mode).start()  # type: ignore[arg-type]


def test_the_moto_server_on_a_free_port_still_starts() -> None:  # the negative control of the one above
    port = _free_port()
    with MotoServer(port) as server:
        assert server.endpoint == f"http://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


def test_make_run_passes_the_ports_through() -> None:
    make = ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "run"]  # quiet as a sub-make too
    dry = subprocess.run([*make, "PORT=9101", "PROVINCE_PORT=9102", "AWS_PORT=9103"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert "hcp local up --port 9101 --province-port 9102 --aws-port 9103" in dry.stdout, dry.stdout + dry.stderr
    plain = subprocess.run(make, cwd=ROOT, capture_output=True, text=True,
                           timeout=30)  # fmt: skip
    assert plain.stdout.split("hcp local up")[1].strip() == ""
