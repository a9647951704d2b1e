"""The moto process of the local stack: ``python -m smsdesk.local.moto_process '<config JSON>'``.

Started by :class:`smsdesk.local.moto_client.MotoProcess` (see there for the protocol). It runs moto's
server with the local stack's patches (``moto_server.serialise_dynamodb``, ``moto_transactions``,
``moto_speedups``) and its WSGI middlewares, outermost first:

* :class:`ControlApp`: ``/_smsdesk/...``, what the stack needs that is not an AWS API:

  - ``GET streams/<table>?limit=N&wait=S``: ``{"label", "records"}``, the oldest records of the
    table's stream shard not yet done (Lambda's JSON shape, ``ApproximateCreationDateTime`` in epoch
    seconds), waiting up to ``S`` seconds for one when there is none. Read under moto's DynamoDB lock,
    so a record of a transaction that ``moto_transactions`` is about to roll back is never seen.
  - ``POST streams/<table>/done`` ``{"sequence_numbers": [...]}``: remove those records from the head
    of the shard (the shard is the position; ``local/streams.py``); ``GET streams/<table>/pending``.
  - ``POST s3-events`` ``{"targets": {bucket: [prefix, queue_url]}}``, ``GET s3-events``.
  - ``POST state/compact``: fold the ``--state-dir`` journal into the snapshots now.
* ``local/s3_events.py`` (uploads announced to the imports queue) and ``local/state.py`` (the
  ``--state-dir`` journal and snapshots), as before, around moto's application.

``SMSDESK_MOTO_PROFILE=<path>`` (off by default) adds :class:`CpuByAction` inside those: moto's CPU per
AWS action, written to ``<path>.actions`` when the stack stops.
"""

from __future__ import annotations

import collections
import contextlib
import cProfile
import json
import logging
import os
import pstats
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.models.utilities import dynamo_json_dump

from smsdesk.local.moto_client import ACCOUNT_ID, CONTROL_PREFIX
from smsdesk.local.moto_server import _DYNAMODB_LOCK, MotoServer

log = logging.getLogger("smsdesk_local")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_WAIT_S = 20.0

_written = threading.Condition()
_generation = 0  # stream records appended so far (under _DYNAMODB_LOCK and _written)


def _notify_stream_writes() -> None:
    """Wake the stream readers when moto appends a stream record (instead of polling on a timer)."""
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard.add, "_smsdesk_notify", False):
        return
    original = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        global _generation
        original(self, old, new)
        with _written:
            _generation += 1
            _written.notify_all()

    add._smsdesk_notify = True  # type: ignore[attr-defined]
    StreamShard.add = add  # type: ignore[method-assign]


