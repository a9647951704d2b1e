"""Consumer of the outbound queue: hands each recorded (already charged) message to its provider.

Per job (``OutboundJob(message_id, attempt, slot_at)``):

1. The job carries the message's channel and creation time, so nothing is read before the claim; the
   channel is cached per container for a few seconds (``channels.get_channel_cached``).
2. Fail (and so refund, via ``messages.fail``) a message whose channel is gone (``channel_not_found``)
   or disabled (``channel_disabled``: an admin who switches a channel off wants it to stop sending,
   and holding credits for hours helps nobody), or that waited longer than the channel's
   ``validity_s`` (``expired``).
3. Take a send slot from the channel's shared rate limit (``smsdesk.sending.ratelimit``; the slots of a
   whole SQS batch are reserved up front with one update per channel, :func:`reserve_batch`): sleep if it is at most
   ``SENDER_SLEEP_HORIZON_S`` away, else put the job back with ``DelaySeconds`` and the slot in
   ``slot_at`` so it comes back just in time and sends without asking again.
4. Claim the attempt on the message row itself (``messages.claim``: one conditional write, ``queued``
   → ``sending`` with ``send_attempt`` and a lease of the function's timeout), so a duplicate SQS
   delivery of the same job cannot send the SMS twice; send; then ``mark_sent`` (one conditional
   write). A claim whose invocation died expires with its lease and the job's redelivery sends.
   ``TransientError``: the claim is released with the job of ``attempt + 1`` in the same write (queued by
   the outbox, ``smsdesk.outbox``) after ``SENDER_BACKOFF_BASE_S × 2^attempt``
   seconds (default 2, 4, 8, …, at least the provider's Retry-After, at most 900), and failed with
   ``retries_exhausted`` after ``SENDER_MAX_ATTEMPTS`` (default 6). ``PermanentError``: failed with the
   provider's code.

Poison: a record that keeps raising is dead-lettered by SQS after the queue's ``max_receive_count``; on
that last receive the message is failed (``dead_lettered``) first, so its credits come back (``fail``
refunds exactly once, whoever calls it first). A record that does not even parse never reaches this
module and is dead-lettered by SQS without a refund (there is no message id to refund).

Duplicate-send window we accept: the provider accepted the SMS but the invocation died before
``mark_sent`` was written (or a provider call timed out after the provider got it). The attempt's
claim then expires with the function's timeout and the retry sends again (unless a receipt, which names
the message, recorded the send first). No provider here offers an
idempotency key, so the alternative would be losing the message; a duplicate is the lesser harm.
"""

from __future__ import annotations

import math
import os
import threading
import time

from aws_lambda_powertools.metrics import MetricUnit

