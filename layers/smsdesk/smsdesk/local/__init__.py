"""smsdesk's local stack: the same Lambda handlers, driven against moto in server mode.

``smsdesk local`` (``make run``) and ``python -m smsdesk.local`` start it; tests use
:class:`smsdesk.local.stack.LocalStack` in-process. Everything is generated from ``smsdesk.manifest``.

This package imports nothing heavy at import time (moto is loaded when a stack starts), so
``smsdesk.cli`` can register the ``local`` subcommand cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsdesk.local.stack import LocalStack

__all__ = ["LocalStack"]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from smsdesk.local.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
