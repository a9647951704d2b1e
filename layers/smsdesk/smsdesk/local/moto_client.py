"""moto in its own process, seen from the local stack: start it, talk to it, stop it.

The local stack's handlers, pollers, gateway and stream driver all make AWS calls to moto, and moto's
server is itself Python: in one process they shared one GIL, so on a 2-core machine everything ran on
about one core. :class:`MotoProcess` runs moto (``python -m smsdesk.local.moto_process``, the same
interpreter) as a child process instead and the stack only speaks HTTP to it, as code in AWS does.

* **Start**: the child gets its configuration (region, ``--state-dir`` settings) as a JSON argument,
  starts moto's server on a free port, restores the state directory, and writes one JSON line on its
  stdout: ``{"port": ..., "restored": ..., "password": ...}`` (the seeded owner's password derived from
  the state directory's key, which only the child reads), or ``{"error": ...}``.
* **Life**: the child reads its stdin. ``stop`` folds the journal into the snapshots and exits; end of
  file without ``stop`` (the parent died, even by ``kill -9``) exits at once: every acknowledged write
  is already on disk (``local/state.py``), and no orphan keeps the port or the state directory.
  The child ignores ``SIGINT`` (a terminal's Ctrl-C reaches the whole process group: the stack stops
  it, after its own threads stopped making calls).
* **Control**: what is not an AWS API is served by the child under ``/_smsdesk/`` on moto's port
  (``moto_process.ControlApp``): the DynamoDB stream shards (moto 5.2.5 cannot describe a stream,
  so ``local/streams.py`` reads and trims the shard through here), the uploads bucket's S3 event
  targets, and compacting the state directory.

This module imports nothing but the standard library: the stack's process never loads moto.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("smsdesk_local")

ACCOUNT_ID = "123456789012"  # moto's default account
CONTROL_PREFIX = "/_smsdesk"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class MotoProcessError(RuntimeError):
    """The moto process could not start (its own error message, e.g. a state directory without its key)."""


class _Connection(threading.local):
    """One keep-alive connection to the child per thread (moto's server keeps connections open)."""

    conn: http.client.HTTPConnection | None = None


class MotoProcess:
    def __init__(
        self,
        *,
        region: str,
        state_dir: str | os.PathLike[str] | None = None,
        compact_interval_s: float = 30.0,
        compact_records: int = 1000,
        fsync: bool = False,
    ) -> None:
        self.config: dict[str, Any] = {
            "region": region,
            "state_dir": str(state_dir) if state_dir else None,
            "compact_interval_s": compact_interval_s,
            "compact_records": compact_records,
            "fsync": fsync,
        }
        self.endpoint = ""
        self.port = 0
        self.restored = False
        self.password: str | None = None  # derived from the state directory's key (None without one)
        self._proc: subprocess.Popen[bytes] | None = None
        self._local = _Connection()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        package_parent = str(Path(__file__).resolve().parents[2])  # the directory holding ``smsdesk``
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        paths = [p for p in (env.get("PYTHONPATH") or "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(paths if package_parent in paths else [package_parent, *paths])
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "smsdesk.local.moto_process", json.dumps(self.config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        ready = self._read_ready()
        if "error" in ready:
            self._wait_or_kill(5)
            raise MotoProcessError(ready["error"])
        self.port = int(ready["port"])
        self.restored = bool(ready.get("restored"))
        self.password = ready.get("password")
        self.endpoint = f"http://127.0.0.1:{self.port}"
        return self.endpoint

    def _read_ready(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not line or not line[0].strip():
            self._wait_or_kill(0)
            code = self._proc.returncode
            raise MotoProcessError(f"the moto process did not start (exit code {code}); see its log above")
        try:
            return dict(json.loads(line[0]))
        except ValueError as exc:
            self._wait_or_kill(0)
            raise MotoProcessError(f"the moto process said {line[0][:200]!r}") from exc

    def stop(self) -> None:
        """Fold the state directory's journal into its snapshots (with one), stop moto, wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        conn = self._local.conn
        if conn is not None:
            conn.close()
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"stop\n")
            proc.stdin.flush()
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._proc = proc
        self._wait_or_kill(STOP_TIMEOUT_S)
        self._proc = None

    def _wait_or_kill(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the moto process (pid %s) did not stop within %.0f s: killed", proc.pid, timeout)
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    # -- the control endpoint ----------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None, *, timeout: float = 30.0) -> Any:
        """A JSON request to ``/_smsdesk/<path>`` in the moto process; its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more on a new one
            conn = self._local.conn
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, f"{CONTROL_PREFIX}/{path}", body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            if resp.status >= 400:
                raise RuntimeError(f"moto process: {method} {path}: {resp.status} {raw[:500]!r}")
            return json.loads(raw) if raw else None
        raise AssertionError("unreachable")

    # DynamoDB stream shards (``local/streams.py``)

    def stream_read(self, table: str, limit: int, wait_s: float = 0.0) -> dict[str, Any]:
        """``{"label": <stream label>, "records": [oldest not done, up to limit]}``; with ``wait_s``,
        waits up to that long for a record when there is none."""
        q = f"streams/{table}?limit={limit}&wait={wait_s:g}"
        return dict(self.control("GET", q, timeout=wait_s + 30))

    def stream_done(self, table: str, sequence_numbers: list[str]) -> int:
        """Remove the leading records with these sequence numbers; the number removed."""
        return int(self.control("POST", f"streams/{table}/done", {"sequence_numbers": sequence_numbers})["removed"])

    def stream_pending(self, table: str) -> int:
        return int(self.control("GET", f"streams/{table}/pending")["pending"])

    # S3 event notifications (``local/s3_events.py``)

    def s3_event_targets(self, targets: dict[str, tuple[str, str]]) -> None:
        self.control("POST", "s3-events", {"targets": targets})

    def s3_events_sent(self) -> int:
        return int(self.control("GET", "s3-events")["sent"])

    # ``--state-dir`` (``local/state.py``)

    def compact(self) -> bool:
        """Fold the journal into the snapshots now; False without a state directory."""
        return bool(self.control("POST", "state/compact", {}, timeout=120)["compacted"])


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Whether process ``pid`` is gone within ``timeout`` (tests: no orphan moto process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:  # a zombie (exited, not yet reaped) is gone too
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False
