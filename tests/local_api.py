"""Helpers shared by the local-stack tests that talk to the API (the ``api`` fixture in
``tests/local/conftest.py`` is built from them): a bearer header, a caller, and a poll until true."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from smsdesk.local.stack import LocalStack


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def caller(stack: LocalStack, http: Any) -> Callable[..., Any]:
    """``call(method, path, body=None, expect=None, token=None)``: the parsed body when ``expect`` (the
    status, asserted) is given, else ``(status, body)``; as the stack's admin unless ``token``."""

    def call(method: str, path: str, body: Any = None, expect: int | None = None, token: str | None = None) -> Any:
        status, _, out = http(method, f"{stack.base_url}{path}", headers=auth(token or stack.token), body=body)
        if expect is not None:
            assert status == expect, (method, path, status, out)
            return out
        return status, out

    return call


def wait(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.5) -> Any:
    """``check()``'s first truthy answer, polled every ``every`` s; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        out = check()
        if out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(every)
