"""moto runs in a process of its own (``local/moto_client.py``, ``local/moto_process.py``): it lives and
dies with the stack, and what the stack needs beyond AWS's APIs (the table's stream) works through it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from smsdesk.local.moto_client import wait_for_exit
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_moto_serves_from_another_process_and_stops_with_the_stack(tmp_path: Path) -> None:
    with LocalStack(port=0, local_json=tmp_path / "l.json", warm=False, seed=False) as s:
        pid = s.moto.pid
        assert pid and pid != os.getpid()
        assert "smsdesk.local.moto_process" in _cmdline(pid)
        port = int(s.endpoint.rsplit(":", 1)[1])
        ddb = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name=s.region)
        assert s.env["TABLE_NAME"] in ddb.list_tables()["TableNames"]
    assert wait_for_exit(pid, 10), "the moto process outlived its stack"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_stack_that_cannot_start_moto_says_why(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "dynamodb.journal").write_bytes(b"x\n")  # encrypted state without its key
    with pytest.raises(RuntimeError, match="key"):
        LocalStack(port=0, state_dir=state, local_json=tmp_path / "l.json", warm=False, seed=False).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_moto_process_outlives_a_killed_stack(tmp_path: Path) -> None:
    """``kill -9`` of ``smsdesk local`` (no chance to clean up): its moto process ends too."""
    port = _free_port()
    local_json = tmp_path / "local.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsdesk.cli", "local", "--port", str(port), "--local-json", str(local_json)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not local_json.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "smsdesk local did not start"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        motos = [c for c in _children(proc.pid) if "smsdesk.local.moto_process" in _cmdline(c)]
        assert len(motos) == 1, [_cmdline(c) for c in _children(proc.pid)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert wait_for_exit(motos[0], 10), "an orphaned moto process is still running"
