"""AWS End User Messaging SMS (``pinpoint-sms-voice-v2``): SendTextMessage, delivery events via SNS.

Sending uses the channel's origination identity (``provider_settings["origination_identity"]``: a phone
number, sender ID, pool id or ARN; default: the channel's ``sender``), its configuration set
(``provider_settings["configuration_set"]``, whose SNS event destination is the ``aws-sms-events``
topic) and message type. Credentials are the function's IAM role: this provider needs no secret.

Delivery events reach the receipts queue through SNS → SQS (an AWS-internal path guarded by IAM and
the topic/queue policies, not a public HTTP webhook), so there is no signature to check; the queue
envelope wraps them as provider ``aws_sms`` (``smsdesk.envelopes.ReceiptEnvelope``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from smsdesk import aws
from smsdesk.connectors._util import from_epoch_ms, receipt_id, received_at, remaining_validity_s
from smsdesk.connectors.base import (
    PermanentError,
    SendResult,
    SignatureError,
    TransientError,
    WebhookRequest,
)
from smsdesk.models import Channel, InboundSms, Message, Receipt, ReceiptStatus

SERVICE = "pinpoint-sms-voice-v2"
MIN_TTL_S, MAX_TTL_S = 5, 259_200
#: Context key carrying our message id; it comes back in every delivery event.
CONTEXT_KEY = "smsdesk_message_id"

TRANSIENT_ERRORS = frozenset({"ThrottlingException", "InternalServerException", "ServiceQuotaExceededException"})
PERMANENT_ERRORS = frozenset(
    {"ValidationException", "AccessDeniedException", "ResourceNotFoundException", "ConflictException"}
)

#: Event type -> receipt status. QUEUED/PENDING/SENT: accepted, not yet at the handset.
#: SUCCESSFUL is "accepted by the recipient's carrier"; AWS uses it interchangeably with DELIVERED
#: depending on the country, and marks it final (``isFinal``) when no DELIVERED will follow.
_EVENTS: dict[str, ReceiptStatus] = {
    "TEXT_QUEUED": "sent",
    "TEXT_PENDING": "sent",
    "TEXT_SENT": "sent",
    "TEXT_DELIVERED": "delivered",
    "TEXT_INVALID": "failed",
    "TEXT_INVALID_MESSAGE": "failed",
    "TEXT_BLOCKED": "failed",
    "TEXT_CARRIER_BLOCKED": "failed",
    "TEXT_SPAM": "failed",
    "TEXT_PROTECT_BLOCKED": "failed",
    "TEXT_UNREACHABLE": "undelivered",
    "TEXT_CARRIER_UNREACHABLE": "undelivered",
    "TEXT_TTL_EXPIRED": "undelivered",
    "TEXT_UNKNOWN": "undelivered",
}
#: The event types a configuration set's event destination should match (docs/deploy.md "SMS providers"):
#: those that can end a message, TEXT_SUCCESSFUL included. QUEUED/PENDING/SENT only say ``sent``, which the
#: sender has recorded already: each would be an SNS publish and a receipts invocation that change nothing.
FINAL_EVENT_TYPES: tuple[str, ...] = (
    *(t for t, s in _EVENTS.items() if s != "sent"),
    "TEXT_SUCCESSFUL",
)


def event_from_request(request: WebhookRequest) -> dict[str, Any]:
    """The End User Messaging event in a request body (raw, or an EventBridge envelope's ``detail``)."""
    data = json.loads(request.body or b"{}")
    if isinstance(data, dict) and isinstance(data.get("detail"), dict) and "eventType" not in data:
        data = data["detail"]
    if not isinstance(data, dict):
        raise ValueError("AWS SMS event is not a JSON object")
    return data


class AwsSmsConnector:
    name = "aws_sms"

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.client(SERVICE)

    def send(self, channel: Channel, message: Message, secret: dict[str, str]) -> SendResult:
        settings = channel.provider_settings
        params: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "OriginationIdentity": settings.get("origination_identity") or channel.sender,
            "MessageBody": message.text,
            "MessageType": channel.message_type.upper(),
            "TimeToLive": min(MAX_TTL_S, max(MIN_TTL_S, remaining_validity_s(channel, message))),
            "Context": {CONTEXT_KEY: message.id},
        }
        if settings.get("configuration_set"):
            params["ConfigurationSetName"] = settings["configuration_set"]
        try:
            resp = self.client.send_text_message(**params)
        except ClientError as exc:
            raise _client_error(exc) from exc
        except BotoCoreError as exc:  # connection errors, timeouts (after botocore's own retries)
            raise TransientError("aws_sms_unreachable", str(exc)) from exc
        return SendResult(provider_id=resp["MessageId"])

    def verify(self, request: WebhookRequest, secret: dict[str, str]) -> None:
        raise SignatureError("AWS End User Messaging SMS events arrive through SNS -> SQS, never as webhooks")

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        event = event_from_request(request)
        event_type = str(event.get("eventType") or "")
        status = _EVENTS.get(event_type)
        if event_type == "TEXT_SUCCESSFUL":
            status = "delivered" if event.get("isFinal", True) else "sent"
        if status is None:
            return []  # voice/media/registration events, or a text event we do not track
        message_id = event.get("messageId")
        if not message_id:
            raise ValueError("AWS SMS event without messageId")
        failed = status in ("failed", "undelivered")
        parts = event.get("totalMessageParts")
        return [
            Receipt(
                provider="aws_sms",
                provider_id=str(message_id),
                status=status,
                at=from_epoch_ms(event.get("eventTimestamp")) or received_at(request),
                parts=int(parts) if isinstance(parts, int) and parts > 0 else None,
                error_code=f"aws_sms_{event.get('messageStatus') or event_type}" if failed else None,
                error_message=event.get("messageStatusDescription") if failed else None,
                raw_id=receipt_id("aws_sms", message_id, event_type, event.get("eventTimestamp")),
                message_id=_context_message_id(event),
            )
        ]

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """Two-way SMS published by End User Messaging to the inbound SNS topic::

            {"originationNumber": "+3161...", "destinationNumber": "+3197...", "messageKeyword": "KEYWORD_...",
             "messageBody": "Hi", "inboundMessageId": "cae173d2-...", "previousPublishedMessageId": "wJ..."}

        The event carries no timestamp: it is dated when smsdesk reads it from the inbound queue.
        """
        event = event_from_request(request)
        message_id = event.get("inboundMessageId")
        sender, to = event.get("originationNumber"), event.get("destinationNumber")
        if not message_id or not sender or not to:
            raise ValueError("AWS SMS inbound event without inboundMessageId, originationNumber or destinationNumber")
        return InboundSms(
            provider="aws_sms",
            provider_id=str(message_id),
            **{"from": str(sender)},
            to=str(to),
            text=str(event.get("messageBody") or ""),
            received_at=received_at(request),
        )


def _context_message_id(event: dict[str, Any]) -> str | None:
    """smsdesk's message id, handed back in the event's ``context`` (set by :meth:`AwsSmsConnector.send`)."""
    context = event.get("context")
    value = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    return str(value) if value else None


def _client_error(exc: ClientError) -> TransientError | PermanentError:
    err = exc.response.get("Error", {})
    code = str(err.get("Code") or "Unknown")
    reason = exc.response.get("Reason") or err.get("Reason")
    message = str(err.get("Message") or code)
    full = f"aws_sms_{code}" + (f"_{reason}" if reason else "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in TRANSIENT_ERRORS or (code not in PERMANENT_ERRORS and status >= 500):
        return TransientError(full, message)
    return PermanentError(full, message)


def connector() -> AwsSmsConnector:
    return AwsSmsConnector()
