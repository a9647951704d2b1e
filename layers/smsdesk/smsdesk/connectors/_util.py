"""Small helpers shared by the connectors (not part of the connector interface)."""

from __future__ import annotations

import datetime as dt
import hashlib

from smsdesk.connectors.base import WebhookRequest
from smsdesk.models import Channel, Message, utcnow

#: Set by the receipts consumer on the request it rebuilds from the queue: when the webhook got it.
#: Providers whose callbacks carry no timestamp (Twilio) date their receipts with it.
RECEIVED_AT_HEADER = "x-smsdesk-received-at"


def received_at(request: WebhookRequest) -> dt.datetime:
    raw = request.headers.get(RECEIVED_AT_HEADER)
    if raw:
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    return utcnow()


def remaining_validity_s(channel: Channel, message: Message, *, now: dt.datetime | None = None) -> int:
    """Seconds the message may still wait at the provider before it is worthless (>= 1)."""
    age = ((now or utcnow()) - message.created_at).total_seconds()
    return max(1, int(channel.validity_s - age))


def receipt_id(*parts: object) -> str:
    """A stable identity for a receipt whose provider gives none (duplicates hash the same)."""
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def from_epoch_ms(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
