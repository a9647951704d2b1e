"""The invocation log: every handler invocation and every schedule fire, in memory, bounded.

Exposed at ``GET /local/invocations`` and as :class:`InvocationLog` for tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("smsdesk_local")

Entry = dict[str, Any]


class InvocationLog:
    def __init__(self, maxlen: int = 5000) -> None:
        self._entries: deque[Entry] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._seq = 0

    def add(self, entry: Entry) -> Entry:
        with self._changed:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._entries.append(entry)
            self._changed.notify_all()
        return entry

    def invocation(
        self,
        *,
        function: str,
        trigger: str,
        source: str,
        records: int,
        failures: int,
        ok: bool,
        error: str | None,
        started_at: float,
        duration_ms: float,
        status: int | None = None,
    ) -> Entry:
        entry: Entry = {
            "kind": "invocation",
            "function": function,
            "trigger": trigger,
            "source": source,
            "records": records,
            "failures": failures,
            "ok": ok,
            "error": error,
            "started_at": started_at,
            "duration_ms": round(duration_ms, 2),
        }
        if status is not None:
            entry["status"] = status
        entry = self.add(entry)
        detail = f"status={status}" if status is not None else f"records={records} failures={failures}"
        log.info(
            "%-5s %-9s <- %s %s %.0fms%s",
            trigger,
            function,
            source,
            detail,
            duration_ms,
            "" if ok else f" ERROR {error}",
        )
        return entry

    def schedule_fire(self, *, schedule: str, target: str, due: float, fired: float, error: str | None = None) -> Entry:
        entry = self.add(
            {
                "kind": "schedule",
                "schedule": schedule,
                "target": target,
                "due": due,
                "fired": fired,
                "lateness_ms": round((fired - due) * 1000, 2),
                "ok": error is None,
                "error": error,
            }
        )
        log.info(
            "sched %s -> %s late=%.0fms%s", schedule, target, entry["lateness_ms"], f" ERROR {error}" if error else ""
        )
        return entry

    def entries(self, *, kind: str | None = None, function: str | None = None, since: int = 0) -> list[Entry]:
        with self._lock:
            out = [dict(e) for e in self._entries if e["seq"] > since]
        if kind:
            out = [e for e in out if e["kind"] == kind]
        if function:
            out = [e for e in out if e.get("function") == function]
        return out

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def wait_for(self, predicate: Callable[[Entry], bool], *, timeout: float = 5.0, since: int = 0) -> Entry:
        """Block until an entry newer than ``since`` satisfies ``predicate``; raise TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for e in self._entries:
                    if e["seq"] > since and predicate(e):
                        return dict(e)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching invocation-log entry")
                self._changed.wait(remaining)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
