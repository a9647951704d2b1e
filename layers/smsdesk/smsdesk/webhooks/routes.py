"""``POST /webhooks/{provider}/{channel_id}/status`` and ``.../inbound``: verify, store raw on the receipts
or inbound queue, answer 200 (Twilio inbound: empty TwiML).

The provider gets its 2xx as soon as the callback is durable: applied, or stored raw on SQS for the
receipts / inbound function to do the work (and be retried) without the provider waiting or
re-sending. A request whose signature is missing or wrong gets 403 and leaves no trace. A status
callback that can change nothing is answered 200 without a queue message: statuses before ``sent``
(Twilio's queued/sending), and ``sent`` for a message it names (the sender records ``sent`` itself,
with the provider's id, as soon as the provider accepts; see ``receipts_left``). A final
receipt (delivered, undelivered, failed) that names its message is applied here, with the one
conditional write the receipts function would make (``receipts.apply_at_once``): no queue message and
no receipts invocation. Whatever that write cannot settle (a missing message, a multi-part receipt,
throttling, a receipt without our id) is queued as before.
"""

from __future__ import annotations

import base64
from typing import Any

from smsdesk import aws, channels, config, manifest
from smsdesk.connectors.base import SignatureError, WebhookRequest
from smsdesk.connectors.registry import get_connector, is_known
from smsdesk.envelopes import InboundEnvelope, ReceiptEnvelope
from smsdesk.errors import Forbidden, NotFound, ValidationError
from smsdesk.models import Channel, Receipt, utcnow
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


def verified_request(provider: str, channel_id: str, *, max_age_s: float | None = None) -> WebhookRequest:
    """The current request, if ``channel_id`` is a channel of ``provider`` and the provider's signature
    checks out: 404 for an unknown provider or channel, 403 ``invalid_signature`` otherwise.

    ``max_age_s``: how long ago this container may have read the channel (default: the send path's
    ``channels.CHANNEL_CACHE_S``). A channel read longer ago than that which does not verify the request
    (its provider or its secret changed since) is checked once more as read within the default, so a
    longer age saves reads without refusing a callback the current channel accepts; a forged request
    causes no more reads than with the default."""
    if not is_known(provider):
        raise NotFound(f"no provider {provider}", field="provider")
    request = webhook_request(raw_event())
    channel = channels.get_channel_cached(channel_id, max_age_s=max_age_s)  # one read per burst
    try:
        return _verified(provider, channel, request)
    except (NotFound, InvalidSignature):
        if max_age_s is None or max_age_s <= channels.CHANNEL_CACHE_S:
            raise
    return _verified(provider, channels.get_channel_cached(channel_id), request)


def _verified(provider: str, channel: Channel, request: WebhookRequest) -> WebhookRequest:
    if channel.provider != provider:
        raise NotFound(f"channel {channel.id} does not use {provider}", field="channel_id")
    try:
        get_connector(provider).verify(request, channels.get_provider_secret(channel))
    except SignatureError as exc:
        logger.warning(
            "webhook signature rejected", extra={"provider": provider, "channel_id": channel.id, "reason": str(exc)}
        )
        raise InvalidSignature(str(exc), field=_SIGNATURE_HEADERS.get(provider)) from exc
    return request


def receipts_left(provider: str, request: WebhookRequest) -> list[Receipt] | None:
    """The (verified) callback's receipts that can change a message: not ``sent`` receipts that name
    their message. None when the connector cannot parse it: queued raw (the receipts function retries
    and dead-letters it: never dropped silently)."""
    try:
        receipts = get_connector(provider).parse_receipts(request)
    except Exception:
        return None
    return [r for r in receipts if r.status != "sent" or not r.message_id]


@router.post("/webhooks/<provider>/<channel_id>/status")
def status_callback(provider: str, channel_id: str) -> dict[str, bool]:
    # the channel as read up to a minute ago (as long as its secret is cached): sporadic receipts cost
    # no channel read; a stale one that fails the check is read again (``verified_request``)
    request = verified_request(provider, channel_id, max_age_s=channels.SECRET_CACHE_S)
    receipts = receipts_left(provider, request)
    if receipts == []:
        return {"received": True}
    if receipts is not None:
        from smsdesk.sending import receipts as applying  # the send side's status code: not at cold start

        if applying.apply_at_once(provider, channel_id, receipts):
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
