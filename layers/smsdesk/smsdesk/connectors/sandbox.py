"""The sandbox provider: a fake SMS carrier for the local stack (``config.is_local()`` only).

It behaves like a real provider seen from smsdesk: ``send`` records the message in the sandbox outbox
(``GET /sandbox/outbox``) and answers with a provider id, and shortly after it posts signed delivery
receipts to the real webhook route, so the whole receipts path runs as it does in AWS.

Outcome by recipient, so tests and demos can provoke each path:

* number ending ``0000`` — rejected permanently (the message fails and is refunded);
* number ending ``0001`` — transient failure on the first two attempts, accepted on the third;
* anything else — accepted; receipt ``delivered`` (one per part for multi-part texts).

Which receipts (``provider_settings["receipts"]``, :func:`receipts_mode`): ``final`` (the default) posts
only the final receipt of each part, like an AWS End User Messaging configuration set whose event
destination matches only final event types; ``all`` posts ``sent`` first, like Twilio, which calls back
for every step. A ``sent`` callback changes nothing (the sender records ``sent`` itself when the
provider accepts) but costs a webhook request and invocation, so the default leaves it out.

Receipts are posted by a daemon ``threading.Timer`` after ``SANDBOX_RECEIPT_DELAY_S`` (default 0.5 s)
to ``SANDBOX_CALLBACK_BASE`` (the local gateway; set by the local stack) or else to the channel's
``webhook_urls["status"]``. That needs a long-lived process, which the local stack is; in a Lambda the
timer would die with the invocation, which is one more reason the sandbox is local-only.

Signature: header ``X-Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(signing_key, "<t>.<body>")>``,
rejected when ``t`` is more than 300 s away from now (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
import urllib.request
from typing import Any, Literal

from smsdesk.connectors._util import receipt_id, received_at
from smsdesk.connectors.base import (
    PermanentError,
    SendResult,
    SignatureError,
    TransientError,
    WebhookRequest,
)
from smsdesk.data import sandbox as sandbox_repo
from smsdesk.ids import new_id
from smsdesk.models import Channel, InboundSms, Message, Receipt, iso, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-sandbox-signature"
TOLERANCE_S = 300
PERMANENT_SUFFIX = "0000"
TRANSIENT_SUFFIX = "0001"
TRANSIENT_FAILURES = 2

#: ``provider_settings["receipts"]`` (``connectors/settings.SandboxSettings``): which receipts are posted.
ReceiptsMode = Literal["final", "all"]


def outcome(to: str, attempt: int) -> str:
    """``accepted`` | ``transient`` | ``permanent`` for the ``attempt``-th (1-based) send to ``to``."""
    if to.endswith(PERMANENT_SUFFIX):
        return "permanent"
    if to.endswith(TRANSIENT_SUFFIX) and attempt <= TRANSIENT_FAILURES:
        return "transient"
    return "accepted"


def sign(body: bytes, key: str, *, timestamp: int | None = None) -> str:
    """The ``X-Sandbox-Signature`` header value for ``body``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(key.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def callback_url(channel: Channel) -> str | None:
    base = os.environ.get("SANDBOX_CALLBACK_BASE")
    if base:
        return f"{base.rstrip('/')}/webhooks/sandbox/{channel.id}/status"
    return channel.webhook_urls.get("status")


def receipts_mode(channel: Channel) -> ReceiptsMode:
    """The channel's ``provider_settings["receipts"]``: ``final`` unless it says ``all``."""
    return "all" if channel.provider_settings.get("receipts") == "all" else "final"


def receipt_events(
    provider_id: str, parts: int, client_ref: str | None = None, *, receipts: ReceiptsMode = "final"
) -> list[dict[str, Any]]:
    """What the sandbox carrier reports for an accepted message: delivered per part, preceded by sent
    when ``receipts`` is ``all``. Each event echoes ``client_ref`` (smsdesk's message id, given at send
    time) inside the signed body."""
    now = iso(utcnow())
    ref = {"client_ref": client_ref} if client_ref else {}
    events: list[dict[str, Any]] = []
    if receipts == "all":
        events.append(
            {"id": new_id("EV"), "message_id": provider_id, "status": "sent", "at": now, "parts": parts, **ref}
        )
    if parts > 1:
        events += [
            {
                "id": new_id("EV"),
                "message_id": provider_id,
                "status": "delivered",
                "at": now,
                "part": i,
                "parts": parts,
                **ref,
            }
            for i in range(1, parts + 1)
        ]
    else:
        events.append({"id": new_id("EV"), "message_id": provider_id, "status": "delivered", "at": now, **ref})
    return events


def post_signed(url: str, event: dict[str, Any], key: str, *, timeout_s: float = 5.0) -> int:
    body = json.dumps(event, separators=(",", ":")).encode()
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-sandbox-signature": sign(body, key)},
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        return int(resp.status)


def _deliver_later(url: str, events: list[dict[str, Any]], key: str, delay_s: float) -> None:
    def run() -> None:
        for event in events:
            try:
                post_signed(url, event, key)
            except Exception:  # the sandbox is best effort, like a carrier's DLR
                log.warning("sandbox: could not post receipt %s to %s", event.get("id"), url, exc_info=True)

    timer = threading.Timer(delay_s, run)
    timer.daemon = True
    timer.start()


class SandboxConnector:
    name = "sandbox"

    def send(self, channel: Channel, message: Message, secret: dict[str, str]) -> SendResult:
        key = secret.get("signing_key")
        if not key:
            raise PermanentError("sandbox_not_configured", "the sandbox channel has no signing_key secret")
        attempt = sandbox_repo.next_attempt(message.id)
        result = outcome(message.to, attempt)
        provider_id = f"SB{new_id()}" if result == "accepted" else None
        at = iso(utcnow())
        sandbox_repo.record(
            {
                "message_id": message.id,
                "provider_id": provider_id,
                "channel_id": channel.id,
                "from": channel.sender,
                "to": message.to,
                "text": message.text,
                "segments": message.segments,
                "attempt": attempt,
                "outcome": result,
                "at": at,
            },
            at=at,
            entry_id=new_id(),
        )
        if result == "permanent":
            raise PermanentError("sandbox_rejected", f"the sandbox rejects numbers ending {PERMANENT_SUFFIX}")
        if result == "transient":
            raise TransientError("sandbox_unavailable", f"sandbox attempt {attempt}: try again later")
        assert provider_id is not None
        url = callback_url(channel)
        if url:
            delay = float(os.environ.get("SANDBOX_RECEIPT_DELAY_S", "0.5"))
            events = receipt_events(provider_id, max(1, message.segments), message.id, receipts=receipts_mode(channel))
            _deliver_later(url, events, key, delay)
        else:
            log.warning("sandbox: no callback URL for channel %s; no receipts will follow", channel.id)
        return SendResult(provider_id=provider_id, parts=message.segments)

    def verify(self, request: WebhookRequest, secret: dict[str, str]) -> None:
        key = secret.get("signing_key")
        header = request.headers.get(SIGNATURE_HEADER)
        if not key:
            raise SignatureError("the channel has no sandbox signing_key")
        if not header:
            raise SignatureError("missing X-Sandbox-Signature")
        fields: dict[str, list[str]] = {}
        for part in header.split(","):
            name, _, value = part.strip().partition("=")
            fields.setdefault(name, []).append(value)
        try:
            ts = int(fields["t"][0])
        except (KeyError, ValueError) as exc:
            raise SignatureError("X-Sandbox-Signature has no valid timestamp") from exc
        if abs(time.time() - ts) > TOLERANCE_S:
            raise SignatureError("X-Sandbox-Signature timestamp is too old or in the future")
        expected = sign(request.body, key, timestamp=ts).rpartition("v1=")[2]
        if not any(hmac.compare_digest(expected, v) for v in fields.get("v1", [])):
            raise SignatureError("X-Sandbox-Signature does not match")

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        data = json.loads(request.body or b"{}")
        events = data.get("events", [data]) if isinstance(data, dict) else data
        return [
            Receipt(
                provider="sandbox",
                provider_id=e["message_id"],
                status=e["status"],
                at=e.get("at") or received_at(request),
                part=e.get("part"),
                parts=e.get("parts"),
                error_code=e.get("error_code"),
                error_message=e.get("error_message"),
                raw_id=e["id"],
                message_id=e.get("client_ref") or None,
            )
            for e in events
        ]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """``{"id", "from", "to", "text", "at"}`` (what ``POST /sandbox/inbound`` posts). Without an
        ``id`` the body's hash is the provider id, so the same request delivered again is the same SMS."""
        e = json.loads(request.body or b"{}")
        if not isinstance(e, dict) or not e.get("from") or not e.get("to") or not isinstance(e.get("text"), str):
            raise ValueError("sandbox inbound webhook needs from, to and text")
        return InboundSms(
            provider="sandbox",
            provider_id=str(
                e.get("id") or "SBIN" + receipt_id("sandbox-inbound", request.body.decode(errors="replace"))
            ),
            **{"from": str(e["from"])},
            to=str(e["to"]),
            text=e["text"],
            received_at=e.get("at") or received_at(request),
        )


def connector() -> SandboxConnector:
    return SandboxConnector()
