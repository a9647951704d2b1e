"""The pure rules behind conversations: where an inbound goes (append, reopen within the window, new),
deterministic inbound ids, activity/preview/answered bookkeeping, index keys per view, event shape."""

from __future__ import annotations

import datetime as dt

import pytest

from smsdesk import contacts
from smsdesk.data import conversations as repo
from smsdesk.inbox import conversations
from smsdesk.models import Conversation, Message, StatusChange

T0 = dt.datetime(2026, 11, 21, 14, 0, tzinfo=dt.UTC)


def conv(**kw: object) -> Conversation:
    base = {
        "id": "C1",
        "channel_id": "CH",
        "contact_id": "K1",
        "number": "+31612345678",
        "status": "open",
        "created_at": T0,
        "last_activity_at": T0,
    }
    return Conversation.model_validate({**base, **kw})


def msg(at: dt.datetime, text: str = "hi", *, by: str | None = None, direction: str = "outbound") -> Message:
    return Message(
        id="M",
        direction=direction,  # type: ignore[arg-type]
        channel_id="CH",
        to="+31612345678",
        sender="+31687654321",
        text=text,
        encoding="GSM-7",
        segments=1,
        credits=1,
        status="queued",
        history=[StatusChange(status="queued", at=at)],
        created_by=by,
        created_at=at,
        provider="sandbox",
    )


@pytest.mark.parametrize(
    ("pointer", "window_h", "age", "want"),
    [
        (None, 24, None, "create"),
        (repo.Pointer("C1", open=True), 24, None, "append"),
        (repo.Pointer("C1", open=False, closed_at=T0), 24, dt.timedelta(hours=23, minutes=59), "reopen"),
        (repo.Pointer("C1", open=False, closed_at=T0), 24, dt.timedelta(hours=24), "reopen"),
        (repo.Pointer("C1", open=False, closed_at=T0), 24, dt.timedelta(hours=24, seconds=1), "create"),
        (repo.Pointer("C1", open=False, closed_at=T0), 0, dt.timedelta(seconds=1), "create"),
        (repo.Pointer("C1", open=False, closed_at=None), 24, dt.timedelta(0), "create"),
    ],
)
def test_decide(pointer: repo.Pointer | None, window_h: int, age: dt.timedelta | None, want: str) -> None:
    assert conversations.decide(pointer, window_h, T0 + (age or dt.timedelta(0))) == want


def test_inbound_message_id_is_deterministic() -> None:
    a = conversations.inbound_message_id("twilio", "SM123")
    assert a == conversations.inbound_message_id("twilio", "SM123")
    assert len(a) == 26 and set(a) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert a != conversations.inbound_message_id("sandbox", "SM123")
    assert a != conversations.inbound_message_id("twilio", "SM124")


def test_inbound_activity_out_of_order_keeps_the_newest_preview() -> None:
    c = conversations.with_inbound(conv(), msg(T0 + dt.timedelta(minutes=5), "newest", direction="inbound"))
    late = conversations.with_inbound(c, msg(T0 + dt.timedelta(minutes=1), "older", direction="inbound"))
    assert late.last_message_preview == "newest" and late.last_inbound_at == T0 + dt.timedelta(minutes=5)
    assert late.last_activity_at == T0 + dt.timedelta(minutes=5)


def test_first_agent_reply_marks_answered_once() -> None:
    system = conversations.with_outbound(conv(), msg(T0 + dt.timedelta(minutes=1), "auto"))
    assert system.answered_at is None  # a system reply (no user) is not an answer
    first = conversations.with_outbound(system, msg(T0 + dt.timedelta(minutes=2), "hello", by="u1"))
    second = conversations.with_outbound(first, msg(T0 + dt.timedelta(minutes=3), "again", by="u2"))
    assert (second.answered_at, second.answered_by) == (T0 + dt.timedelta(minutes=2), "u1")
    assert second.last_message_preview == "again"


