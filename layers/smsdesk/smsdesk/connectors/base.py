"""The connector interface every SMS provider implements.

A connector is stateless and cheap to build; it receives the channel (non-secret settings) and the
channel's secret (from Secrets Manager) per call. Errors are typed so the sender knows what to do:
``TransientError`` → retry with backoff; ``PermanentError`` → the message failed, refund it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from smsdesk.models import Channel, InboundSms, Message, Receipt


class ProviderError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TransientError(ProviderError):
    """Try again later (throttled, 5xx, timeout)."""

    def __init__(self, code: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after_s = retry_after_s


class PermanentError(ProviderError):
    """The provider will never accept this message (invalid number, blocked, bad credentials...)."""


class SignatureError(Exception):
    """A webhook request whose signature is missing or wrong: answer 403, keep nothing."""


@dataclass(frozen=True)
class WebhookRequest:
    """What a connector needs of an incoming webhook call to verify and parse it."""

    url: str  # the public URL the provider called (scheme://host/path?query), as the provider signed it
    method: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    form: dict[str, str] = field(default_factory=dict)  # parsed application/x-www-form-urlencoded body


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    parts: int | None = None


class Connector(Protocol):
    name: str

    def send(self, channel: Channel, message: Message, secret: dict[str, str]) -> SendResult:
        """Hand the message to the provider. Raises TransientError or PermanentError."""
        ...

    def verify(self, request: WebhookRequest, secret: dict[str, str]) -> None:
        """Raise SignatureError unless the request is authentic."""
        ...

    def parse_receipts(self, request: WebhookRequest) -> list[Receipt]:
        """Delivery receipts in a (verified) webhook request."""
        ...

    def parse_inbound(self, request: WebhookRequest) -> InboundSms:
        """The inbound SMS in a (verified) webhook request (issue 5)."""
        ...
