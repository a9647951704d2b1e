"""Twilio: the Messages REST API for sending, status callbacks (form posts) for receipts.

No Twilio SDK at run time (it would add megabytes to the layer and to every cold start): sending is one
form-encoded POST with urllib, and the webhook signature is computed here exactly as Twilio computes
it (``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the account's auth token, over the full URL
followed by every POST parameter name+value sorted by name). ``tests/unit/test_connector_twilio.py``
checks it against the ``twilio`` package's ``RequestValidator``.

Settings: ``provider_settings = {"account_sid": "AC...", "messaging_service_sid": "MG..." (optional)}``;
secret ``{"auth_token": ...}`` (optionally ``webhook_shared_key`` for SharedKey-signed webhooks).
``TWILIO_API_BASE`` overrides ``https://api.twilio.com`` (tests point it at a local fake).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from smsdesk.connectors._util import receipt_id, received_at, remaining_validity_s
from smsdesk.connectors.base import (
    PermanentError,
    SendResult,
    SignatureError,
    TransientError,
    WebhookRequest,
)
from smsdesk.models import Channel, InboundSms, Message, Receipt, ReceiptStatus

DEFAULT_API_BASE = "https://api.twilio.com"
SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
#: Twilio keeps a message in its queue at most this long (ValidityPeriod's maximum).
MAX_VALIDITY_S = 36_000
_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}

#: Twilio MessageStatus -> our receipt status; statuses before "sent" tell us nothing new.
_STATUS: dict[str, ReceiptStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def compute_signature(url: str, params: dict[str, list[str]], key: str, algorithm: str = "HMAC_SHA1") -> str:
    """Twilio's signature: URL + name+value of every parameter (names sorted, then values sorted)."""
    data = url
    for name in sorted(params):
        for value in sorted(set(params[name])):
            data += name + value
    digest = hmac.new(key.encode(), data.encode(), _HASHES[algorithm]).digest()
    return base64.b64encode(digest).decode()


#: Query parameter of the status-callback URL that carries smsdesk's message id (Twilio signs the URL).
MESSAGE_ID_PARAM = "smsdesk_message_id"


def status_callback_url(base: str, message_id: str) -> str:
    """The channel's status webhook URL naming the message, so its receipts need no id lookup."""
    parts = urlsplit(base)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), (MESSAGE_ID_PARAM, message_id)])
    return urlunsplit(parts._replace(query=query))


