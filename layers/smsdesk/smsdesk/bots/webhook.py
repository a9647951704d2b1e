"""Webhook bots (issue 15): smsdesk POSTs each event to the bot's HTTPS endpoint and performs the
actions it answers.

Request: ``POST <webhook_url>`` with a JSON body ``{"event", "run_id", "trigger", "conversation",
"contact", "message"}`` and the headers ``X-Smsdesk-Timestamp`` (Unix seconds) and
``X-Smsdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``: verify it, and
refuse a timestamp more than 5 minutes away (replays).

Answer (2xx, JSON): ``{"actions": [...]}`` with ``{"type": "send", "text": ...}``,
``{"type": "set_field", "field": ..., "value": ...}``, ``{"type": "handoff"}``, ``{"type": "close"}``,
``{"type": "end"}``; other types are ignored. Without a handoff/close/end the run waits for the
customer's next message. A slow (``TIMEOUT_S``) or failing endpoint (no answer, non-2xx, not JSON) is
tried ``ATTEMPTS`` times, then the conversation is handed to humans: never left with a dead bot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from smsdesk import aws
from smsdesk.bots.engine import Action
from smsdesk.observability import logger

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = (0.2, 0.5)
MAX_ACTIONS = 20
_cache: dict[str, tuple[float, str]] = {}
SECRET_CACHE_S = 60.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def secret_of(secret_name: str) -> str:
    now = time.monotonic()
    hit = _cache.get(secret_name)
    if hit and now - hit[0] < SECRET_CACHE_S:
        return hit[1]
    value = aws.secrets().get_secret_value(SecretId=secret_name)["SecretString"]
    _cache[secret_name] = (now, value)
    return value


def call(url: str, secret: str, payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The endpoint's actions, or None when it failed every attempt."""
    body = json.dumps(payload, default=str, separators=(",", ":")).encode()
    for attempt in range(ATTEMPTS):
        ts = str(int(time.time()))
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "content-type": "application/json",
                "user-agent": "smsdesk-bots/1",
                "x-smsdesk-timestamp": ts,
                "x-smsdesk-signature": sign(secret, ts, body),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                answer = json.loads(resp.read() or b"{}")
            actions = answer.get("actions") if isinstance(answer, dict) else None
            return [a for a in actions if isinstance(a, dict)][:MAX_ACTIONS] if isinstance(actions, list) else []
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            logger.warning("bot webhook failed", extra={"url": url, "attempt": attempt + 1, "error": str(exc)})
        if attempt < len(BACKOFF_S):
            time.sleep(BACKOFF_S[attempt])
    return None


def to_actions(answer: list[dict[str, Any]] | None) -> tuple[list[Action], str | None]:
    """The engine's actions for an answer, and how the run ends (None: it waits for the customer)."""
    if answer is None:
        return [Action("handoff")], "handoff"
    out: list[Action] = []
    for a in answer:
        kind = a.get("type")
        if kind == "send" and isinstance(a.get("text"), str) and a["text"].strip():
            out.append(Action("send", text=a["text"][:1600], step_id="webhook"))
        elif kind == "set_field" and isinstance(a.get("field"), str) and a.get("value") is not None:
            out.append(Action("set_field", field=a["field"], value=str(a["value"]), step_id="webhook"))
        elif kind in ("handoff", "close", "end"):
            out.append(Action(kind))
            return out, kind
    return out, None
