"""The inbox's rules around a bot (issue 15), as pure functions: a conversation with a bot is not in
the queue (nor its index) until the bot lets it go, a bot's message is no agent's answer, an agent's
reply takes over, reopening stops a finish bot."""

from __future__ import annotations

import datetime as dt

import pytest

from smsdesk.data.conversations import index_keys
from smsdesk.inbox import conversations
from smsdesk.models import Conversation, Message, StatusChange

T0 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)


def conv(**kw: object) -> Conversation:
    base = dict(
        id="c1",
        channel_id="ch",
        contact_id="k",
        number="+31612345678",
        status="open",
        created_at=T0,
        last_activity_at=T0,
        enqueued_at=T0,
    )
    return Conversation.model_validate({**base, **kw})


def msg(created_by: str | None, at: dt.datetime) -> Message:
    return Message(
        id="m",
        channel_id="ch",
        to="+31612345678",
        sender="+31600000000",
        text="hi",
        encoding="GSM-7",
        segments=1,
        credits=1,
        status="queued",
        history=[StatusChange(status="queued", at=at)],
        created_by=created_by,
        created_at=at,
        provider="sandbox",
        conversation_id="c1",
    )


def test_with_a_bot_it_waits_nowhere_and_returns_at_its_arrival_time() -> None:
    with_bot = conv(bot_id="b", bot_run_id="r")
    assert with_bot.queue_state() is None
    assert "GSI3PK" not in index_keys(with_bot)
    assert index_keys(with_bot)["GSI1PK"] == "VIEW#ch#unassigned"  # still in the Unassigned view
    released = with_bot.model_copy(update={"bot_id": None, "bot_run_id": None})
    assert released.queue_state() == "waiting"
    assert index_keys(released)["GSI3SK"].startswith("2026-11-29T10:00:00.000Z#")  # its place by arrival


def test_a_bot_message_is_no_answer_and_an_agent_reply_takes_over() -> None:
    with_bot = conv(bot_id="b", bot_run_id="r")
    after_bot = conversations.with_outbound(with_bot, msg("bot:b", T0 + dt.timedelta(seconds=5)))
    assert after_bot.answered_at is None and after_bot.bot_run_id == "r"
    system = conversations.with_outbound(with_bot, msg(None, T0 + dt.timedelta(seconds=5)))
    assert system.bot_run_id == "r"  # a STOP confirmation does not take over
    agent = conversations.with_outbound(with_bot, msg("u1", T0 + dt.timedelta(seconds=9)))
    assert agent.bot_run_id is None and agent.answered_by == "u1"


def test_reopening_stops_a_finish_bot() -> None:
    closed = conv(status="closed", closed_at=T0, bot_id="b", bot_run_id="r")
    assert conversations.reopened(closed, T0 + dt.timedelta(hours=1)).bot_run_id is None


def test_run_ids_are_stable_per_trigger_and_time() -> None:
    a = conversations.bot_run_id("c1", "on_start", T0)
    assert a == conversations.bot_run_id("c1", "on_start", T0)
    assert a != conversations.bot_run_id("c1", "on_finish", T0)


def test_a_handoff_into_a_full_queue_waits_outside_from_its_arrival() -> None:
    from smsdesk.inbox.queueing import admitted, handed_off

    with_bot = conv(bot_id="b", bot_run_id="r")
    inside = handed_off(with_bot, full=False)
    assert (inside.bot_run_id, inside.queue_state(), inside.enqueued_at) == (None, "waiting", T0)
    outside = handed_off(with_bot, full=True)
    assert (outside.bot_run_id, outside.queue_state(), outside.overflow_at) == (None, "overflow", T0)
    assert outside.arrived_at == T0  # its wait counts from its arrival, not from the handoff
    later = T0 + dt.timedelta(minutes=3)
    entered = admitted(outside, later)
    assert entered is not None and (entered.enqueued_at, entered.arrived_at) == (later, T0)
    # an after-timeout bot on one waiting outside: it goes back outside, whatever the queue
    was_outside = conv(enqueued_at=None, overflow_at=T0, bot_id="b", bot_run_id="r")
    assert handed_off(was_outside, full=False).queue_state() == "overflow"
    # a closed conversation (finish bot) just leaves the bot
    closed = handed_off(conv(status="closed", closed_at=T0, bot_id="b", bot_run_id="r"), full=True)
    assert (closed.bot_run_id, closed.enqueued_at, closed.overflow_at) == (None, T0, None)


def test_a_handoff_into_the_queue_is_held_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    from smsdesk.data.queueing import size_delta
    from smsdesk.inbox.queueing import handed_off

    monkeypatch.setenv("TABLE_NAME", "t")
    with_bot = conv(bot_id="b", bot_run_id="r")
    (update,) = size_delta(with_bot, handed_off(with_bot, full=False), cap=1)
    cond = update["Update"]["ConditionExpression"]
    assert "waiting < :cap" in cond and "overflow <= :zero" in cond  # like a new arrival
    (outside,) = size_delta(with_bot, handed_off(with_bot, full=True), cap=1)
    assert outside["Update"]["UpdateExpression"] == "ADD overflow :do"
    assert "ConditionExpression" not in outside["Update"]
