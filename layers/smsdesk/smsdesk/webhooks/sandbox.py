"""The sandbox provider's own side (local stack only). Outside the local stack these routes answer 404
(and are never deployed: the manifest marks ``/sandbox/{proxy+}`` local-only).

* ``GET /sandbox/outbox`` — every send attempt the sandbox carrier saw, newest first.
* ``POST /sandbox/inbound {"from", "to", "text"[, "id"]}`` — a customer texts the channel whose sender
  is ``to``: the sandbox carrier signs an inbound webhook with the channel's key and posts it to the
  REAL route ``/webhooks/sandbox/{channel_id}/inbound``, exactly as a provider would. Answers 202 with
  the provider message id at once; the webhook is posted right after (the local gateway runs one HTTP
  invocation at a time, like one Lambda execution environment, so this request cannot wait for it).
  Posting the same ``id`` again is a provider retry (the inbox keeps one message).

What only these routes use is imported when they run, so the deployed function never loads it.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from smsdesk import channels, config, ids
from smsdesk.errors import NotFound, ValidationError
from smsdesk.models import iso, utcnow
from smsdesk.webhooks.http import APPLICATION_JSON, Response, Router
from smsdesk.webhooks.routes import raw_event

log = logging.getLogger(__name__)

router = Router()


@router.get("/sandbox/outbox")
def outbox() -> dict[str, Any]:
    if not config.is_local():
        raise NotFound("the sandbox exists only on the local stack")
    query = raw_event().get("queryStringParameters") or {}
    raw_limit = query.get("limit") or "50"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        raise ValidationError("limit must be an integer from 1 to 200", field="limit")
    from smsdesk.data import sandbox as repo  # local stack only: not loaded by the deployed function

    items, cursor = repo.list_outbox(limit=int(raw_limit), cursor=query.get("cursor"))
    return {"messages": items, "next_cursor": cursor}


class SimulatedInbound(BaseModel):
    """``POST /sandbox/inbound``: what a customer's phone sends."""

    # built on first use (local stack only), not at every cold start of the deployed function
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)
    from_: str = Field(alias="from", min_length=1, max_length=40, description="The customer's number")
    to: str = Field(min_length=1, max_length=40, description="The channel's number (its sender)")
    text: str = Field(max_length=5000)
    id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Provider message id; the same id again = a retry"
    )


def inbound_url(channel_id: str) -> str:
    """Where the sandbox carrier posts inbound SMS: the local gateway (or the channel's webhook URL)."""
    base = os.environ.get("SANDBOX_CALLBACK_BASE")
    if base:
        return f"{base.rstrip('/')}/webhooks/sandbox/{channel_id}/inbound"
    return channels.get_channel(channel_id).webhook_urls["inbound"]


def _post_later(url: str, event: dict[str, Any], key: str) -> None:
    from smsdesk.connectors import sandbox as carrier

    def run() -> None:
        try:
            status = carrier.post_signed(url, event, key)
            log.info("sandbox: inbound %s posted to %s: %s", event["id"], url, status)
        except Exception:  # the sandbox is best effort, like a carrier
            log.warning("sandbox: could not post inbound %s to %s", event["id"], url, exc_info=True)

    threading.Thread(target=run, name="sandbox-inbound", daemon=True).start()


def _body() -> SimulatedInbound:
    event = raw_event()
    raw: str | bytes = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    try:
        return SimulatedInbound.model_validate_json(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        msg = first.get("msg", "invalid")
        raise ValidationError(f"{field}: {msg}" if field else msg, field=field) from exc


@router.post("/sandbox/inbound")
def simulate_inbound() -> Response[dict[str, Any]]:
    if not config.is_local():
        raise NotFound("the sandbox exists only on the local stack")
    from smsdesk import lists  # local stack only: not loaded by the deployed function

    body = _body()
    to = lists.normalise(body.to, config.default_country(), field="to")  # any valid number, like a sender
    channel = channels.find_by_sender("sandbox", to)
    if channel is None:
        raise NotFound(f"no sandbox channel has the number {to}", field="to")
    key = channels.get_provider_secret(channel).get("signing_key")
    if not key:
        raise ValidationError("the channel has no sandbox signing_key", field="to")
    event = {"id": body.id or ids.new_id("SBIN"), "from": body.from_, "to": to, "text": body.text, "at": iso(utcnow())}
    url = inbound_url(channel.id)
    _post_later(url, event, key)
    return Response(
        status_code=202,
        content_type=APPLICATION_JSON,
        body={
            "id": event["id"],
            "channel_id": channel.id,
            "webhook_url": url,
            **{k: event[k] for k in ("from", "to", "text", "at")},
        },
    )
