"""moto in server mode, on 127.0.0.1 and a free port, in the process that starts it.

The local stack runs it in a process of its own (``local/moto_process.py``, started by
``local/moto_client.MotoProcess``); unit tests of its middlewares and speedups run it in theirs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from smsdesk.local import moto_speedups, moto_transactions
from smsdesk.local.moto_client import ACCOUNT_ID

__all__ = ["ACCOUNT_ID", "MotoServer", "serialise_dynamodb"]
_DYNAMODB_LOCK = threading.Lock()


def serialise_dynamodb() -> None:
    """Run moto's DynamoDB requests one at a time, as DynamoDB's own isolation would order them.

    moto's ``TransactWriteItems`` deep-copies the table, applies the items and restores the copy on a
    failed condition; two concurrent requests in the threaded server then overwrite each other's
    writes (a refund or a charge vanishes, or is applied twice). Serialising DynamoDB calls restores
    the atomicity the credit and status code relies on; other services stay concurrent.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_smsdesk_serialised", False):
        return
    original = DynamoHandler.call_action

    def call_action(self):  # type: ignore[no-untyped-def]
        with _DYNAMODB_LOCK:
            return original(self)

    call_action._smsdesk_serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


class _KeepAliveMotoServer(ThreadedMotoServer):
    """moto's threaded server, its connections kept open between requests (``moto_speedups``)."""

    def __init__(self, ip_address: str, port: int) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self.handler = moto_speedups.handler_class()

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=self.handler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        super().stop()
        if self._server:
            self._server.server_close()
        for conn in list(self.handler.open_connections):  # kept-alive connections end with the server
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, wrap: Callable[[Any], Any] | None = None) -> None:
        """``wrap`` wraps moto's WSGI application (the ``--state-dir`` journal, ``local/state.py``)."""
        self._server = _KeepAliveMotoServer(host, port)
        self._wrap = wrap
        self.endpoint = ""

    def start(self, *, reset: bool = True) -> str:
        if reset:  # a fresh account: backends are process-global and may hold an earlier stack's data
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
        # One access-log line per AWS call would drown the handlers' own logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        serialise_dynamodb()
        moto_transactions.install()
        moto_speedups.install()
        self._server.start()
        if self._wrap:  # before anyone knows the endpoint, so before any request
            wsgi = self._server._server  # werkzeug's server; its handlers call ``server.app`` per request
            wsgi.app = self._wrap(wsgi.app)  # type: ignore[union-attr]
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()
