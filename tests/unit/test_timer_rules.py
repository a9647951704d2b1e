"""Timer rules without AWS: deterministic names, SQS delay vs Scheduler, at() rounding, transfer return
re-checks, and the first reply of the receiver taking a transfer."""

from __future__ import annotations

import datetime as dt

from smsdesk.inbox import conversations, timers, transfers
from smsdesk.models import Conversation, Message, iso

T0 = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.UTC)


def conv(**kw: object) -> Conversation:
    base: dict[str, object] = dict(
        id="C1",
        channel_id="CH",
        contact_id="K",
        number="+31612345678",
        status="open",
        created_at=T0,
        last_activity_at=T0,
    )
    return Conversation.model_validate(base | kw)


def test_timer_id_is_deterministic_and_schedule_safe() -> None:
    assert timers.timer_id("queue_timeout", "01ABC") == "queue_timeout-01ABC"
    assert timers.timer_id("queue_timeout", "01ABC") == timers.timer_id("queue_timeout", "01ABC")
    long = timers.timer_id("k", "x/" * 60)
    assert len(long) <= 64 and "/" not in long
    assert long != timers.timer_id("k", "y/" * 60)


def test_sqs_delay_under_15_minutes_scheduler_beyond() -> None:
    assert timers.delay_seconds(T0 + dt.timedelta(seconds=2), T0) == 2
    assert timers.delay_seconds(T0 + dt.timedelta(seconds=2, milliseconds=900), T0) == 2  # rest waited out
    assert timers.delay_seconds(T0 - dt.timedelta(seconds=5), T0) == 0
    assert timers.delay_seconds(T0 + dt.timedelta(seconds=899), T0) == 899
    assert timers.delay_seconds(T0 + dt.timedelta(seconds=900), T0) is None


def test_at_expression_rounds_up() -> None:
    assert timers.at_expression(T0) == "at(2026-11-21T12:00:00)"
    assert timers.at_expression(T0 + dt.timedelta(milliseconds=10)) == "at(2026-11-21T12:00:01)"


def test_transfer_returns_only_while_the_same_transfer_is_pending() -> None:
    pending = conv(assignee_id="B", transferred_from="A", transferred_at=T0)
    back = transfers.returned(pending, iso(T0), "B")
    assert back is not None and back.assignee_id == "A" and back.transferred_from is None
    assert transfers.returned(transfers.taken(pending), iso(T0), "B") is None  # accepted
    assert transfers.returned(pending, iso(T0 - dt.timedelta(seconds=1)), "B") is None  # older transfer
    assert transfers.returned(pending.model_copy(update={"assignee_id": "C"}), iso(T0), "B") is None
    assert transfers.returned(pending.model_copy(update={"status": "closed"}), iso(T0), "B") is None


def _msg(by: str | None) -> Message:
    return Message.model_validate(
        dict(
            id="M1",
            direction="outbound",
            channel_id="CH",
            to="+31612345678",
            sender="+3197000",
            text="hello",
            encoding="GSM-7",
            segments=1,
            credits=1,
            status="queued",
            created_at=T0 + dt.timedelta(seconds=5),
            created_by=by,
            history=[],
            provider="sandbox",
        )
    )


def test_first_reply_of_the_receiver_takes_the_transfer() -> None:
    pending = conv(assignee_id="B", transferred_from="A", transferred_at=T0)
    assert conversations.with_outbound(pending, _msg("B")).transferred_from is None
    assert conversations.with_outbound(pending, _msg("A")).transferred_from == "A"
    assert conversations.with_outbound(pending, _msg(None)).transferred_from == "A"


def test_notification_recipients_by_preference_and_access() -> None:
    from smsdesk.inbox.notifications import Candidate, Preferences, recipients_of_assignment, recipients_of_message

    default, others = Preferences(), Preferences(new_message_others=True)
    cands = [
        Candidate("A", "agent", frozenset({"T"}), default),
        Candidate("B", "agent", frozenset({"T"}), others),
        Candidate("X", "agent", frozenset({"U"}), others),  # no access to the channel
        Candidate("O", "admin", frozenset(), default),
    ]
    assert recipients_of_message(None, ["T"], cands) == [
        ("A", "new_message_unassigned"),
        ("B", "new_message_unassigned"),
        ("O", "new_message_unassigned"),
    ]
    assert recipients_of_message("A", ["T"], cands) == [("A", "new_message_mine"), ("B", "new_message_others")]
    assert recipients_of_assignment("A", "O", default) == [("A", "assigned_to_me")]
    assert recipients_of_assignment("A", "A", default) == []  # took it themselves
    assert recipients_of_assignment("A", "O", Preferences(assigned_to_me=False)) == []
