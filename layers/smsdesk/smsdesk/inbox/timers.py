"""Timers: ``schedule`` / ``cancel``, and the consumer of the timers queue.

* A timer is named deterministically, ``{kind}-{target_id}`` (:func:`timer_id`): scheduling the same
  kind for the same target re-arms it, and anyone can cancel it knowing only the pair.
* Due in under 15 minutes: an SQS message with ``DelaySeconds`` (whole seconds, rounded down; the
  consumer waits out the sub-second rest, so a timer is neither early nor a second late). Later:
  an EventBridge Scheduler one-time ``at()`` schedule of that name (``ActionAfterCompletion=DELETE``)
  whose target is the timers queue. Both deliver the same :class:`TimerFired`. Scheduler retries a
  failed delivery (``SCHEDULE_RETRY_ATTEMPTS`` times within ``SCHEDULE_MAX_EVENT_AGE_S``), then puts the
  timer in the schedule group's dead-letter queue (alarmed; the failure is in the message attributes).
* A pending-timer item (``smsdesk.data.timers``) is the source of truth: a fire acts only while the
  item exists with the same ``due_at``, so a cancel (item deleted) or a re-arm (item replaced) that
  races a fire makes the stale fire a no-op. Actions also re-check their target, and the item is
  removed after the action (a failed action is retried by SQS and still finds it).

Each ``kind`` maps to an action in ``ACTIONS``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config, events, manifest
from smsdesk.data import conversations as conversations_repo
from smsdesk.data import timers as repo
from smsdesk.envelopes import TimerFired
from smsdesk.inbox import stats
from smsdesk.models import iso, utcnow
from smsdesk.observability import logger

ACTIONS: dict[str, Callable[[TimerFired], None]] = {}

#: SQS DelaySeconds maximum; longer timers go through Scheduler.
SQS_MAX_DELAY_S = 900
#: Scheduler's retry policy for a timer it cannot deliver to the timers queue, before the dead-letter queue.
SCHEDULE_RETRY_ATTEMPTS = 20
SCHEDULE_MAX_EVENT_AGE_S = 6 * 3600
_NAME_OK = re.compile(r"[^0-9A-Za-z_.-]")


def timer_id(kind: str, target_id: str) -> str:
    """The deterministic timer (and schedule) name: Scheduler allows 64 chars of ``[0-9A-Za-z_.-]``."""
    name = _NAME_OK.sub("_", f"{kind}-{target_id}")
    if len(name) > 64:
        name = name[:47] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name


def delay_seconds(due_at: dt.datetime, now: dt.datetime) -> int | None:
    """Whole seconds of SQS delay for a timer due at ``due_at`` (rounded down, at least 0), or None if it
    is too far away for SQS (then Scheduler)."""
    remaining = (due_at - now).total_seconds()
    if remaining >= SQS_MAX_DELAY_S:
        return None
    return max(0, math.floor(remaining))


def at_expression(due_at: dt.datetime) -> str:
    """Scheduler's one-time expression (UTC, whole seconds rounded up so it never fires early)."""
    due = due_at.astimezone(dt.UTC)
    if due.microsecond:
        due = due.replace(microsecond=0) + dt.timedelta(seconds=1)
    return f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})"


def _message(tid: str, kind: str, target_id: str, due_at: dt.datetime, data: dict[str, Any]) -> str:
    fired = TimerFired(timer_id=tid, kind=kind, target_id=target_id, due_at=due_at, data=data)
    return fired.model_dump_json()


def schedule(
    kind: str, target_id: str, due_at: dt.datetime, *, data: dict[str, Any] | None = None, now: dt.datetime
) -> str:
    """Arm the ``kind`` timer of ``target_id`` for ``due_at`` (re-arming replaces it); returns its id."""
    data = dict(data or {})
    tid = timer_id(kind, target_id)
    body = _message(tid, kind, target_id, due_at, data)
    delay = delay_seconds(due_at, now)
    replaced = repo.put(tid, kind, target_id, due_at, data, "sqs" if delay is not None else "scheduler")
    if delay is not None:
        if replaced and replaced.get("via") == "scheduler":
            _delete_schedule(tid)  # a re-arm from a far timer to a near one
        aws.sqs().send_message(QueueUrl=config.queue_url(manifest.TIMERS_QUEUE), MessageBody=body, DelaySeconds=delay)
        return tid
    params: dict[str, Any] = {
        "Name": tid,
        "GroupName": config.schedule_group_name(),
        "ScheduleExpression": at_expression(due_at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": config.queue_arn(manifest.TIMERS_QUEUE),
            "RoleArn": config.scheduler_role_arn(),
            "Input": body,
            "DeadLetterConfig": {"Arn": config.scheduler_dlq_arn()},
            "RetryPolicy": {
                "MaximumRetryAttempts": SCHEDULE_RETRY_ATTEMPTS,
                "MaximumEventAgeInSeconds": SCHEDULE_MAX_EVENT_AGE_S,
            },
        },
    }
    try:
        aws.scheduler().create_schedule(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
        aws.scheduler().update_schedule(**params)
    return tid


def _delete_schedule(tid: str) -> None:
    try:
        aws.scheduler().delete_schedule(Name=tid, GroupName=config.schedule_group_name())
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "ValidationException"):
            raise


