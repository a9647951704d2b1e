"""The messages that travel on smsdesk's queues: one pydantic model per queue, validated on both ends.

A record that does not parse is reported as a batch item failure, retried, and dead-lettered after
the queue's ``max_receive_count`` (see ``smsdesk.manifest``): it is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1


class InboundEnvelope(_Envelope):
    """A provider's inbound-SMS event, stored raw by the webhook (or SNS) before any routing."""

    provider: str
    channel_id: str | None = None
    received_at: dt.datetime
    raw: dict[str, Any]


class ReceiptEnvelope(_Envelope):
    """A provider's delivery receipt, stored raw by the webhook (or SNS)."""

    provider: str
    received_at: dt.datetime
    raw: dict[str, Any]


class OutboundJob(_Envelope):
    """Send the already-recorded (and already-charged) message ``message_id``."""

    message_id: str
    attempt: int = 0


class FanoutJob(_Envelope):
    """Expand the next page of a campaign's recipients into outbound jobs."""

    campaign_id: str
    cursor: str | None = None


class TimerFired(_Envelope):
    """A timer came due (EventBridge Scheduler one-time schedule or SQS delay). The consumer re-checks
    the target's state before acting, so a timer that raced a cancel does nothing."""

    timer_id: str
    kind: str
    target_id: str
    due_at: dt.datetime
    data: dict[str, Any] = Field(default_factory=dict)
