"""Consumer of the outbound queue: hands each recorded (already charged) message to its provider.

Per job (``OutboundJob(message_id, attempt, slot_at)``):

1. Skip a message that is gone, ``sent`` or final (SQS delivers at least once).
2. Fail (and so refund, via ``messages.fail``) a message whose channel is gone (``channel_not_found``)
   or disabled (``channel_disabled``: an admin who switches a channel off wants it to stop sending,
   and holding credits for hours helps nobody), or that waited longer than the channel's
   ``validity_s`` (``expired``).
3. Take a send slot from the channel's shared rate limit (``smsdesk.ratelimit``): sleep if it is at most
   ``SENDER_SLEEP_HORIZON_S`` away, else put the job back with ``DelaySeconds`` and the slot in
   ``slot_at`` so it comes back just in time and sends without asking again.
4. Send once per (message, attempt) — a Powertools idempotency record claims the attempt, so a
   duplicate SQS delivery of the same job cannot send the SMS twice — then ``mark_sent``.
   ``TransientError``: back on the queue as ``attempt + 1`` after ``SENDER_BACKOFF_BASE_S × 2^attempt``
   seconds (default 2, 4, 8, …, at least the provider's Retry-After, at most 900), and failed with
   ``retries_exhausted`` after ``SENDER_MAX_ATTEMPTS`` (default 6). ``PermanentError``: failed with the
   provider's code.

Poison: a record that keeps raising is dead-lettered by SQS after the queue's ``max_receive_count``; on
that last receive the message is failed (``dead_lettered``) first, so its credits come back (``fail``
refunds exactly once, whoever calls it first). A record that does not even parse never reaches this
module and is dead-lettered by SQS without a refund (there is no message id to refund).

Duplicate-send window we accept: the provider accepted the SMS but the invocation died before
``mark_sent`` was written (or a provider call timed out after the provider got it). The attempt's
claim then expires with the function's timeout and the retry sends again. No provider here offers an
idempotency key, so the alternative would be losing the message; a duplicate is the lesser harm.
"""

from __future__ import annotations

import math
import os
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from smsdesk import aws, channels, config, manifest, messages, ratelimit
from smsdesk.connectors.base import PermanentError, TransientError
from smsdesk.connectors.registry import get_connector
from smsdesk.envelopes import OutboundJob
from smsdesk.errors import NotFound
from smsdesk.models import FINAL_STATUSES, Channel, Message, utcnow
from smsdesk.observability import logger, metrics

MAX_DELAY_S = 900  # SQS DelaySeconds maximum
#: Extra sleep allowed for a job that comes back for its reserved slot (SQS delays are whole seconds).
RETURN_SLACK_S = 1.0


def max_attempts() -> int:
    return int(os.environ.get("SENDER_MAX_ATTEMPTS", "6"))


def backoff_s(attempt: int, retry_after_s: float | None = None) -> int:
    """Delay before attempt ``attempt + 1`` after attempt ``attempt`` (0-based) failed transiently."""
    base = float(os.environ.get("SENDER_BACKOFF_BASE_S", "2"))
    delay = base * 2**attempt
    if retry_after_s:
        delay = max(delay, retry_after_s)
    return min(MAX_DELAY_S, math.ceil(delay))


def handle_outbound(job: OutboundJob, record: SQSRecord) -> None:
    try:
        process(job)
    except Exception as exc:
        if _last_receive(record) and not _in_progress_elsewhere(exc):
            logger.exception("outbound job dead-lettered", extra={"message_id": job.message_id})
            metrics.add_metric(name="SenderDeadLettered", unit=MetricUnit.Count, value=1)
            messages.fail(job.message_id, code="dead_lettered", message=f"could not be sent: {type(exc).__name__}")
        raise


def process(job: OutboundJob) -> str:
    """Run one job; returns what happened (for logs and tests)."""
    msg = messages.get(job.message_id)
    if msg is None or msg.status == "sent" or msg.status in FINAL_STATUSES:
        logger.info("outbound job skipped", extra={"message_id": job.message_id, "status": msg and msg.status})
        return "skipped"
    try:
        channel = channels.get_channel(msg.channel_id)
    except NotFound:
        return _fail(msg, "channel_not_found", f"channel {msg.channel_id} no longer exists")
    if not channel.enabled:
        return _fail(msg, "channel_disabled", f"channel {channel.id} was disabled before the message was sent")
    if _expired(msg, channel):
        return _fail(msg, "expired", f"not sent within the channel's validity period ({channel.validity_s} s)")

    slot = _slot(job, channel)
    wait = slot - time.time()
    allowed = ratelimit.sleep_horizon_s() + (RETURN_SLACK_S if job.slot_at is not None else 0.0)
    if wait > allowed:
        delay = max(1, min(MAX_DELAY_S, math.floor(wait - ratelimit.sleep_horizon_s())))
        _enqueue(job.model_copy(update={"slot_at": slot}), delay)
        metrics.add_metric(name="SenderRateDelayed", unit=MetricUnit.Count, value=1)
        return "rate_delayed"
    if wait > 0:
        time.sleep(wait)
    return _send_attempt(channel, job)