def cancel(tid: str) -> bool:
    """Cancel a timer (idempotent). True if it was still pending. An SQS-delayed message may still
    arrive; it finds no pending item and does nothing."""
    removed = repo.delete(tid)
    # The row is written before its schedule, so no row means no schedule (a fired one deletes itself).
    if removed and removed.get("via") == "scheduler":
        _delete_schedule(tid)
    return removed is not None


def cancel_for(kind: str, target_id: str) -> bool:
    return cancel(timer_id(kind, target_id))


def fire(timer: TimerFired, *, now: dt.datetime | None = None) -> bool:
    """Run a due timer's action if it is still pending as this fire knows it; True if it acted."""
    now = now or utcnow()
    pending = repo.get(timer.timer_id)
    if pending is None or pending.get("due_at") != iso(timer.due_at):
        logger.info("stale timer ignored", extra={"timer_id": timer.timer_id, "due_at": iso(timer.due_at)})
        return False
    action = ACTIONS.get(timer.kind)
    if action is None:
        # A kind this version does not know (e.g. removed): nothing to re-check, so nothing to do.
        logger.warning("timer of unknown kind ignored", extra={"timer": timer.model_dump(mode="json")})
    else:
        action(timer)
    repo.delete(timer.timer_id, due_at=timer.due_at)
    return True


# --------------------------------------------------------------------------------------------------
# Max time in queue
# --------------------------------------------------------------------------------------------------

QUEUE_TIMEOUT = "queue_timeout"
TRANSFER_RETURN = "transfer_return"  # its action: transfers.transfer_return (loaded by timer_handler)
BOT_WAIT = "bot_wait"  # an ask's timeout; its action: bots.runtime.wait_timed_out (loaded by timer_handler)


def schedule_queue_timeout(
    conversation_id: str, arrived_at: dt.datetime, max_queue_time_s: int, *, now: dt.datetime
) -> str | None:
    """Arm the queue timeout of an interaction that arrived at ``arrived_at`` (None when 0 = no limit)."""
    if max_queue_time_s <= 0:
        return None
    due = arrived_at + dt.timedelta(seconds=max_queue_time_s)
    return schedule(QUEUE_TIMEOUT, conversation_id, due, data={"arrived_at": iso(arrived_at)}, now=now)


def queue_timed_out(timer: TimerFired) -> None:
    """Mark the conversation timed out if the same interaction still waits (open, not assigned, not
    answered; in the queue or outside it) and publish ``interaction.queue_timeout``; it stays where it is."""
    for _ in range(10):
        got = conversations_repo.get(timer.target_id)
        if got is None:
            return
        conv, version = got
        arrived = timer.data.get("arrived_at")
        if conv.queue_state() is None or conv.arrived_at is None or conv.timed_out_at is not None:
            return
        if arrived is not None and iso(conv.arrived_at) != arrived:
            return
        now = utcnow()
        new = conv.model_copy(update={"timed_out_at": now})
        try:
            conversations_repo.write(conv, new, version=version)
        except conversations_repo.TransactionCanceled:
            continue
        stats.record_timed_out(new, now)
        events.publish(
            "interaction.queue_timeout",
            {
                "conversation_id": conv.id,
                "channel_id": conv.channel_id,
                "contact_id": conv.contact_id,
                "number": conv.number,
                "arrived_at": iso(conv.arrived_at),
                "enqueued_at": iso(conv.enqueued_at) if conv.enqueued_at else None,
                "in_overflow": conv.queue_state() == "overflow",
                "timed_out_at": iso(now),
                "waited_s": round((now - conv.arrived_at).total_seconds(), 3),
            },
        )
        return
    raise RuntimeError(f"conversation {timer.target_id} kept changing; timer retried")


ACTIONS[QUEUE_TIMEOUT] = queue_timed_out
