"""Timers on the local stack: SQS-delay and Scheduler timers fire through the real timers queue and
function; cancels racing fires; the max-time-in-queue timeout (about 30 s, the one slow test)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smsdesk import channels
from smsdesk.data import conversations as conv_repo
from smsdesk.data import timers as timers_repo
from smsdesk.envelopes import TimerFired
from smsdesk.inbox import conversations, timers
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, utcnow

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
TEST_KIND = "test_probe"


@pytest.fixture(scope="module")
def fired(stack: LocalStack) -> Iterator[dict[str, float]]:
    """A test action: records when each target's timer ran (wall clock)."""
    seen: dict[str, float] = {}
    cond = threading.Condition()

    def probe(timer: TimerFired) -> None:
        with cond:
            seen[timer.target_id] = time.time()
            cond.notify_all()

    timers.ACTIONS[TEST_KIND] = probe
    # Warm the timers function (its first import is a cold start, not timer lateness).
    warm = f"warm-{uuid.uuid4().hex}"
    timers.schedule(TEST_KIND, warm, utcnow(), now=utcnow())
    wait_fired(seen, warm, 10)
    yield seen
    timers.ACTIONS.pop(TEST_KIND, None)


def wait_fired(seen: dict[str, float], target: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target in seen:
            return seen[target]
        time.sleep(0.05)
    return seen.get(target)


def pending_gone(tid: str, timeout: float = 3.0) -> bool:
    """The pending item is removed right after the action returns (the probe records the fire first)."""
    deadline = time.monotonic() + timeout
    while timers_repo.get(tid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_sqs_delay_timer_fires_within_two_seconds_of_due(stack: LocalStack, fired: dict[str, float]) -> None:
    target = uuid.uuid4().hex
    now = utcnow()
    due = now + dt.timedelta(seconds=2)
    tid = timers.schedule(TEST_KIND, target, due, now=now)
    assert tid == timers.timer_id(TEST_KIND, target)
    at = wait_fired(fired, target, 6)
    assert at is not None, "timer did not fire"
    lateness = at - due.timestamp()
    assert -0.05 <= lateness <= 2.0, lateness
    assert pending_gone(tid)  # done: the pending item is gone
    assert timers.cancel(tid) is False  # a cancel after the fire does nothing


def test_scheduler_timer_fires_and_is_deleted(stack: LocalStack, fired: dict[str, float]) -> None:
    """A 'now' 20 minutes earlier makes the timer long (Scheduler path) without waiting for it."""
    from smsdesk import aws, config

    target = uuid.uuid4().hex
    real = utcnow()
    due = real + dt.timedelta(seconds=2)
    tid = timers.schedule(TEST_KIND, target, due, now=real - dt.timedelta(minutes=20))
    sched = aws.scheduler().get_schedule(Name=tid, GroupName=config.schedule_group_name())
    assert sched["ScheduleExpression"].startswith("at(") and sched["ActionAfterCompletion"] == "DELETE"
    at = wait_fired(fired, target, 8)
    assert at is not None, "schedule did not fire"
    assert at - due.timestamp() <= 3.0
    assert pending_gone(tid)


def test_cancel_before_fire_and_fire_after_cancel_do_nothing(stack: LocalStack, fired: dict[str, float]) -> None:
    target = uuid.uuid4().hex
    now = utcnow()
    due = now + dt.timedelta(seconds=1)
    tid = timers.schedule(TEST_KIND, target, due, now=now)
    assert timers.cancel(tid) is True
    assert timers.cancel(tid) is False  # idempotent
    # The delayed SQS message still arrives; it must find nothing pending.
    assert wait_fired(fired, target, 2.5) is None
    # A fire racing the cancel (delivered directly): no effect.
    stale = TimerFired(timer_id=tid, kind=TEST_KIND, target_id=target, due_at=due)
    assert timers.fire(stale) is False and target not in fired


def test_rearm_makes_the_older_fire_stale(stack: LocalStack, fired: dict[str, float]) -> None:
    target = uuid.uuid4().hex
    now = utcnow()
    first = now + dt.timedelta(minutes=5)
    tid = timers.schedule(TEST_KIND, target, first, now=now)
    later = now + dt.timedelta(minutes=6)
    timers.schedule(TEST_KIND, target, later, now=now)
    assert timers.fire(TimerFired(timer_id=tid, kind=TEST_KIND, target_id=target, due_at=first), now=first) is False
    assert timers.fire(TimerFired(timer_id=tid, kind=TEST_KIND, target_id=target, due_at=later), now=later) is True
    assert target in fired
    timers.cancel(tid)


def _waiting_conversation(stack: LocalStack, http: Http, max_queue_time_s: int) -> tuple[str, dt.datetime]:
    body = {
        "name": f"qt-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3166{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "queue": {"max_queue_time_s": max_queue_time_s},
    }
    status, _, ch = http(
        "POST", f"{stack.base_url}/v1/channels", headers={"authorization": f"Bearer {stack.token}"}, body=body
    )
    assert status == 201, ch
    channel = channels.get_channel(ch["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": f"+3162{uuid.uuid4().int % 10**7:07d}"},
        to=channel.sender,
        text="anyone there?",
        received_at=utcnow(),
    )
    conv_id = conversations.record_inbound(channel, sms).conversation.id
    conv, _version = conv_repo.get(conv_id)  # type: ignore[misc]
    assert conv.enqueued_at is not None  # the inbound enqueued it ...
    assert timers_repo.get(timers.timer_id(timers.QUEUE_TIMEOUT, conv_id)) is not None  # ... and armed the timer
    return conv_id, conv.enqueued_at


def test_queue_timeout_ignored_once_assigned(stack: LocalStack, http: Http, make_user: Any) -> None:
    conv_id, enqueued = _waiting_conversation(stack, http, 600)
    conv, version = conv_repo.get(conv_id)  # type: ignore[misc]
    conv_repo.write(conv, conv.model_copy(update={"assignee_id": "someone"}), version=version)
    due = enqueued + dt.timedelta(seconds=600)
    tid = timers.timer_id(timers.QUEUE_TIMEOUT, conv_id)
    timer = TimerFired(
        timer_id=tid, kind=timers.QUEUE_TIMEOUT, target_id=conv_id, due_at=due, data={"arrived_at": _iso(enqueued)}
    )
    assert timers.fire(timer, now=due) is True  # the fire ran, the action re-checked and did nothing
    assert conv_repo.get(conv_id)[0].timed_out_at is None  # type: ignore[index]


def _iso(ts: dt.datetime) -> str:
    from smsdesk.models import iso

    return iso(ts)


def test_unanswered_interaction_times_out_after_30_s(stack: LocalStack, http: Http) -> None:
    """The real path: SQS delay → timers queue → timers function → conversation marked timed out."""
    conv_id, enqueued = _waiting_conversation(stack, http, 30)
    deadline = time.monotonic() + 36
    timed_out = None
    while time.monotonic() < deadline:
        status, _, body = http(
            "GET", f"{stack.base_url}/v1/conversations/{conv_id}", headers={"authorization": f"Bearer {stack.token}"}
        )
        assert status == 200, body
        if body.get("timed_out_at"):
            timed_out = dt.datetime.fromisoformat(body["timed_out_at"])
            break
        time.sleep(0.5)
    assert timed_out is not None, "not timed out"
    waited = (timed_out - enqueued).total_seconds()
    assert 30 <= waited <= 32.5, waited
    assert body["status"] == "open" and body["assignee_id"] is None  # stays in the queue
    # ... and the channel's service-level statistics count it as timed out.
    status, _, stats = http(
        "GET",
        f"{stack.base_url}/v1/channels/{body['channel_id']}/stats",
        headers={"authorization": f"Bearer {stack.token}"},
    )
    assert status == 200, stats
    assert stats["timed_out"] == 1, stats
