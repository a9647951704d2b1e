"""The inbox's rules around a bot (issue 15), as pure functions: a conversation with a bot is not in
the queue (nor its index) until the bot lets it go, a bot's message is no agent's answer, an agent's
reply takes over, reopening stops a finish bot."""

from __future__ import annotations

import datetime as dt

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
