"""Consumer of the inbound queue: parse the raw provider event, find its channel, route it, act.

Per record (an :class:`~smsdesk.envelopes.InboundEnvelope`, stored by the webhook or by SNS):

1. parse it with the provider's connector (a record that does not parse raises: retried, then
   dead-lettered, never silently dropped);
2. find the channel: the one in the webhook URL, or for ``aws_sms`` (SNS, no URL) the channel whose
   sender is the destination number;
3. decide with :func:`smsdesk.inbound.routing.route` and act:

   * ``rejected`` — nothing stored; log, metric ``InboundRejected`` and event ``message.inbound_rejected``;
   * anything else on a two-way channel — filed in its conversation by
     :func:`smsdesk.inbox.conversations.record_inbound` (idempotent on the provider's message id: a
     redelivered webhook or SQS record yields one message);
   * keywords — opt-out / opt-in on the channel's list (consent recorded, ``source="keyword"``), then the
     confirmation or help text through :func:`smsdesk.sending.messages.send_system`;
   * ``out_of_hours`` — the out-of-hours message if :func:`smsdesk.inbox.conversations.set_ooh_replied`
     claims today's reply for the conversation (a conditional write: two inbounds at once, one reply).

Exactly once, even across retries:

* Auto-replies get an id derived from the inbound SMS (``messages.system_message_id``), written with
  ``attribute_not_exists``: whatever is redelivered, a reply is charged and sent at most once.
* Keyword messages run under a Powertools idempotency record keyed by (provider, provider id), kept
  for 7 days: a STOP delivered again later (providers retry, out of order) cannot undo a START that
  came after it, and the consent history gets one entry per STOP. If the invocation fails half-way,
  the record is released and the retry does it all again (each step is safe to repeat).
* Ordinary messages need no such record (one write fewer per message): a duplicate is detected by
  ``record_inbound`` and changes nothing. Out of hours, a duplicate still finishes the reply: the
  day's claim names the inbound message that made it (so its retry may claim again), the reply's id
  derives from the inbound, and an auto-reply recorded but never queued is queued on the retry, so
  an invocation that died half-way is completed by the retry, and a plain redelivery sends nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from smsdesk import aws, channels, config, contacts, events, lists, manifest
from smsdesk.connectors._util import RECEIVED_AT_HEADER
from smsdesk.connectors.base import WebhookRequest
from smsdesk.connectors.registry import get_connector, is_known
from smsdesk.envelopes import InboundEnvelope
from smsdesk.errors import NotFound
from smsdesk.inbound import hours
from smsdesk.inbound.routing import Route, route
from smsdesk.inbox import conversations
from smsdesk.models import Channel, InboundSms, iso
from smsdesk.observability import logger, metrics
from smsdesk.runtime import SQSRecord
from smsdesk.sending import messages

#: How long a keyword message's idempotency record is kept (late provider retries are ignored).
KEYWORD_IDEMPOTENCY_S = 7 * 86_400

_METRIC = {
    "rejected": "InboundRejected",
    "opt_out": "InboundOptOut",
    "opt_in": "InboundOptIn",
    "help": "InboundHelp",
    "out_of_hours": "InboundOutOfHours",
    "inbox": "InboundAdmitted",
}


def request_from_envelope(env: InboundEnvelope) -> WebhookRequest:
    """The webhook request as received (for SNS events: the event as a JSON body)."""
    raw = env.raw
    if env.provider == "aws_sms" and "body" not in raw and "body_b64" not in raw:
        body = json.dumps(raw).encode()
        headers: dict[str, str] = {"content-type": "application/json"}
        url, method = f"sns://{manifest.AWS_SMS_INBOUND_TOPIC.name}", "POST"
    else:
        body = base64.b64decode(raw["body_b64"]) if "body_b64" in raw else str(raw.get("body", "")).encode()
        headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
        url, method = str(raw.get("url", "")), str(raw.get("method", "POST"))
    headers[RECEIVED_AT_HEADER] = iso(env.received_at)
    return WebhookRequest(url=url, method=method, headers=headers, body=body)


def parse(env: InboundEnvelope) -> InboundSms:
    return get_connector(env.provider).parse_inbound(request_from_envelope(env))


def channel_for(env: InboundEnvelope, sms: InboundSms) -> Channel | None:
    """The webhook's channel, or (SNS) the channel whose sender is the number the customer texted."""
    if env.channel_id:
        try:
            return channels.get_channel(env.channel_id)
        except NotFound:
            return None
    to = contacts.normalise_inbound(sms.to, config.default_country())
    return channels.find_by_sender(env.provider, to)


