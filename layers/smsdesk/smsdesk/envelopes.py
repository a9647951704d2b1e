"""The messages that travel on smsdesk's queues: one pydantic model per queue, validated on both ends.

A record that does not parse is reported as a batch item failure, retried, and dead-lettered after
the queue's ``max_receive_count`` (see ``smsdesk.manifest``): it is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1


class InboundEnvelope(_Envelope):
    """A provider's inbound-SMS event, stored raw by the webhook (or SNS) before any routing.

    Webhook providers: ``raw = {"url", "method", "headers", "body" | "body_b64"}`` as for receipts, with
    ``channel_id`` from the webhook URL. AWS End User Messaging SMS publishes two-way SMS to the
    ``aws-sms-inbound`` SNS topic, which delivers them to the inbound queue as they are: such a body
    (``inboundMessageId``, ``originationNumber``, ``destinationNumber``, ``messageBody``) is wrapped
    here as provider ``aws_sms`` with the event as ``raw`` and no channel (found by the destination
    number).
    """

    provider: str
    channel_id: str | None = None
    received_at: dt.datetime
    raw: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _wrap_aws_sms_inbound(cls, data: Any) -> Any:
        if isinstance(data, dict) and "provider" not in data and "inboundMessageId" in data:
            return {"provider": "aws_sms", "received_at": dt.datetime.now(dt.UTC), "raw": data}
        return data


class ReceiptEnvelope(_Envelope):
    """A provider's delivery receipt, stored raw by the webhook (or SNS).

    Webhook providers: ``raw = {"url", "method", "headers", "body" | "body_b64"}``, the request as the
    provider signed it (see ``smsdesk.webhooks``). AWS End User Messaging SMS publishes its events to SNS,
    which delivers them to the receipts queue as they are, without this envelope: such a body (an SMS
    event with ``eventType``/``messageId``, or an EventBridge event from ``aws.sms-voice``) is wrapped
    here as provider ``aws_sms`` with the event as ``raw``.
    """

    provider: str
    received_at: dt.datetime
    raw: dict[str, Any]
    channel_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _wrap_aws_sms_event(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "provider" in data:
            return data
        event = data
        if data.get("source") == "aws.sms-voice" and isinstance(data.get("detail"), dict):
            event = data["detail"]
        if "eventType" in event and "messageId" in event:
            return {"provider": "aws_sms", "received_at": dt.datetime.now(dt.UTC), "raw": event}
        return data


class OutboundJob(_Envelope):
    """Send the already-recorded (and already-charged) message ``message_id``."""

    message_id: str
    attempt: int = 0
    #: What the sender needs before it claims the message, so it does not read it first (jobs queued
    #: before these existed lack them: the sender then reads the message).
    channel_id: str | None = None
    created_at: dt.datetime | None = None
    #: A send slot the sender already reserved for this attempt (epoch seconds; see smsdesk.sending.ratelimit).
    slot_at: float | None = None
    #: A campaign's message: it takes a send slot only when the channel is free, so replies and single
    #: sends (which book the next slot in line) go first (smsdesk.sending.sender).
    bulk: bool | None = None


class FanoutJob(_Envelope):
    """Expand the next page of a campaign's recipients into outbound jobs."""

    campaign_id: str
    cursor: str | None = None
    #: campaigns (issue 14): ``run`` (a schedule fired: reserve and start a run), ``expand`` (write the
    #: run's recipient rows), ``send`` (one paced wave of the run's recipients; ``seq`` keeps one chain),
    #: ``purge`` (a deleted campaign's items, a page at a time; ``seq`` keeps one chain)
    phase: Literal["run", "expand", "send", "purge"] = "send"
    run: int | None = None
    seq: int | None = None
    schedule_version: int | None = None
    #: The previous wave's messages: the next wave waits while most of them are still unsent.
    inflight: list[str] | None = None


class TimerFired(_Envelope):
    """A timer came due (EventBridge Scheduler one-time schedule or SQS delay). The consumer re-checks
    the target's state before acting, so a timer that raced a cancel does nothing."""

    timer_id: str
    kind: str
    target_id: str
    due_at: dt.datetime
    data: dict[str, Any] = Field(default_factory=dict)


class ImportEvent(BaseModel):
    """The imports queue: what S3 sends for an uploaded contacts file (``Records`` of
    ``s3:ObjectCreated:*``, or ``Event: s3:TestEvent`` once when the notification is set up), or an
    import's own continuation (``import_id``)."""

    model_config = ConfigDict(extra="allow")
    Records: list[dict[str, Any]] | None = None
    Event: str | None = None
    import_id: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ImportEvent:
        if self.Records is None and self.Event is None and not self.import_id:
            raise ValueError("neither an S3 event nor an import continuation")
        return self


class CampaignOutcomeJob(_Envelope):
    """The ``campaign-results`` queue: a campaign message entered its final status (the outbox relay
    derives it from the message row's stream record, ``outbox_relay.campaign_outcome``); the ``fanout``
    function adds it to the campaign's counts (``campaigns/results.py``), once per message."""

    campaign_id: str
    message_id: str
    status: Literal["delivered", "undelivered", "failed"]
    #: The message had a provider id: the provider accepted it (it counts as ``sent``, whatever its outcome).
    with_provider_id: bool = False