def _slot(job: OutboundJob, channel: Channel) -> float:
    """The job's reserved slot if it is still usable, else a new one."""
    interval = 1.0 / channel.throughput_mps
    if job.slot_at is not None and time.time() <= job.slot_at + interval:
        return job.slot_at
    return ratelimit.reserve(channel.id, channel.throughput_mps)


def _expired(msg: Message, channel: Channel) -> bool:
    return (utcnow() - msg.created_at).total_seconds() > channel.validity_s


def _fail(msg: Message, code: str, text: str) -> str:
    logger.info("message failed", extra={"message_id": msg.id, "code": code})
    metrics.add_metric(name="SenderFailed", unit=MetricUnit.Count, value=1)
    messages.fail(msg.id, code=code, message=text)
    return "failed"


def _enqueue(job: OutboundJob, delay_s: int) -> None:
    aws.sqs().send_message(
        QueueUrl=config.queue_url(manifest.OUTBOUND_QUEUE),
        MessageBody=job.model_dump_json(exclude_none=True),
        DelaySeconds=max(0, min(MAX_DELAY_S, int(delay_s))),
    )


# -- one attempt, at most once -------------------------------------------------------------------------


def _send_attempt(channel: Channel, job: OutboundJob) -> str:
    claim = _claimed(channel)
    result: dict[str, Any] = claim(attempt={"message_id": job.message_id, "attempt": job.attempt})
    return str(result["outcome"])


def _claimed(channel: Channel) -> Any:
    """``_attempt`` wrapped in a Powertools idempotency record keyed by (message id, attempt)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    persistence, cfg = _idempotency(config.idempotency_table_name(), id(aws.dynamodb()))

    @idempotent_function(data_keyword_argument="attempt", persistence_store=persistence, config=cfg)
    def claimed(attempt: dict[str, Any]) -> dict[str, Any]:
        return _attempt(channel, attempt["message_id"], int(attempt["attempt"]))

    return claimed


class _Deadline:
    """Stands in for the Lambda context: bounds an attempt's in-progress claim by the function timeout,
    so a claim left by a crashed invocation expires and the retry can send."""

    def get_remaining_time_in_millis(self) -> int:
        return manifest.SENDER.timeout_s * 1000


@cache
def _idempotency(table_name: str, _client_id: int) -> tuple[Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws.dynamodb())
    cfg = IdempotencyConfig(expires_after_seconds=24 * 3600, raise_on_no_idempotency_key=True)
    cfg.register_lambda_context(_Deadline())  # type: ignore[arg-type]
    return persistence, cfg


def _attempt(channel: Channel, message_id: str, attempt: int) -> dict[str, Any]:
    msg = messages.mark_sending(message_id)
    if msg is None:
        return {"outcome": "skipped"}
    connector = get_connector(channel.provider)
    secret = channels.get_provider_secret(channel)
    try:
        result = connector.send(channel, msg, secret)
    except TransientError as exc:
        return _retry(msg, attempt, exc)
    except PermanentError as exc:
        logger.info("provider rejected message", extra={"message_id": msg.id, "code": exc.code})
        return {"outcome": _fail(msg, exc.code, exc.message)}
    _mark_sent(msg.id, result.provider_id, result.parts)
    metrics.add_metric(name="SenderSent", unit=MetricUnit.Count, value=1)
    logger.info("message sent", extra={"message_id": msg.id, "provider_id": result.provider_id})
    return {"outcome": "sent", "provider_id": result.provider_id}


def _mark_sent(message_id: str, provider_id: str, parts: int | None) -> None:
    """The provider has the SMS now: try hard to record that, since failing here means a re-send."""
    for i in range(3):
        try:
            messages.mark_sent(message_id, provider_id=provider_id, parts=parts)
            return
        except Exception:
            if i == 2:
                raise
            logger.warning("mark_sent failed; retrying", extra={"message_id": message_id}, exc_info=True)
            time.sleep(0.1 * (i + 1))


def _retry(msg: Message, attempt: int, exc: TransientError) -> dict[str, Any]:
    if attempt + 1 >= max_attempts():
        return {"outcome": _fail(msg, "retries_exhausted", f"{exc.code}: {exc.message}")}
    delay = backoff_s(attempt, exc.retry_after_s)
    logger.info(
        "transient provider error; retrying",
        extra={"message_id": msg.id, "attempt": attempt, "code": exc.code, "delay_s": delay},
    )
    metrics.add_metric(name="SenderRetried", unit=MetricUnit.Count, value=1)
    _enqueue(OutboundJob(message_id=msg.id, attempt=attempt + 1), delay)
    return {"outcome": "retry", "delay_s": delay}


# -- poison handling ------------------------------------------------------------------------------------


def _last_receive(record: SQSRecord) -> bool:
    try:
        count = int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return False
    return count >= manifest.OUTBOUND_QUEUE.max_receive_count


def _in_progress_elsewhere(exc: Exception) -> bool:
    """Another invocation is sending this very attempt right now: its outcome will decide."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    return isinstance(exc, IdempotencyAlreadyInProgressError)