def handle_inbound(env: InboundEnvelope, record: SQSRecord) -> None:
    if not is_known(env.provider):
        # Retrying cannot teach us a provider we do not have; make it loud instead of a DLQ loop.
        logger.error("inbound SMS from an unknown provider dropped", extra={"provider": env.provider})
        metrics.add_metric(name="InboundUnknownProvider", unit=MetricUnit.Count, value=1)
        return
    sms = parse(env)
    channel = channel_for(env, sms)
    if channel is None:
        logger.error(
            "inbound SMS for no channel dropped",
            extra={
                "provider": env.provider,
                "channel_id": env.channel_id,
                "to": sms.to,
                "provider_id": sms.provider_id,
            },
        )
        metrics.add_metric(name="InboundUnknownChannel", unit=MetricUnit.Count, value=1)
        return
    process(channel, sms)


def process(channel: Channel, sms: InboundSms) -> str:
    """Route one parsed inbound SMS of ``channel`` and act on it; returns the outcome (for logs/tests)."""
    number = contacts.normalise_inbound(sms.from_, channel.default_region or config.default_country())
    decision = route(
        channel, sms.text, at=sms.received_at, blocked=lambda: lists.is_blocked(channel.id, number, "inbound")
    )
    if decision.outcome == "rejected":
        _reject(channel, sms, number, decision)
        return "rejected"
    if decision.is_keyword:
        once = _once(lambda: _keyword(channel, sms, number, decision))
        return str(once(inbound={"provider": sms.provider, "provider_id": sms.provider_id})["outcome"])
    result = conversations.record_inbound(channel, sms)
    if decision.outcome == "out_of_hours" and result.conversation.bot_run_id is None:  # not while a bot talks
        # Also for a duplicate: an attempt that filed the message may have died before its reply; the
        # claim and the reply's derived id make finishing it safe (and a no-op if it was sent).
        _out_of_hours(channel, sms, number, decision, result.conversation.id, result.message.id)
    if result.duplicate:
        _log(channel, sms, "duplicate", decision, conversation_id=result.conversation.id)
        metrics.add_metric(name="InboundDuplicate", unit=MetricUnit.Count, value=1)
        return "duplicate"
    _log(channel, sms, decision.outcome, decision, conversation_id=result.conversation.id)
    return decision.outcome


# -- keywords, once -------------------------------------------------------------------------------------


def _once(act: Callable[[], str]) -> Any:
    """``act`` wrapped in a Powertools idempotency record keyed by the ``inbound`` argument
    (provider, provider id): it runs once per inbound SMS, whatever is redelivered."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    persistence, cfg = _idempotency(config.idempotency_table_name(), id(aws.dynamodb()))

    @idempotent_function(data_keyword_argument="inbound", persistence_store=persistence, config=cfg)
    def keyword_once(inbound: dict[str, Any]) -> dict[str, Any]:
        return {"outcome": act()}

    return keyword_once


class _Deadline:
    """Stands in for the Lambda context: an in-progress record left by a crashed invocation expires
    with the function's timeout, so the SQS retry can run."""

    def get_remaining_time_in_millis(self) -> int:
        return manifest.INBOUND.timeout_s * 1000


@cache
def _idempotency(table_name: str, _client_id: int) -> tuple[Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws.dynamodb())
    cfg = IdempotencyConfig(expires_after_seconds=KEYWORD_IDEMPOTENCY_S, raise_on_no_idempotency_key=True)
    cfg.register_lambda_context(_Deadline())  # type: ignore[arg-type]
    return persistence, cfg


