"""Transfers: hand a conversation to a colleague; if they do not take it (accept, or first reply) within
the channel's ``max_transfer_s`` it returns to the original agent (0 = no limit).

The pending transfer lives on the conversation (``transferred_from``/``transferred_at``); the return is
a ``transfer_return`` timer whose action re-checks that this same transfer is still pending.
"""

from __future__ import annotations

import datetime as dt

from smsdesk import events
from smsdesk.auth import Caller
from smsdesk.data import conversations as repo
from smsdesk.data import users as users_repo
from smsdesk.envelopes import TimerFired
from smsdesk.errors import Conflict, Forbidden
from smsdesk.inbox import conversations, timers
from smsdesk.models import Channel, Conversation, iso, utcnow

TRANSFER_RETURN = timers.TRANSFER_RETURN


class NoPendingTransfer(Conflict):
    code = "no_pending_transfer"


def transfer(caller: Caller, conversation_id: str, user_id: str, *, now: dt.datetime | None = None) -> Conversation:
    """Give the conversation to ``user_id`` (available, may use the channel). The current assignee or an
    admin may transfer; an unassigned one can be transferred by anyone who may use the channel."""
    now = now or utcnow()
    profile = users_repo.get_profile(user_id)
    if profile is None:
        raise conversations.CannotAssign(f"user {user_id} does not exist", field="user_id")
    seen: dict[str, Channel] = {}

    def step(conv: Conversation, channel: Channel) -> conversations._Change | None:
        seen["channel"] = channel
        if conv.status != "open":
            raise conversations.ConversationClosed(f"conversation {conv.id} is closed", field="conversation_id")
        if conv.assignee_id not in (None, caller.user_id) and not caller.is_admin:
            raise Forbidden("only the assignee or an admin may transfer this conversation")
        if user_id == conv.assignee_id:
            raise conversations.CannotAssign("the conversation is already with this user", field="user_id")
        extra, errors = conversations.receiver_guard(user_id, profile, channel)
        origin = conv.assignee_id or caller.user_id
        new = conv.model_copy(update={"assignee_id": user_id, "transferred_from": origin, "transferred_at": now})
        detail = conversations.conversation_event(
            new, at=now, by=caller.user_id, previous_assignee_id=conv.assignee_id, transferred_from=origin
        )
        return conversations._Change(new, [("conversation.transferred", detail)], extra=extra, errors=errors)

    conv = conversations._cas(caller, conversation_id, step)
    limit = seen["channel"].queue.max_transfer_s
    if limit > 0 and conv.transferred_at is not None:
        timers.schedule(
            TRANSFER_RETURN,
            conv.id,
            conv.transferred_at + dt.timedelta(seconds=limit),
            data={"transferred_at": iso(conv.transferred_at), "to": user_id},
            now=now,
        )
    return conv


def accept(caller: Caller, conversation_id: str, *, now: dt.datetime | None = None) -> Conversation:
    """The receiver takes the transfer (idempotent once taken); 409 ``no_pending_transfer`` otherwise."""
    now = now or utcnow()

    def step(conv: Conversation, _channel: Channel) -> conversations._Change | None:
        if conv.assignee_id != caller.user_id:
            raise NoPendingTransfer("the conversation is not transferred to you", field="conversation_id")
        if conv.transferred_from is None:
            return None
        new = taken(conv)
        detail = conversations.conversation_event(
            new, at=now, by=caller.user_id, transferred_from=conv.transferred_from
        )
        return conversations._Change(new, [("conversation.transfer_accepted", detail)])

    conv = conversations._cas(caller, conversation_id, step)
    timers.cancel_for(TRANSFER_RETURN, conv.id)
    return conv


def taken(conv: Conversation) -> Conversation:
    return conv.model_copy(update={"transferred_from": None, "transferred_at": None})


def returned(conv: Conversation, transferred_at: str | None, to: str | None) -> Conversation | None:
    """The conversation handed back to its original agent, or None if this transfer is no longer pending
    (taken, re-transferred, closed, reassigned)."""
    if conv.status != "open" or conv.transferred_from is None or conv.transferred_at is None:
        return None
    if transferred_at is not None and iso(conv.transferred_at) != transferred_at:
        return None
    if to is not None and conv.assignee_id != to:
        return None
    return conv.model_copy(
        update={"assignee_id": conv.transferred_from, "transferred_from": None, "transferred_at": None}
    )


def transfer_return(timer: TimerFired) -> None:
    for _ in range(10):
        got = repo.get(timer.target_id)
        if got is None:
            return
        conv, version = got
        new = returned(conv, timer.data.get("transferred_at"), timer.data.get("to"))
        if new is None:
            return
        try:
            # Moves the conversation between the agents' open counts (issue 6 capacity) in the same write.
            repo.write(conv, new, version=version)
        except repo.TransactionCanceled:
            continue
        now = utcnow()
        detail = conversations.conversation_event(
            new, at=now, by=None, previous_assignee_id=conv.assignee_id, reason="transfer_timeout"
        )
        events.publish("conversation.transfer_returned", detail)
        return
    raise RuntimeError(f"conversation {timer.target_id} kept changing; timer retried")


timers.ACTIONS[TRANSFER_RETURN] = transfer_return
