"""`smsdesk local` as a process: starts, answers /health, exits 0 on SIGINT."""

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

import pytest

pytestmark = pytest.mark.local


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_smsdesk_local_process(tmp_path: Path) -> None:
    port = _free_port()
    local_json = tmp_path / "local.json"
    env = {**os.environ, "PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsdesk.cli", "local", "--local-json", str(local_json)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        body = None
        while time.monotonic() < deadline and body is None:
            if proc.poll() is not None:
                pytest.fail(f"exited early: {proc.returncode}\n{proc.stderr.read() if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    body = json.loads(resp.read())
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "ok", "stage": "local"}
        info = json.loads(local_json.read_text())
        assert info["base_url"] == f"http://127.0.0.1:{port}" and info["token"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out[: out.rindex("}") + 1])["admin_user_id"] == info["admin_user_id"]


def test_password_only_on_a_terminal_never_in_logs(tmp_path: Path) -> None:
    """Run with stdout and stderr captured (as a log would): neither they nor local.json hold the
    seeded owner's password; stdout holds no token either (local.json, 0600, does)."""
    port = _free_port()
    local_json, state = tmp_path / "local.json", tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsdesk.cli", "local", "--local-json", str(local_json), "--state-dir", str(state)],
        cwd=tmp_path,
        env={**os.environ, "PORT": str(port), "POWERTOOLS_LOG_LEVEL": "DEBUG"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not local_json.exists():
            if proc.poll() is not None:
                pytest.fail(f"exited early: {proc.returncode}\n{proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.2)
        token = json.loads(local_json.read_text())["token"]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/me", headers={"authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    shown = json.loads(out[: out.rindex("}") + 1])
    assert "password" not in shown and "token" not in shown and shown["admin_user_id"]
    assert "password" not in json.loads(local_json.read_text())

    from smsdesk.local.state import derive_password

    password = derive_password((state / "key").read_bytes().strip())
    assert password not in out and password not in err
    assert password not in local_json.read_text()
    assert token not in out and token not in err
    assert (local_json.stat().st_mode & 0o777) == 0o600


def test_terminal_shows_the_password_and_token() -> None:
    from smsdesk.local.cli import terminal_info

    info = {"base_url": "http://127.0.0.1:8787", "token": "tok", "admin_user_id": "u1"}
    assert terminal_info(info, "pw", tty=True) == {**info, "password": "pw"}
    assert terminal_info(info, "pw", tty=False) == {"base_url": "http://127.0.0.1:8787", "admin_user_id": "u1"}