def _keyword(channel: Channel, sms: InboundSms, number: str, decision: Route) -> str:
    """Opt-out / opt-in / help: file the message (two-way), change consent, reply. Safe to repeat."""
    conversation_id = None
    if decision.record:
        conversation_id = conversations.record_inbound(channel, sms).conversation.id
    reason = f"keyword {decision.detail}"
    if decision.outcome == "opt_out":
        lists.opt_out(channel.id, number, reason=reason, source="keyword", by=None)
    elif decision.outcome == "opt_in":
        lists.opt_in(channel.id, number, reason=reason, source="keyword", by=None)
    if decision.reply:
        _auto_reply(
            channel,
            number,
            decision.reply,
            conversation_id,
            reason=f"{decision.outcome}_{'confirmation' if decision.outcome != 'help' else 'reply'}",
            allow_opted_out=decision.outcome == "opt_out",
            message_id=reply_id(sms, decision.outcome),
        )
    _log(channel, sms, decision.outcome, decision, conversation_id=conversation_id)
    return decision.outcome


def reply_id(sms: InboundSms, kind: str) -> str:
    """The id of the auto-reply ``kind`` caused by ``sms`` (the same for every delivery of it)."""
    return messages.system_message_id(sms.provider, sms.provider_id, kind)


# -- out of hours ---------------------------------------------------------------------------------------


def _out_of_hours(
    channel: Channel, sms: InboundSms, number: str, decision: Route, conversation_id: str, message_id: str
) -> None:
    if not decision.reply:
        return  # closed, but no out-of-hours message configured: the message just waits in the inbox
    day = hours.local_day(channel.business_hours, sms.received_at)
    if not conversations.set_ooh_replied(conversation_id, day, message_id):
        logger.info(
            "out-of-hours reply already sent today", extra={"conversation_id": conversation_id, "day": str(day)}
        )
        return
    _auto_reply(
        channel,
        number,
        decision.reply,
        conversation_id,
        reason="out_of_hours",
        message_id=reply_id(sms, "out_of_hours"),
    )


def _auto_reply(
    channel: Channel,
    number: str,
    text: str,
    conversation_id: str | None,
    *,
    reason: str,
    message_id: str,
    allow_opted_out: bool = False,
) -> None:
    """Send through ``messages.send_system`` and show it as the conversation's latest activity."""
    msg = messages.send_system(
        channel,
        number,
        text,
        conversation_id=conversation_id,
        reason=reason,
        allow_opted_out=allow_opted_out,
        message_id=message_id,
    )
    if msg is None or conversation_id is None:
        return
    try:
        conversations.record_outbound(conversation_id, msg)
    except Exception:  # display only (last activity, preview): never worth failing the inbound
        logger.exception("could not record the auto-reply on its conversation", extra={"message_id": msg.id})


# -- rejections and logs --------------------------------------------------------------------------------


def rejected_event(channel: Channel, sms: InboundSms, number: str, reason: str) -> dict[str, Any]:
    """The ``detail`` of ``message.inbound_rejected`` (docs/events.md)."""
    return {
        "channel_id": channel.id,
        "provider": sms.provider,
        "provider_id": sms.provider_id,
        "from": number,
        "to": sms.to,
        "text": sms.text,
        "reason": reason,
        "received_at": iso(sms.received_at),
    }


def _reject(channel: Channel, sms: InboundSms, number: str, decision: Route) -> None:
    _log(channel, sms, "rejected", decision)
    try:
        events.publish("message.inbound_rejected", rejected_event(channel, sms, number, decision.detail or ""))
    except Exception:  # nothing was stored; a bus outage must not turn a rejection into a retry loop
        logger.exception("could not publish message.inbound_rejected", extra={"provider_id": sms.provider_id})


def _log(
    channel: Channel, sms: InboundSms, outcome: str, decision: Route, *, conversation_id: str | None = None
) -> None:
    logger.info(
        "inbound SMS routed",
        extra={
            "outcome": outcome,
            "detail": decision.detail,
            "channel_id": channel.id,
            "provider": sms.provider,
            "provider_id": sms.provider_id,
            "conversation_id": conversation_id,
        },
    )
    if outcome in _METRIC:
        metrics.add_metric(name=_METRIC[outcome], unit=MetricUnit.Count, value=1)
