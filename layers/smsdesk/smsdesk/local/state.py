"""``--state-dir``: every acknowledged write is on disk before moto's answer leaves the process.

:class:`StateStore` is a WSGI middleware around moto's server application (so it moves with moto
if moto runs in its own process). For each request to a persisted service that can change state,
it applies the request and persists the change **before** the response is handed to the server:

- **DynamoDB** (the hot path: every API call writes): the request itself is appended to a journal,
  ``dynamodb.journal``, one record per line. Mutating DynamoDB requests are applied one at a time
  under a lock, so the journal order is the order moto applied them, and replaying the journal in
  that order on top of the last snapshot rebuilds the same tables (DynamoDB requests carry all
  their data; conditions and expressions depend only on the items). A background thread folds the
  journal into ``dynamodb.state`` (a pickle of moto's backend) every ``compact_interval_s``, after
  ``compact_records`` writes (a crashed stack replays at most about that many on start) and on a
  clean stop; each journal record has a sequence number and the snapshot names the last one it
  holds, so a crash between writing the snapshot and truncating the journal replays nothing twice.
- **Cognito, Secrets Manager, EventBridge Scheduler, S3** (rare writes; moto invents ids such as a
  user's ``sub`` and secret version ids, so their requests cannot be replayed; S3 holds contact files
  being imported and large exports): the service's backend is pickled to ``<service>.state`` after
  each mutating request, under a per-service lock. A browser's presigned POST (a multipart form, its
  credential in the form) counts as an S3 write.

The data is written with ``write(2)`` and renames, which survives the process being killed
(``kill -9``); with ``fsync=True`` it also survives the machine crashing, at the cost of a disk
flush per write.

Every file is encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with the key in ``<state-dir>/key``
(mode 0600, created on first use), so provider secrets (Secrets Manager), Cognito users' passwords
and the data do not lie in clear text in files that get copied, archived or grepped. The seeded
owner's password is not stored at all: it is derived from that key (:meth:`StateStore.derive_password`).

Cognito's signing key (a ``joserfc`` RSAKey, not picklable) is saved by reference: moto signs every
pool with the same bundled key, so tokens issued before a restart stay valid until they expire.
Not persisted: SQS messages (moto's queues hold locks and cannot be pickled; messages in flight at
shutdown are lost), SNS/EventBridge configuration (recreated from the manifest on start).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from joserfc import jwk
from moto.backends import get_backend
from moto.utilities.utils import load_resource

from smsdesk.local.moto_server import ACCOUNT_ID

log = logging.getLogger("smsdesk_local")

SERVICES = ("dynamodb", "cognito-idp", "scheduler", "secretsmanager", "s3")
KEY_FILE = "key"
JOURNAL = "dynamodb.journal"
FORMAT = 2
_JWK_REF = "moto-cognito-jwks-private"
#: X-Amz-Target prefixes of the JSON-protocol services we persist.
_TARGETS = {
    "DynamoDB_20120810": "dynamodb",
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "secretsmanager": "secretsmanager",
}
_READ_ACTIONS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet")
_READ_METHODS = ("GET", "HEAD", "OPTIONS")
#: Request headers a journal record keeps: what moto routes and parses a request by.
_KEPT_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_X_AMZ_TARGET", "HTTP_HOST", "CONTENT_TYPE")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, jwk.RSAKey):
            return _JWK_REF
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if pid == _JWK_REF:
            return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def derive_password(key: bytes) -> str:
    digest = hmac.new(key, b"smsdesk-local seeded owner password", hashlib.sha256).digest()
    return f"Sd-{base64.urlsafe_b64encode(digest).decode()[:16]}-9a"


def _region_key(service: str, region: str) -> str:
    """Where moto keeps a service's backend: S3's is global (its partition), the others per region."""
    return "aws" if service == "s3" else region


def classify(environ: dict[str, Any]) -> str | None:
    """The persisted service a request may change, or None (another service, or a read)."""
    prefix, _, action = (environ.get("HTTP_X_AMZ_TARGET") or "").partition(".")
    service = _TARGETS.get(prefix)
    if service is None:
        # SigV4: "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/scheduler/aws4_request, ..."
        cred = (environ.get("HTTP_AUTHORIZATION") or "").partition("Credential=")[2].split(",")[0]
        parts = cred.split("/")
        service = parts[3] if len(parts) >= 5 else None
    if service is None and (environ.get("CONTENT_TYPE") or "").startswith("multipart/form-data"):
        service = "s3"  # a presigned POST (a browser's upload: its credential is in the form, not a header)
    if service not in SERVICES:
        return None
    if action:
        return None if action.removeprefix("Admin").startswith(_READ_ACTIONS) else service
    return None if environ.get("REQUEST_METHOD", "GET").upper() in _READ_METHODS else service


class StateStore:
    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        region: str,
        *,
        compact_interval_s: float = 30.0,
        compact_records: int = 1000,
        fsync: bool = False,
    ) -> None:
        self.dir = Path(state_dir)
        self.region = region
        self.compact_interval_s = compact_interval_s
        self.compact_records = compact_records
        self.fsync = fsync
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = self._load_key()
        self._fernet = Fernet(self._key)
        self._locks = {svc: threading.Lock() for svc in SERVICES}
        self._app: WSGIApp | None = None
        self._journal_fd: int | None = None
        self._seq = 0  # the last journal record written (or replayed)
        self._snapshot_seq = 0  # the last journal record dynamodb.state holds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._restored = False  # never overwrite the files with backends we did not load

    # -- the key -----------------------------------------------------------------------------------

    def _load_key(self) -> bytes:
        path = self.dir / KEY_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip()
        if any(self.dir.glob("*.state")) or (self.dir / JOURNAL).exists():
            os.close(fd)
            path.unlink()
            raise RuntimeError(f"{self.dir} holds encrypted state but its key file {path} is missing")
        key = Fernet.generate_key()
        try:
            os.write(fd, key + b"\n")
        finally:
            os.close(fd)
        return key

    def derive_password(self) -> str:
        """The seeded owner's password: the same on every start with this key, stored nowhere."""
        return derive_password(self._key)

    # -- files -------------------------------------------------------------------------------------

    def _path(self, service: str) -> Path:
        return self.dir / f"{service}.state"

    def _write_file(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)

    def _dumps(self, service: str, seq: int = 0) -> bytes:
        backend = get_backend(service)[ACCOUNT_ID][_region_key(service, self.region)]  # type: ignore[misc]
        doc = {"version": FORMAT, "region": self.region, "service": service, "seq": seq, "backend": backend}
        for attempt in range(5):
            buf = io.BytesIO()
            try:
                _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(doc)
                return buf.getvalue()
            except RuntimeError:  # a concurrent read changed a dict while we pickled it; try again
                if attempt == 4:
                    raise
                time.sleep(0.01)
        raise AssertionError("unreachable")

    def _snapshot(self, service: str, seq: int = 0) -> None:
        self._write_file(self._path(service), self._fernet.encrypt(self._dumps(service, seq)))

    # -- the WSGI middleware -----------------------------------------------------------------------

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """Wrap moto's WSGI application (``MotoServer(wrap=store.wrap)``)."""
        self._app = app
        return self

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self._app is not None
        service = classify(environ)
        if service is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers, exc_info]
            return lambda _data: None  # moto returns its body; it never uses write()

        with self._locks[service]:
            result = self._app(environ, capture)
            try:
                chunks = list(result)
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
            # Persist before the response leaves: once the client sees it, the write is on disk.
            if service == "dynamodb":
                self._append(environ, body)
            else:
                self._snapshot(service)
        start_response(*captured)
        return chunks

    # -- the DynamoDB journal ----------------------------------------------------------------------

    def _append(self, environ: dict[str, Any], body: bytes) -> None:
        self._seq += 1
        record = {
            "seq": self._seq,
            "method": environ.get("REQUEST_METHOD", "POST"),
            "path": environ.get("PATH_INFO", "/"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k: environ[k] for k in _KEPT_HEADERS if environ.get(k)},
            "body": base64.b64encode(body).decode(),
        }
        line = self._fernet.encrypt(json.dumps(record, separators=(",", ":")).encode()) + b"\n"
        if self._journal_fd is None:
            self._journal_fd = os.open(self.dir / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._journal_fd, line)  # one write(2): whole, or (process killed before it) absent
        if self.fsync:
            os.fsync(self._journal_fd)
        if self._seq - self._snapshot_seq >= self.compact_records:
            self._wake.set()

    def _replay(self) -> int:
        from werkzeug.test import Client

        path = self.dir / JOURNAL
        if not path.exists() or self._app is None:
            return 0
        client = Client(self._app)
        replayed = 0
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            try:
                record = json.loads(self._fernet.decrypt(line.strip()))
            except (InvalidToken, ValueError):
                log.warning("%s: record %d is unreadable; it and any later ones are dropped", path, n)
                break
            if record["seq"] <= self._snapshot_seq:
                continue  # already in dynamodb.state (the journal was not truncated after the snapshot)
            headers = {
                ("Content-Type" if k == "CONTENT_TYPE" else k[5:].replace("_", "-").title()): v
                for k, v in record["headers"].items()
            }
            client.open(
                record["path"],
                method=record["method"],
                query_string=record["query"],
                headers=headers,
                data=base64.b64decode(record["body"]),
            )
            self._seq = record["seq"]
            replayed += 1
        return replayed

    def compact(self, *, every_service: bool = False) -> None:
        """Fold the DynamoDB journal into ``dynamodb.state`` (the other services are snapshotted on
        each write; ``every_service`` snapshots them again, for a clean stop)."""
        if not self._restored:
            return
        with self._locks["dynamodb"]:
            if self._seq != self._snapshot_seq or not self._path("dynamodb").exists():
                self._snapshot("dynamodb", self._seq)
                self._snapshot_seq = self._seq
                if self._journal_fd is not None:
                    os.ftruncate(self._journal_fd, 0)
                else:
                    (self.dir / JOURNAL).unlink(missing_ok=True)
        for service in SERVICES[1:] if every_service else ():
            with self._locks[service]:
                self._snapshot(service)

    # -- lifecycle ---------------------------------------------------------------------------------

    def restore(self) -> bool:
        """Load the saved backends into moto (after it started, before resources are created) and
        replay the journal. False if the directory holds no state."""
        found = False
        for service in SERVICES:
            path = self._path(service)
            if not path.exists():
                continue
            doc = _Unpickler(io.BytesIO(self._fernet.decrypt(path.read_bytes()))).load()
            if doc.get("version") != FORMAT or doc.get("region") != self.region:
                found_as = f"region {doc.get('region')}, format {doc.get('version')}"
                log.warning("%s holds %s, not region %s, format %s: ignored", path, found_as, self.region, FORMAT)
                continue
            get_backend(service)[ACCOUNT_ID][_region_key(service, self.region)] = doc["backend"]  # type: ignore[misc]
            if service == "s3":  # moto's registry of bucket names (a create_bucket would replace one otherwise)
                for name, bucket in doc["backend"].buckets.items():
                    get_backend("s3").bucket_accounts[name] = (bucket.partition, ACCOUNT_ID)  # type: ignore[attr-defined]
            if service == "dynamodb":
                self._snapshot_seq = self._seq = int(doc["seq"])
            found = True
        replayed = self._replay()
        if replayed:
            log.info("replayed %d DynamoDB writes from %s", replayed, self.dir / JOURNAL)
        self._restored = True
        return found or replayed > 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-state-compact", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.compact_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.compact()
            except Exception:
                log.exception("could not save state to %s", self.dir)

    def close(self) -> None:
        """Stop compacting, fold the journal into the snapshots, close the journal."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
        self.compact(every_service=True)
        with self._locks["dynamodb"]:
            if self._journal_fd is not None:
                os.close(self._journal_fd)
                self._journal_fd = None