def test_preview_is_one_line_and_bounded() -> None:
    assert conversations.preview("a\n b\tc") == "a b c"
    long = conversations.preview("x" * 500)
    assert len(long) == 160 and long.endswith("…")


def test_reopen_and_close() -> None:
    closed = conversations.closed(conv(assignee_id="u1"), "u2", T0)
    assert (closed.status, closed.closed_by, closed.assignee_id) == ("closed", "u2", "u1")
    again = conversations.reopened(closed, T0 + dt.timedelta(hours=1))
    assert again.status == "open" and again.closed_at is None and again.reopened_count == 1
    assert again.assignee_id == "u1" and again.last_activity_at == T0 + dt.timedelta(hours=1)
    # the closed interaction is over: reopened, it does not wait (the next inbound starts a new one)
    waited = conversations.closed(conv(enqueued_at=T0, overflow_at=T0, timed_out_at=T0), None, T0)
    fresh = conversations.reopened(waited, T0)
    assert (fresh.enqueued_at, fresh.overflow_at, fresh.timed_out_at, fresh.queue_state()) == (None, None, None, None)


def test_overflow_index_keys_only_while_waiting_outside() -> None:
    outside = conv(overflow_at=T0)
    keys = repo.index_keys(outside)
    assert keys["GSI2PK"] == "OVERFLOW#CH" and keys["GSI2SK"].endswith("#C1") and "GSI3PK" not in keys
    admitted = repo.index_keys(conv(overflow_at=T0, enqueued_at=T0))
    assert "GSI2PK" not in admitted and admitted["GSI3PK"] == "QUEUE#CH"
    assert repo.index_keys(conv(overflow_at=T0, assignee_id="u1"))["GSI2PK"] == "ASSIGNEE#u1"


def test_index_keys_follow_the_view() -> None:
    sort = "2026-11-21T14:00:00.000Z#C1"
    by_number = {"GSI4PK": "CONVNUM#+31612345678", "GSI4SK": sort}  # a contact's conversations, every state
    assert repo.index_keys(conv()) == {"GSI1PK": "VIEW#CH#unassigned", "GSI1SK": sort, **by_number}
    assert repo.index_keys(conv(assignee_id="u1")) == {
        "GSI1PK": "VIEW#CH#assigned",
        "GSI1SK": sort,
        "GSI2PK": "ASSIGNEE#u1",
        "GSI2SK": sort,
        **by_number,
    }
    # closed: in the closed view only, not in anyone's Mine nor in the queue
    keys = repo.index_keys(conv(status="closed", assignee_id="u1", enqueued_at=T0))
    assert keys == {"GSI1PK": "VIEW#CH#closed", "GSI1SK": sort, **by_number}
    queued = repo.index_keys(conv(enqueued_at=T0))
    assert queued["GSI3PK"] == "QUEUE#CH"
    assert "GSI3PK" not in repo.index_keys(conv(enqueued_at=T0, answered_at=T0))


def test_event_shape() -> None:
    detail = conversations.conversation_event(conv(assignee_id="u1"), at=T0, by="u2", previous_assignee_id=None)
    assert detail == {
        "conversation_id": "C1",
        "channel_id": "CH",
        "contact_id": "K1",
        "number": "+31612345678",
        "status": "open",
        "assignee_id": "u1",
        "reopened_count": 0,
        "last_activity_at": "2026-11-21T14:00:00.000Z",
        "at": "2026-11-21T14:00:00.000Z",
        "by": "u2",
        "previous_assignee_id": None,
    }


@pytest.mark.parametrize(
    ("raw", "region", "want"),
    [
        ("+31612345678", None, "+31612345678"),
        ("0612345678", "NL", "+31612345678"),
        (" +31 6 1234 5678 ", "NL", "+31612345678"),
        ("12345", "NL", "12345"),  # short code: kept as given
        ("ACME", "NL", "ACME"),
    ],
)
def test_normalise_inbound(raw: str, region: str | None, want: str) -> None:
    assert contacts.normalise_inbound(raw, region) == want
