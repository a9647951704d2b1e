"""moto's server, made cheaper per request for the local stack (behaviour unchanged, only cost).

Profiled per delivered message, moto spent its time on things that do not depend on the request:

* **routing**: ``DomainDispatcherApplication.get_backend_for_host`` lists moto's package directory
  (``backends.list_of_moto_modules``: ``os.listdir`` + an ``isdir`` per entry) on every request, under
  the dispatcher's global lock. The directory does not change while the process runs: :func:`install`
  lists it once.
* **SQS clocks**: moto's ``unix_time()`` builds several ``datetime`` objects per call, and SQS calls it
  twice per message *in the queue* for every receive (``Queue.messages`` filters by visibility and
  delay), so a receive cost grew with the backlog (~20 ms per 300 queued messages). Without an
  argument it is ``time.time()``, which it now is.

Not changed: werkzeug's development server closes every connection (each AWS call opens one, and the
server starts a thread for it); it drains the socket after each response, which rules out keep-alive.
"""

from __future__ import annotations

import threading
import time
from typing import Any

_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto import backends
        from moto.sqs import models as sqs_models

        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

        slow_unix_time = sqs_models.unix_time
        slow_unix_time_millis = sqs_models.unix_time_millis

        def unix_time(dt: Any = None) -> float:
            return time.time() if dt is None else slow_unix_time(dt)

        def unix_time_millis(dt: Any = None) -> float:
            return time.time() * 1000.0 if dt is None else slow_unix_time_millis(dt)

        sqs_models.unix_time = unix_time  # type: ignore[assignment]
        sqs_models.unix_time_millis = unix_time_millis  # type: ignore[assignment]
        _installed = True
