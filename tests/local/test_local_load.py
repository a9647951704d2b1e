"""The local gateway under load: many clients connecting at once are all served, none reset."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

CLIENTS = 100


def _get_health(host: str, port: int, barrier: threading.Barrier) -> tuple[int, dict[str, object]] | BaseException:
    """One raw HTTP/1.1 request on its own connection, opened when every client is ready."""
    try:
        barrier.wait(timeout=10)
        with socket.create_connection((host, port), timeout=20) as sock:
            sock.sendall(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)
    except BaseException as exc:
        return exc


def test_gateway_serves_100_concurrent_connections(stack: LocalStack) -> None:
    host, port = stack.host, stack.gateway.port
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, dict[str, object]] | BaseException | None] = [None] * CLIENTS

    def run(i: int) -> None:
        results[i] = _get_health(host, port, barrier)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.1, 45 - (time.monotonic() - t0)))
    assert not any(t.is_alive() for t in threads), "clients still waiting after 45 s"
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, f"{len(errors)} of {CLIENTS} connections failed, e.g. {errors[:3]!r}"
    assert {r[0] for r in results if isinstance(r, tuple)} == {200}