class ControlApp:
    def __init__(self, app: WSGIApp, *, region: str, store: Any, s3_events: Any) -> None:
        self.app = app
        self.region = region
        self.store = store
        self.s3_events = s3_events

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        if not path.startswith(CONTROL_PREFIX + "/"):
            return self.app(environ, start_response)
        method = (environ.get("REQUEST_METHOD") or "GET").upper()
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING") or ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            status, payload = self.route(method, path[len(CONTROL_PREFIX) + 1 :].split("/"), query, body)
        except Exception as exc:
            log.exception("moto process: %s %s failed", method, path)
            status, payload = "500 Internal Server Error", json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        data = payload.encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def route(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[str, str]:
        ok = "200 OK"
        match method, parts:
            case "GET", ["streams", table]:
                limit = max(0, int(query.get("limit", "100")))
                return ok, self.stream_read(table, limit, min(MAX_WAIT_S, float(query.get("wait", "0"))))
            case "POST", ["streams", table, "done"]:
                return ok, json.dumps({"removed": self.stream_done(table, list(body.get("sequence_numbers") or []))})
            case "GET", ["streams", table, "pending"]:
                with _DYNAMODB_LOCK:
                    shard = self._shard(table)
                    pending = len(shard.items) if shard is not None else 0
                return ok, json.dumps({"pending": pending})
            case "POST", ["s3-events"]:
                self.s3_events.set_targets({b: (p, q) for b, (p, q) in (body.get("targets") or {}).items()})
                return ok, "{}"
            case "GET", ["s3-events"]:
                return ok, json.dumps({"sent": self.s3_events.sent})
            case "POST", ["state", "compact"]:
                if self.store is not None:
                    self.store.compact()
                return ok, json.dumps({"compacted": self.store is not None})
        return "404 Not Found", json.dumps({"error": f"no control route {method} /{'/'.join(parts)}"})

    # -- DynamoDB stream shards --------------------------------------------------------------------

    def _table(self, name: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT_ID][self.region].tables.get(name)

    def _shard(self, name: str) -> Any:
        return getattr(self._table(name), "stream_shard", None)

    def stream_read(self, name: str, limit: int, wait_s: float) -> str:
        deadline = time.monotonic() + wait_s
        while True:
            with _DYNAMODB_LOCK:
                generation = _generation
                table = self._table(name)
                shard = getattr(table, "stream_shard", None)
                items = shard.items[:limit] if shard is not None else []
                if items or time.monotonic() >= deadline:
                    label = getattr(table, "latest_stream_label", None)
                    # moto's encoder: DynamoDB JSON, datetimes as epoch seconds
                    return dynamo_json_dump({"label": label, "records": [r.to_json() for r in items]})
            with _written:  # until a record is appended (it may be rolled back: then read and wait again)
                _written.wait_for(lambda g=generation: _generation != g, timeout=max(0.0, deadline - time.monotonic()))

    def stream_done(self, name: str, sequence_numbers: list[str]) -> int:
        with _DYNAMODB_LOCK:
            shard = self._shard(name)
            if shard is None:
                return 0
            n = 0
            for seq, item in zip(sequence_numbers, shard.items, strict=False):
                if item.to_json()["dynamodb"]["SequenceNumber"] != seq:
                    break
                n += 1
            # Sequence numbers are len(items) + start: move the start first, so they keep increasing.
            shard.starting_sequence_number += n
            shard.items = shard.items[n:]
            return n


class _NoProfile:
    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


class CpuByAction:
    """Where moto's CPU goes, per AWS action (``SMSDESK_MOTO_PROFILE=<path>``; off by default).

    Each request's thread CPU time is added to its action (``DynamoDB_20120810.UpdateItem``,
    ``sqs.ReceiveMessage``, ...); when moto stops, ``<path>.actions`` gets one line per action: CPU
    seconds, requests, milliseconds per request. With ``SMSDESK_MOTO_CPROFILE=1`` each request also runs
    under ``cProfile`` (thread CPU time; slow) and ``<path>`` gets the merged ``pstats`` file.
    """

    def __init__(self, app: WSGIApp, path: str, *, cprofile: bool = False) -> None:
        self.app = app
        self.path = path
        self.cprofile = cprofile
        self.cpu: collections.Counter[str] = collections.Counter()
        self.count: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._profiles: list[Any] = []

    @staticmethod
    def action(environ: dict[str, Any]) -> str:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return str(target)
        cred = (environ.get("HTTP_AUTHORIZATION") or "").partition("Credential=")[2].split(",")[0].split("/")
        service = cred[3] if len(cred) >= 5 else "?"
        stream = environ.get("wsgi.input")
        body = stream.getvalue() if hasattr(stream, "getvalue") else b""  # moto_speedups reads it whole
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace"))) if b"Action=" in body else {}
        return f"{service}.{form.get('Action') or environ.get('PATH_INFO', '')[:40]}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        action = self.action(environ)
        prof = getattr(self._local, "prof", None)
        if prof is None:
            prof = self._local.prof = cProfile.Profile(time.thread_time) if self.cprofile else _NoProfile()
            with self._lock:
                self._profiles.append(prof)
        t0 = time.thread_time()
        prof.enable()
        try:
            return list(self.app(environ, start_response))
        finally:
            prof.disable()
            with self._lock:
                self.cpu[action] += time.thread_time() - t0
                self.count[action] += 1

    def dump(self) -> None:
        with self._lock, open(self.path + ".actions", "w") as f:
            for action, cpu in self.cpu.most_common():
                n = self.count[action]
                f.write(f"{cpu:9.3f} s {n:7d} {1000 * cpu / n:8.2f} ms  {action}\n")
            profiles = [p for p in self._profiles if not isinstance(p, _NoProfile)]
        if profiles:
            stats = pstats.Stats(profiles[0])
            for p in profiles[1:]:
                stats.add(p)
            stats.dump_stats(self.path)


def _console_logging() -> None:
    logger = logging.getLogger("smsdesk_local")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s moto: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _ready(doc: dict[str, Any]) -> None:
    """The one line the parent waits for; then stdout is stderr (nothing may block on a full pipe)."""
    os.write(1, (json.dumps(doc) + "\n").encode())
    os.dup2(2, 1)


def serve(config: dict[str, Any]) -> int:
    from smsdesk.local import s3_events, state

    region = config["region"]
    store = None
    if config.get("state_dir"):
        store = state.StateStore(
            config["state_dir"],
            region,
            compact_interval_s=float(config.get("compact_interval_s", 30.0)),
            compact_records=int(config.get("compact_records", 1000)),
            fsync=bool(config.get("fsync", False)),
        )
    events = s3_events.S3Events(region)
    profile = None
    if os.environ.get("SMSDESK_MOTO_PROFILE"):
        profile = CpuByAction(
            lambda *_: [], os.environ["SMSDESK_MOTO_PROFILE"], cprofile=bool(os.environ.get("SMSDESK_MOTO_CPROFILE"))
        )

    def wrap(app: WSGIApp) -> WSGIApp:
        if profile is not None:
            profile.app = app
            app = profile
        return ControlApp(events.wrap(store.wrap(app) if store else app), region=region, store=store, s3_events=events)

    _notify_stream_writes()
    server = MotoServer(host="127.0.0.1", port=0, wrap=wrap)
    endpoint = server.start(reset=False)
    # S3 event notifications (HeadObject, SendMessage) are made to this same server.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
    )
    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(k, None)
    restored = store.restore() if store else False
    if store:
        store.start()
    port = int(endpoint.rsplit(":", 1)[1])
    _ready({"port": port, "restored": restored, "password": store.derive_password() if store else None})

    # The parent's pipe: "stop" is a clean stop; its end without one means the parent is gone.
    for line in sys.stdin.buffer:
        if line.strip() == b"stop":
            try:
                server.stop()  # no write after the final snapshot: moto stops answering first
            finally:
                if store:
                    store.close()
                if profile is not None:
                    profile.dump()
            return 0
    os._exit(0)  # the parent died: what was acknowledged is on disk; no orphan


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stack stops this process (see moto_client)
    _console_logging()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call would drown the rest
    try:
        config = json.loads(args[0]) if args else {"region": "eu-west-1"}
        return serve(config)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            _ready({"error": f"{type(exc).__name__}: {exc}"})
        if not isinstance(exc, Exception):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