from smsdesk import aws, channels, config, manifest
from smsdesk.connectors.base import PermanentError, TransientError
from smsdesk.connectors.registry import get_connector
from smsdesk.envelopes import OutboundJob
from smsdesk.errors import NotFound
from smsdesk.models import FINAL_STATUSES, Channel, Message, utcnow
from smsdesk.observability import logger, metrics
from smsdesk.runtime import SQSRecord
from smsdesk.sending import messages, ratelimit

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
    channel_id, created_at = job.channel_id, job.created_at
    if channel_id is None or created_at is None:  # a job queued before jobs carried these
        msg = messages.get(job.message_id)
        if msg is None or msg.status == "sent" or msg.status in FINAL_STATUSES:
            logger.info("outbound job skipped", extra={"message_id": job.message_id, "status": msg and msg.status})
            return "skipped"
        channel_id, created_at = msg.channel_id, msg.created_at
    try:
        channel = channels.get_channel_cached(channel_id)
    except NotFound:
        return _fail(job.message_id, "channel_not_found", f"channel {channel_id} no longer exists")
    if not channel.enabled:
        return _fail(
            job.message_id, "channel_disabled", f"channel {channel.id} was disabled before the message was sent"
        )
    if (utcnow() - created_at).total_seconds() > channel.validity_s:
        return _fail(
            job.message_id, "expired", f"not sent within the channel's validity period ({channel.validity_s} s)"
        )

    if job.bulk and not _usable(job.slot_at, channel):
        # A campaign's message: a slot only when the channel is free (never one booked ahead of replies),
        # also when a slot it had has passed; otherwise back on the queue until the channel frees up (see
        # campaigns/fanout.py: pacing).
        bulk_slot, busy_until = ratelimit.reserve_bulk(channel.id, channel.throughput_mps)
        if bulk_slot is None:
            _enqueue(job, max(1, math.ceil(busy_until - time.time())))
            metrics.add_metric(name="SenderBulkDeferred", unit=MetricUnit.Count, value=1)
            return "bulk_deferred"
        # used as reserved, not checked against the clock again (``_slot``): a slot of a fast channel (1 ms
        # at 1000/s) has passed by the time the update returns, and a second one would be reserved (the
        # first left idle): two rate-limit updates per campaign message instead of one
        slot = bulk_slot
        job = job.model_copy(update={"slot_at": bulk_slot})
    else:
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
    """The job's reserved slot if it is still usable, else the one its batch reserved for it
    (:func:`reserve_batch`), else a new one."""
    if _usable(job.slot_at, channel):
        return job.slot_at  # type: ignore[return-value]
    batch_slot = _batch_slots().pop((job.message_id, job.attempt), None)
    if _usable(batch_slot, channel):
        return batch_slot  # type: ignore[return-value]
    return ratelimit.reserve(channel.id, channel.throughput_mps)


def _usable(slot: float | None, channel: Channel) -> bool:
    return slot is not None and time.time() <= slot + 1.0 / channel.throughput_mps


#: Slots reserved for the jobs of the batch being processed: (message id, attempt) -> slot start. Per
#: thread: one invocation at a time per Lambda environment, but the local stack runs several pollers
#: of one function in one process.
_local = threading.local()


def _batch_slots() -> dict[tuple[str, int], float]:
    if not hasattr(_local, "slots"):
        _local.slots = {}
    return _local.slots  # type: ignore[no-any-return]


def reserve_batch(jobs: list[OutboundJob]) -> None:
    """Reserve the send slots of a whole SQS batch up front: ONE rate-limit update per channel
    (``ratelimit.reserve_many``) instead of one per job. Jobs that will not need a slot (their own
    ``slot_at`` is still usable, or their channel is gone, disabled or the job expired) get none; a
    reserved slot a job then does not use (a duplicate job, a claim held elsewhere) stays unused, which
    only leaves the channel idle for one interval. Never raises: without a batch slot a job reserves its
    own, as before."""
    slots_of = _batch_slots()
    slots_of.clear()
    by_channel: dict[str, list[OutboundJob]] = {}
    channels_: dict[str, Channel] = {}
    for job in jobs:
        if job.channel_id is None or job.created_at is None:
            continue
        try:
            channel = channels_.get(job.channel_id) or channels.get_channel_cached(job.channel_id)
        except Exception:
            continue
        channels_[channel.id] = channel
        if (
            job.bulk  # a campaign's message takes a slot only when the channel is free (reserve_bulk)
            or not channel.enabled
            or _usable(job.slot_at, channel)
            or (utcnow() - job.created_at).total_seconds() > channel.validity_s
        ):
            continue
        by_channel.setdefault(channel.id, []).append(job)
    for channel_id, batch in by_channel.items():
        if len(batch) < 2:
            continue  # one job reserves its own slot when it gets there: same cost, a fresher slot
        channel = channels_[channel_id]
        try:
            slots = ratelimit.reserve_many(channel_id, channel.throughput_mps, len(batch))
        except Exception:
            logger.warning("batch slot reservation failed", extra={"channel_id": channel_id}, exc_info=True)
            continue
        for job, slot in zip(batch, slots, strict=True):
            slots_of[(job.message_id, job.attempt)] = slot


