"""``POST /webhooks/{provider}/{channel_id}/status`` and ``.../inbound``: verify, store raw on the receipts
or inbound queue, answer 200 (Twilio inbound: empty TwiML).

Nothing is applied here: the provider gets its 2xx as soon as the raw request is durable on SQS, and
the receipts / inbound function does the work (and can be retried) without the provider waiting or
re-sending. A request whose signature is missing or wrong gets 403 and leaves no trace. A status
callback that can change nothing is answered 200 without a queue message: statuses before ``sent``
(Twilio's queued/sending), and ``sent`` for a message it names (the sender records ``sent`` itself,
with the provider's id, as soon as the provider accepts; see ``receipts_worth_queueing``).
"""

from __future__ import annotations

import base64
from typing import Any

from smsdesk import aws, channels, config, manifest
from smsdesk.connectors.base import SignatureError, WebhookRequest
from smsdesk.connectors.registry import get_connector, is_known
from smsdesk.envelopes import InboundEnvelope, ReceiptEnvelope
from smsdesk.errors import Forbidden, NotFound, ValidationError
from smsdesk.models import utcnow
from smsdesk.observability import logger
from smsdesk.webhooks.http import APPLICATION_JSON, Response, Router

router = Router()

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
#: The signature header each provider signs with (named in the 403 error's ``field``).
_SIGNATURE_HEADERS = {"sandbox": "X-Sandbox-Signature", "twilio": "X-Twilio-Signature"}
#: Headers kept with the raw request: what parsing and (re-)verification can need, nothing else.
_KEPT_PREFIXES = ("x-twilio-", "i-twilio-", "x-sandbox-")


class InvalidSignature(Forbidden):
    code = "invalid_signature"


def raw_event() -> dict[str, Any]:
    return router.current_event.raw_event


def public_url(event: dict) -> str:
    """The URL the provider called, as it signed it: scheme://domain/path?query."""
    ctx = event.get("requestContext") or {}
    headers = event.get("headers") or {}
    host = ctx.get("domainName") or headers.get("host", "")
    local = any(host == h or host.startswith(h + ":") for h in _LOCAL_HOSTS)
    scheme = "http" if local else headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    query = event.get("rawQueryString") or ""
    return f"{scheme}://{host}{event.get('rawPath', '')}" + (f"?{query}" if query else "")


def webhook_request(event: dict) -> WebhookRequest:
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")
    return WebhookRequest(url=public_url(event), method=method, headers=headers, body=body)


def raw_record(request: WebhookRequest) -> dict:
    """The request as stored on the queue (body as text when it is UTF-8, else base64)."""
    kept = {k: v for k, v in request.headers.items() if k == "content-type" or k.startswith(_KEPT_PREFIXES)}
    raw: dict = {"url": request.url, "method": request.method, "headers": kept}
    try:
        raw["body"] = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raw["body_b64"] = base64.b64encode(request.body).decode()
    return raw


def verified_request(provider: str, channel_id: str) -> WebhookRequest:
    """The current request, if ``channel_id`` is a channel of ``provider`` and the provider's signature
    checks out: 404 for an unknown provider or channel, 403 ``invalid_signature`` otherwise."""
    if not is_known(provider):
        raise NotFound(f"no provider {provider}", field="provider")
    channel = channels.get_channel_cached(channel_id)  # a few seconds per container: one read per burst
    if channel.provider != provider:
        raise NotFound(f"channel {channel_id} does not use {provider}", field="channel_id")
    request = webhook_request(raw_event())
    try:
        get_connector(provider).verify(request, channels.get_provider_secret(channel))
    except SignatureError as exc:
        logger.warning(
            "webhook signature rejected", extra={"provider": provider, "channel_id": channel_id, "reason": str(exc)}
        )
        raise InvalidSignature(str(exc), field=_SIGNATURE_HEADERS.get(provider)) from exc
    return request


def receipts_worth_queueing(provider: str, request: WebhookRequest) -> bool:
    """False when the (verified) callback holds no receipt that can change a message: none at all, or
    only ``sent`` receipts that name their message. Anything the connector cannot parse is queued (the
    receipts function retries and dead-letters it: never dropped silently)."""
    try:
        receipts = get_connector(provider).parse_receipts(request)
    except Exception:
        return True
    return any(r.status != "sent" or not r.message_id for r in receipts)


@router.post("/webhooks/<provider>/<channel_id>/status")
def status_callback(provider: str, channel_id: str) -> dict[str, bool]:
    request = verified_request(provider, channel_id)
    if not receipts_worth_queueing(provider, request):
        return {"received": True}
    envelope = ReceiptEnvelope(provider=provider, channel_id=channel_id, received_at=utcnow(), raw=raw_record(request))
    aws.sqs().send_message(
        QueueUrl=config.queue_url(manifest.RECEIPTS_QUEUE), MessageBody=envelope.model_dump_json(exclude_none=True)
    )
    return {"received": True}


#: Twilio expects TwiML from a messaging webhook; an empty ``<Response/>`` means "no reply from here"
#: (replies are sent through the API by the routing, never inline).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@router.post("/webhooks/<provider>/<channel_id>/inbound")
def inbound_sms(provider: str, channel_id: str) -> Response[Any]:
    """An inbound SMS: verify, check it parses (a payload we could never route is refused with 422
    here rather than dead-lettered later), store it raw on the inbound queue, answer 200.

    Nothing is routed here: duplicates, keywords and conversations are the inbound function's job,
    which keeps this answer fast and the provider from retrying.
    """
    request = verified_request(provider, channel_id)
    try:
        sms = get_connector(provider).parse_inbound(request)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            f"not an inbound SMS this provider sends: {exc}", field="body", code="invalid_payload"
        ) from exc
    envelope = InboundEnvelope(provider=provider, channel_id=channel_id, received_at=utcnow(), raw=raw_record(request))
    aws.sqs().send_message(
        QueueUrl=config.queue_url(manifest.INBOUND_QUEUE), MessageBody=envelope.model_dump_json(exclude_none=True)
    )
    logger.info(
        "inbound SMS stored", extra={"provider": provider, "channel_id": channel_id, "provider_id": sms.provider_id}
    )
    if provider == "twilio":
        return Response(status_code=200, content_type="text/xml", body=EMPTY_TWIML)
    return Response(status_code=200, content_type=APPLICATION_JSON, body={"received": True})
