"""``--state-dir``: keep data across restarts by pickling moto's in-process backends.

ThreadedMotoServer serves the backends of this process, so the backend objects of the services
holding data are pickled as they are: DynamoDB (tables, items), Cognito (pools, clients, groups,
users with their ``sub`` and passwords; the pool id and so the issuer do not change, so tokens
issued before a restart stay valid until they expire), EventBridge Scheduler (groups, schedules)
and Secrets Manager (provider credentials). Cognito's signing key (a ``joserfc`` RSAKey, not
picklable) is saved by reference: moto signs every pool with the same bundled key.

Not persisted: SQS messages (moto's queues hold locks and cannot be pickled; messages in flight at
shutdown are lost), SNS/EventBridge configuration (recreated from the manifest on start).
"""

from __future__ import annotations

import io
import logging
import pickle
import time
from pathlib import Path
from typing import Any

from joserfc import jwk
from moto.backends import get_backend
from moto.utilities.utils import load_resource

from smsdesk.local.moto_server import ACCOUNT_ID

log = logging.getLogger("smsdesk_local")

SERVICES = ("dynamodb", "cognito-idp", "scheduler", "secretsmanager")
STATE_FILE = "moto-state.pickle"
_JWK_REF = "moto-cognito-jwks-private"


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


def _dumps(region: str) -> bytes:
    data = {svc: get_backend(svc)[ACCOUNT_ID][region] for svc in SERVICES}  # type: ignore[misc]
    for attempt in range(5):
        buf = io.BytesIO()
        try:
            _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump({"version": 1, "region": region, "backends": data})
            return buf.getvalue()
        except RuntimeError:  # a handler thread changed a dict while we pickled it; try again
            if attempt == 4:
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


def save(state_dir: Path, region: str) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_dumps(region))
    tmp.chmod(0o600)  # holds Cognito users and provider secrets
    tmp.replace(path)
    return path


def restore(state_dir: Path, region: str) -> bool:
    """Load saved backends into moto (before resources are created). False if there is no state."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return False
    with path.open("rb") as f:
        data = _Unpickler(f).load()
    if data.get("region") != region:
        log.warning("state in %s is for region %s, not %s: ignored", path, data.get("region"), region)
        return False
    for svc, backend in data["backends"].items():
        get_backend(svc)[ACCOUNT_ID][region] = backend  # type: ignore[misc]
    return True
