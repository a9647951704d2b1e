"""Each handler runs as its deployed function would: with only its own environment and its own grants.

In AWS every function is its own process with its own environment variables and IAM role. The local
stack runs all of them in one process, so without this a handler would see every resource's variable
and could call anything: a missing variable or grant would pass every test and fail in a customer's
account. :func:`invocation` scopes both to the calling thread while a handler runs:

* ``os.environ`` is replaced by :class:`ScopedEnviron`, which inside an invocation reads and writes the
  function's own environment (what the CDK stack gives it, see ``manifest.function_env_names``) and
  outside one (the local runtime, tests) the process' real environment;
* :func:`current_function` names the running function; ``smsdesk.local.iam`` refuses every AWS call
  its manifest entry does not grant.

Threads a handler starts run outside the invocation (as a Lambda's would outlive nothing): they see the
process environment and are not checked.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

_function: ContextVar[str | None] = ContextVar("smsdesk_local_function", default=None)
_env: ContextVar[dict[str, str] | None] = ContextVar("smsdesk_local_env", default=None)
_lock = threading.Lock()
_installed = 0
_original: Any = None


class ScopedEnviron(MutableMapping[str, str]):
    """``os.environ`` that, inside :func:`invocation`, is the invoked function's own environment."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self._real = real

    def _data(self) -> MutableMapping[str, str]:
        scoped = _env.get()
        return self._real if scoped is None else scoped

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._data()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())

    def __contains__(self, key: object) -> bool:
        return key in self._data()

    def copy(self) -> dict[str, str]:
        return dict(self._data())

    def __repr__(self) -> str:
        return f"ScopedEnviron(function={_function.get()!r})"


def install() -> None:
    """Put :class:`ScopedEnviron` in place of ``os.environ`` (reference-counted; see :func:`uninstall`)."""
    global _installed, _original
    with _lock:
        if _installed == 0:
            _original = os.environ
            os.environ = ScopedEnviron(_original)  # type: ignore[assignment]  # noqa: B003 (on purpose)
        _installed += 1


def uninstall() -> None:
    global _installed, _original
    with _lock:
        _installed -= 1
        if _installed == 0 and _original is not None:
            os.environ = _original  # noqa: B003
            _original = None


def current_function() -> str | None:
    """The function whose invocation this thread is running, if any."""
    return _function.get()


@contextlib.contextmanager
def invocation(function: str, env: dict[str, str]) -> Iterator[None]:
    """Run the block as ``function``, with ``env`` (the dict itself: writes persist like a warm container's)."""
    f_token, e_token = _function.set(function), _env.set(env)
    try:
        yield
    finally:
        _env.reset(e_token)
        _function.reset(f_token)