def _fail(message_id: str, code: str, text: str) -> str:
    """Fail (and refund) the message unless the provider has it already (a duplicate job of a sent one)."""
    if not messages.fail(message_id, code=code, message=text, unless_sent=True):
        logger.info("outbound job skipped", extra={"message_id": message_id, "code": code})
        return "skipped"
    logger.info("message failed", extra={"message_id": message_id, "code": code})
    metrics.add_metric(name="SenderFailed", unit=MetricUnit.Count, value=1)
    return "failed"


def _enqueue(job: OutboundJob, delay_s: int) -> None:
    aws.sqs().send_message(
        QueueUrl=config.queue_url(manifest.OUTBOUND_QUEUE),
        MessageBody=job.model_dump_json(exclude_none=True),
        DelaySeconds=max(0, min(MAX_DELAY_S, int(delay_s))),
    )


# -- one attempt, at most once -------------------------------------------------------------------------


def lease_s() -> int:
    """How long an attempt's claim holds: the function's timeout (an invocation cannot outlive it)."""
    return int(os.environ.get("SENDER_LEASE_S", manifest.SENDER.timeout_s))


def _send_attempt(channel: Channel, job: OutboundJob) -> str:
    claimed = messages.claim(job.message_id, attempt=job.attempt, lease_s=lease_s())
    if claimed is None:
        logger.info("outbound job skipped", extra={"message_id": job.message_id, "attempt": job.attempt})
        return "skipped"
    return _attempt(channel, claimed.message, job.attempt)


def _attempt(channel: Channel, msg: Message, attempt: int) -> str:
    connector = get_connector(channel.provider)
    secret = channels.get_provider_secret(channel)
    try:
        result = connector.send(channel, msg, secret)
    except TransientError as exc:
        return _retry(msg, attempt, exc)
    except PermanentError as exc:
        logger.info("provider rejected message", extra={"message_id": msg.id, "code": exc.code})
        return _fail(msg.id, exc.code, exc.message)
    _mark_sent(msg.id, attempt, result.provider_id, result.parts)
    metrics.add_metric(name="SenderSent", unit=MetricUnit.Count, value=1)
    logger.info("message sent", extra={"message_id": msg.id, "provider_id": result.provider_id})
    return "sent"


def _mark_sent(message_id: str, attempt: int, provider_id: str, parts: int | None) -> None:
    """The provider has the SMS now: try hard to record that, since failing here means a re-send."""
    for i in range(3):
        try:
            messages.mark_sent(message_id, provider_id=provider_id, parts=parts, attempt=attempt)
            return
        except Exception:
            if i == 2:
                raise
            logger.warning("mark_sent failed; retrying", extra={"message_id": message_id}, exc_info=True)
            time.sleep(0.1 * (i + 1))


def _retry(msg: Message, attempt: int, exc: TransientError) -> str:
    if attempt + 1 >= max_attempts():
        return _fail(msg.id, "retries_exhausted", f"{exc.code}: {exc.message}")
    delay = backoff_s(attempt, exc.retry_after_s)
    logger.info(
        "transient provider error; retrying",
        extra={"message_id": msg.id, "attempt": attempt, "code": exc.code, "delay_s": delay},
    )
    metrics.add_metric(name="SenderRetried", unit=MetricUnit.Count, value=1)
    # One write: a duplicate of this attempt's job can no longer send, and the next attempt's job leaves
    # through the outbox with it (a crash in between cannot strand the message in ``sending``).
    messages.release(
        msg.id,
        attempt=attempt,
        then=OutboundJob(message_id=msg.id, attempt=attempt + 1, channel_id=msg.channel_id, created_at=msg.created_at),
        delay_s=delay,
    )
    return "retry"


# -- poison handling ------------------------------------------------------------------------------------


def _last_receive(record: SQSRecord) -> bool:
    try:
        count = int(record.attributes.approximate_receive_count)
    except (KeyError, TypeError, ValueError):
        return False
    return count >= manifest.OUTBOUND_QUEUE.max_receive_count


def _in_progress_elsewhere(exc: Exception) -> bool:
    """Another invocation is sending this very attempt right now: its outcome will decide."""
    return isinstance(exc, messages.ClaimInProgress)
