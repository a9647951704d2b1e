"""moto in server mode, on 127.0.0.1 and a free port, in this process (backends are shared)."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

ACCOUNT_ID = "123456789012"  # moto's default account


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = ""

    def start(self, *, reset: bool = True) -> str:
        if reset:  # a fresh account: backends are process-global and may hold an earlier stack's data
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
        # One access-log line per AWS call would drown the handlers' own logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()
