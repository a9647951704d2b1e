"""S3 event notifications, locally: moto stores uploads but never announces them.

In AWS the uploads bucket sends ``s3:ObjectCreated:*`` events for keys under its ``notify_prefix`` to
its ``notify_queue`` (``manifest.Bucket``; ``infra/stack.py``). :class:`S3Events` is a WSGI middleware
around moto's server application that does the same: after moto answered a successful object upload
(a presigned POST's form, or a PUT) to a notifying bucket under its prefix, it sends the S3 event JSON,
as S3 builds it, to the queue. The upload's client gets its answer after the message is queued (in AWS
the event follows the upload within about a second; nobody may rely on the order either way).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from smsdesk import manifest

log = logging.getLogger("smsdesk_local")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def s3_event(bucket: str, key: str, size: int, region: str, *, event_name: str = "ObjectCreated:Post") -> dict:
    """The body S3 sends to a queue for one created object (event structure version 2.1)."""
    now = dt.datetime.now(dt.UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "smsdesk-local",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        # S3 URL-encodes the key in events (spaces as +)
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "size": size,
                        "sequencer": f"{int(now.timestamp() * 1e6):016X}",
                    },
                },
            }
        ]
    }


def targets(resources: Any) -> dict[str, tuple[str, str]]:
    """The notifying buckets of the local stack's resources: physical name -> (key prefix, queue URL)."""
    out = {}
    for bucket in manifest.BUCKETS:
        if bucket.notify_queue and bucket.name in resources.buckets:
            out[resources.buckets[bucket.name]] = (bucket.notify_prefix, resources.queues[bucket.notify_queue].url)
    return out


class S3Events:
    """Wrap moto's WSGI app (in the moto process, ``local/moto_process.py``); :meth:`set_targets` (after
    the resources exist) turns the notifications on."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._app: WSGIApp | None = None
        #: physical bucket name -> (key prefix, queue URL)
        self._targets: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.sent = 0

    def wrap(self, app: WSGIApp) -> WSGIApp:
        self._app = app
        return self

    def set_targets(self, targets: dict[str, tuple[str, str]]) -> None:
        """Turn the notifications on: physical bucket name -> (key prefix, queue URL) (:func:`targets`)."""
        with self._lock:
            self._targets = dict(targets)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self._app is not None
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/")
        bucket, _, path_key = path.lstrip("/").partition("/")
        target = self._targets.get(bucket) if method in ("POST", "PUT") else None
        if target is None or (method == "PUT" and not path_key) or "uploadId" in environ.get("QUERY_STRING", ""):
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        key = urllib.parse.unquote(path_key) if method == "PUT" else _form_key(environ, body)
        status: list[str] = []

        def capture(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(s)
            return start_response(s, headers, exc_info) if exc_info else start_response(s, headers)

        result = self._app(environ, capture)
        chunks = list(result)
        close = getattr(result, "close", None)
        if close:
            close()
        prefix, queue_url = target
        ok = status and status[0][:1] in ("2", "3")
        if ok and key and key.startswith(prefix):
            self._notify(bucket, key, queue_url, "Put" if method == "PUT" else "Post")
        return chunks

    def _notify(self, bucket: str, key: str, queue_url: str, how: str) -> None:
        from smsdesk import aws

        try:
            size = int(aws.s3().head_object(Bucket=bucket, Key=key)["ContentLength"])
            event = s3_event(bucket, key, size, self.region, event_name=f"ObjectCreated:{how}")
            aws.sqs().send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
            self.sent += 1
        except Exception:  # S3 would retry; locally, say it loudly
            log.exception("could not announce s3://%s/%s", bucket, key)


def _form_key(environ: dict[str, Any], body: bytes) -> str | None:
    """The ``key`` field of a presigned POST's multipart form."""
    from werkzeug.formparser import parse_form_data

    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    try:
        _stream, form, _files = parse_form_data(copy)
    except Exception:
        return None
    finally:
        environ["wsgi.input"] = io.BytesIO(body)
    return form.get("key")