def _url_variants(url: str) -> list[str]:
    """The URL with and without its default port: Twilio signs either form, depending on the product."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    return [without_port, with_port]


def _algorithm(settings_header: str | None) -> str:
    for part in (settings_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return "HMAC_SHA1"


def _form(request: WebhookRequest) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for k, v in parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True):
        params.setdefault(k, []).append(v)
    return params


def _first(request: WebhookRequest, name: str) -> str | None:
    if name in request.form:
        return request.form[name]
    values = _form(request).get(name)
    return values[0] if values else None


class TwilioConnector:
    name = "twilio"

    def __init__(self, *, api_base: str | None = None, timeout_s: float = 10.0) -> None:
        self._api_base = api_base
        self.timeout_s = timeout_s

    @property
    def api_base(self) -> str:
        return (self._api_base or os.environ.get("TWILIO_API_BASE") or DEFAULT_API_BASE).rstrip("/")

    # -- sending -----------------------------------------------------------------------------------

    def send(self, channel: Channel, message: Message, secret: dict[str, str]) -> SendResult:
        account_sid = channel.provider_settings.get("account_sid") or secret.get("account_sid")
        token = secret.get("auth_token")
        if not account_sid or not token:
            raise PermanentError("twilio_not_configured", "the channel has no Twilio account_sid or auth_token")
        params: list[tuple[str, str]] = [("To", message.to), ("Body", message.text)]
        service = channel.provider_settings.get("messaging_service_sid")
        params.append(("MessagingServiceSid", service) if service else ("From", channel.sender))
        if channel.webhook_urls.get("status"):
            params.append(("StatusCallback", status_callback_url(channel.webhook_urls["status"], message.id)))
        params.append(("ValidityPeriod", str(min(MAX_VALIDITY_S, remaining_validity_s(channel, message)))))
        auth = base64.b64encode(f"{account_sid}:{token}".encode()).decode()
        req = urllib.request.Request(
            f"{self.api_base}/2010-04-01/Accounts/{account_sid}/Messages.json",
            data=urlencode(params).encode(),
            method="POST",
            headers={
                "Authorization": f"Basic {auth}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "smsdesk",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                body = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            # Note: a timeout after the request went out may mean Twilio accepted it (Twilio has no
            # idempotency key), so a retry can duplicate the SMS; that is the price of not losing it.
            raise TransientError("twilio_unreachable", str(exc)) from exc
        except ValueError as exc:
            raise TransientError("twilio_bad_response", "Twilio answered with invalid JSON") from exc
        sid = body.get("sid")
        if not sid:
            raise TransientError("twilio_bad_response", "Twilio's answer has no message sid")
        segments = body.get("num_segments")
        parts = int(segments) if str(segments or "").isdigit() and int(segments) > 0 else None
        return SendResult(provider_id=sid, parts=parts)

    # -- webhooks ----------------------------------------------------------------------------------

    def verify(self, request: WebhookRequest, secret: dict[str, str]) -> None:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError("missing X-Twilio-Signature")
        settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        algorithm = _algorithm(settings)
        if algorithm not in _HASHES:
            raise SignatureError(f"unsupported signature algorithm {algorithm}")
        key = (secret.get("webhook_shared_key") if settings else None) or secret.get("auth_token")
        if not key:
            raise SignatureError("the channel has no Twilio auth token to check signatures with")
        query = parse_qs(urlsplit(request.url).query)
        params: dict[str, list[str]]
        if "bodySHA256" in query:  # JSON webhooks: the URL carries the body's hash, the body is not signed
            body_hash = hashlib.sha256(request.body).hexdigest()
            if not hmac.compare_digest(body_hash, query["bodySHA256"][0]):
                raise SignatureError("body does not match bodySHA256")
            params = {}
        else:
            params = _form(request)
        for url in _url_variants(request.url):
            if hmac.compare_digest(compute_signature(url, params, key, algorithm), signature):
                return
        raise SignatureError("X-Twilio-Signature does not match")

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        sid = _first(request, "MessageSid") or _first(request, "SmsSid")
        status = (_first(request, "MessageStatus") or _first(request, "SmsStatus") or "").lower()
        if not sid:
            raise ValueError("Twilio status callback without MessageSid")
        mapped = _STATUS.get(status)
        if mapped is None:
            return []  # queued, accepted, scheduled, sending: nothing beyond what we already know
        error_code = _first(request, "ErrorCode") or None
        return [
            Receipt(
                provider="twilio",
                provider_id=sid,
                status=mapped,
                at=received_at(request),
                error_code=f"twilio_{error_code}" if error_code else None,
                error_message=_first(request, "ErrorMessage"),
                raw_id=receipt_id("twilio", sid, status, error_code),
                message_id=(parse_qs(urlsplit(request.url).query).get(MESSAGE_ID_PARAM) or [None])[0],
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """An incoming-message webhook (form post: ``MessageSid``, ``From``, ``To``, ``Body``, ...).

        Twilio sends no timestamp: the message is dated when our webhook received it. ``Body`` may be
        absent (a media-only MMS): the text is then empty.
        """
        sid = _first(request, "MessageSid") or _first(request, "SmsMessageSid") or _first(request, "SmsSid")
        sender, to = _first(request, "From"), _first(request, "To")
        if not sid or not sender or not to:
            raise ValueError("Twilio inbound webhook without MessageSid, From or To")
        return InboundSms(
            provider="twilio",
            provider_id=sid,
            **{"from": sender},
            to=to,
            text=_first(request, "Body") or "",
            received_at=received_at(request),
        )


def _http_error(exc: urllib.error.HTTPError) -> TransientError | PermanentError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    code = body.get("code") or exc.code
    message = str(body.get("message") or exc.reason or f"HTTP {exc.code}")
    if exc.code == 429 or exc.code >= 500:
        return TransientError(f"twilio_{code}", message, retry_after_s=_retry_after(exc.headers.get("Retry-After")))
    return PermanentError(f"twilio_{code}", message)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date: let the sender's backoff decide


def connector() -> TwilioConnector:
    return TwilioConnector()
