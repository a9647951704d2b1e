"""Conversations: one thread per (channel, customer number), the shared inbox and agents' actions.

* :func:`record_inbound` files an inbound SMS (the inbound consumer calls it after routing): it
  matches or creates the contact, finds the open conversation through the (channel, number) pointer,
  reopens the latest one if it closed within the channel's reopen window, or starts a new one, and
  writes the message, the conversation, the pointer and a new contact in ONE transaction. The
  message id is derived from (provider, provider id) and put with ``attribute_not_exists``: a
  redelivered webhook cancels the whole transaction and changes nothing (``duplicate=True``).
* Every conversation write replaces the item conditioned on its ``version`` and is retried on a
  conflict, so concurrent inbounds, replies and agent actions never lose each other's changes.
* Agents reply and start conversations through the normal send path (:func:`smsdesk.sending.messages.send`,
  credits, blocklist and opt-outs included); only two-way channels can be replied on.

Events (docs/events.md) are published after the commit; a bus failure is logged, never raised.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import access, channels, config, contacts, events, ids
from smsdesk.auth import Caller
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import conversations as repo
from smsdesk.data import messages as messages_repo
from smsdesk.data import queueing as queue_repo
from smsdesk.data import teams as teams_repo
from smsdesk.data import users as users_repo
from smsdesk.data.table import decode_position, encode_position
from smsdesk.errors import AppError, Conflict, NotFound, ValidationError
from smsdesk.inbox import queueing, stats
from smsdesk.models import (
    Channel,
    Contact,
    Conversation,
    InboundSms,
    Message,
    SendRequest,
    StatusChange,
    View,
    iso,
    utcnow,
)
from smsdesk.observability import logger
from smsdesk.sending import messages
from smsdesk.text.segments import count_segments

Outcome = Literal["append", "reopen", "create"]
_MAX_ATTEMPTS = 20
_PREVIEW = 160
#: ``created_by`` of a bot's messages: ``bot:{bot_id}`` (issue 15).
BOT_PREFIX = "bot:"


class OneWayChannel(ValidationError):
    code = "one_way_channel"


class ConversationClosed(Conflict):
    code = "conversation_closed"


class OpenConversationExists(Conflict):
    code = "conversation_open_exists"


class UserUnavailable(Conflict):
    code = "user_unavailable"


class UserAtCapacity(Conflict):
    code = "user_at_capacity"


class CannotAssign(ValidationError):
    code = "cannot_assign"


@dataclass(frozen=True)
class InboundResult:
    """What :func:`record_inbound` did: ``duplicate`` means the message was already recorded (nothing
    changed; ``conversation``/``message`` are the stored ones)."""

    conversation: Conversation
    message: Message
    created: bool
    reopened: bool
    duplicate: bool


# --------------------------------------------------------------------------------------------------
# Pure rules
# --------------------------------------------------------------------------------------------------


def inbound_message_id(provider: str, provider_id: str) -> str:
    """Deterministic 26-character id of an inbound message (Crockford base32 of a SHA-256 prefix):
    every delivery of the same provider message maps to the same item."""
    return ids.stable_id(provider, provider_id)


def decide(pointer: repo.Pointer | None, reopen_window_h: int, now: dt.datetime) -> Outcome:
    """Where an inbound goes: the open conversation, the latest one reopened (closed at most
    ``reopen_window_h`` hours ago; 0 = never reopen), or a new one."""
    if pointer is None:
        return "create"
    if pointer.open:
        return "append"
    window = dt.timedelta(hours=reopen_window_h)
    if reopen_window_h > 0 and pointer.closed_at is not None and now - pointer.closed_at <= window:
        return "reopen"
    return "create"


def preview(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= _PREVIEW else one_line[: _PREVIEW - 1] + "…"


def new_conversation(channel_id: str, contact_id: str, number: str, now: dt.datetime) -> Conversation:

    return Conversation(
        id=ids.new_id(),
        channel_id=channel_id,
        contact_id=contact_id,
        number=number,
        status="open",
        created_at=now,
        last_activity_at=now,
    )


def reopened(conv: Conversation, now: dt.datetime) -> Conversation:
    """Closed → open again (the assignee stays: the customer continues with the same colleague). Closing
    ended the interaction (answered or abandoned), so it is not waiting any more: the next inbound starts
    a new one, at the back of the queue."""
    return conv.model_copy(
        update={
            "status": "open",
            "closed_at": None,
            "closed_by": None,
            "reopened_count": conv.reopened_count + 1,
            "last_activity_at": max(conv.last_activity_at, now),
            "enqueued_at": None,
            "overflow_at": None,
            "answered_at": None,
            "answered_by": None,
            "timed_out_at": None,
            "bot_id": None,  # issue 15: reopening stops a finish bot
            "bot_run_id": None,
        }
    )


def with_inbound(conv: Conversation, msg: Message) -> Conversation:
    """Activity of an inbound message; out-of-order deliveries never move the preview backwards."""
    update: dict[str, Any] = {"last_activity_at": max(conv.last_activity_at, msg.created_at)}
    if conv.last_inbound_at is None or msg.created_at >= conv.last_inbound_at:
        update |= {"last_inbound_at": msg.created_at, "last_message_preview": preview(msg.text)}
    return conv.model_copy(update=update)


def with_outbound(conv: Conversation, msg: Message) -> Conversation:
    """Activity of an outbound message; an agent's first one marks the conversation answered."""
    update: dict[str, Any] = {"last_activity_at": max(conv.last_activity_at, msg.created_at)}
    if msg.created_at >= conv.last_activity_at:
        update["last_message_preview"] = preview(msg.text)
    if msg.created_by and msg.created_by.startswith(BOT_PREFIX):
        return conv.model_copy(update=update)  # issue 15: a bot's message is not an agent's answer
    if msg.created_by and conv.bot_run_id and conv.status == "open":
        update |= {"bot_id": None, "bot_run_id": None}  # an agent replying takes over from the bot
    if msg.created_by and conv.answered_at is None:
        update |= {"answered_at": msg.created_at, "answered_by": msg.created_by}
    if conv.transferred_from and msg.created_by and msg.created_by == conv.assignee_id:
        update |= {"transferred_from": None, "transferred_at": None}  # the receiver took the transfer
    return conv.model_copy(update=update)


def closed(conv: Conversation, by: str | None, now: dt.datetime) -> Conversation:
    return conv.model_copy(update={"status": "closed", "closed_at": now, "closed_by": by})


def inbound_message(channel: Channel, sms: InboundSms, number: str, conversation_id: str) -> Message:
    """The stored form of an inbound SMS: ``sender`` = the customer, ``to`` = the channel's number."""
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    at = sms.received_at if sms.received_at.tzinfo else sms.received_at.replace(tzinfo=dt.UTC)
    count = count_segments(sms.text)
    try:
        country = phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or None
    except phonenumbers.NumberParseException:
        country = None
    return Message(
        id=inbound_message_id(sms.provider, sms.provider_id),
        direction="inbound",
        channel_id=channel.id,
        to=sms.to or channel.sender,
        sender=number,
        country=country,
        text=sms.text,
        encoding=count.encoding,
        segments=count.segments,
        credits=0,
        status="received",
        history=[StatusChange(status="received", at=at)],
        created_at=at,
        provider=sms.provider,
        provider_id=sms.provider_id,
        conversation_id=conversation_id,
    )


conversation_event = events.conversation_detail


# --------------------------------------------------------------------------------------------------
# Writing: find-or-open the conversation of a (channel, number)
# --------------------------------------------------------------------------------------------------


class _Duplicate(Exception):
    pass


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.01 * (attempt + 1)))


def _publish(batch: list[tuple[str, dict[str, Any]]]) -> None:
    if not batch:
        return
    try:
        events.publish_many(batch)
    except Exception:
        logger.exception("could not publish conversation events", extra={"events": [t for t, _ in batch]})


def _open_for(
    channel: Channel,
    number: str,
    now: dt.datetime,
    *,
    message_for: Callable[[str], Message] | None,
    change: Callable[[Conversation, Message | None], Conversation],
) -> tuple[Conversation, int, Outcome, Message | None]:
    """Append to / reopen / create the pair's conversation and write it (with ``message_for(id)``'s
    message, if any) in one transaction. Raises :class:`_Duplicate` if that message exists.
    Returns (conversation, its stored version, outcome, message)."""
    for attempt in range(_MAX_ATTEMPTS):
        pointer = repo.get_pointer(channel.id, number)
        outcome = decide(pointer, channel.queue.reopen_window_h, now)
        if outcome != "append" and pointer is not None and message_for is not None and _finish_bot_runs(pointer):
            outcome = "append"  # issue 15: an answer to a finish bot is filed without reopening
        contact_items: list[dict[str, Any]] = []
        version: int | None = None
        original: Conversation | None = None
        if outcome == "create":
            contact_id = contacts_repo.contact_id_for(number)
            if contact_id is None:
                contact = contacts.new_contact(number)
                contact_id, contact_items = contact.id, contacts_repo.put_new(contact)
            base = new_conversation(channel.id, contact_id, number, now)
        else:
            assert pointer is not None
            got = repo.get(pointer.conversation_id)
            if got is None:  # deleted between our two reads: look again
                _backoff(attempt)
                continue
            base, version = got
            original = base
            if outcome == "reopen":
                base = reopened(base, now)
        msg = message_for(base.id) if message_for else None
        conv = change(base, msg)
        items: list[dict[str, Any]] = []
        if msg is not None:
            items.append(messages_repo.put_new(msg))
        if original is None or conv != original:
            items.append(repo.put(conv, version=version))
        if outcome != "append":
            items.append(repo.pointer_open(channel.id, number, conv.id, expected=pointer))
        items.extend(contact_items)
        # issue 6: agents' open_count and the queue's size (a new interaction is admitted up to max_in_queue)
        items = queue_repo.with_counters(items, original, conv, cap=channel.queue.max_in_queue)
        if not items:
            return conv, version or 0, outcome, msg
        try:
            repo.transact(items)
        except repo.TransactionCanceled as exc:
            if msg is not None and exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise _Duplicate from exc
            _backoff(attempt)
            continue
        queueing.left(original, conv, now=now)  # an agent starting it claimed it out of the queue
        return conv, (version or 0) + 1, outcome, msg
    raise RuntimeError(f"conversation for {channel.id}/{number}: too many concurrent updates")


def _finish_bot_runs(pointer: repo.Pointer) -> bool:
    """Whether the pair's latest conversation is closed with a (finish) bot running on it."""
    got = repo.get(pointer.conversation_id)
    return got is not None and got[0].status == "closed" and got[0].bot_run_id is not None


def bot_run_id(conversation_id: str, trigger: str, at: dt.datetime) -> str:
    """The id of the run ``trigger`` starts on a conversation at ``at`` (the same on every retry)."""
    return ids.stable_id("botrun", conversation_id, trigger, iso(at))


def _arrive(channel: Channel, conv: Conversation, now: dt.datetime) -> Conversation:
    """A new interaction enters the queue, or waits outside it when the queue is full (issue 6). With
    an on-start bot (issue 15) it is "with bot": its arrival time is kept (``enqueued_at``) but the
    queue offers it only when the bot hands off."""
    if not queueing.starts_interaction(conv):
        return conv
    if channel.bot_on_start and conv.bot_run_id is None:
        run_id = bot_run_id(conv.id, "on_start", now)
        return queueing.enqueue(conv, now).model_copy(update={"bot_id": channel.bot_on_start, "bot_run_id": run_id})
    return queueing.enqueue(conv, now, full=queueing.is_full(channel))


def record_inbound(channel: Channel, sms: InboundSms, *, now: dt.datetime | None = None) -> InboundResult:
    """File an inbound SMS in its conversation (see the module docstring). Idempotent on
    (provider, provider id); publishes ``conversation.created``/``conversation.reopened`` and
    ``message.received``."""
    now = now or utcnow()
    number = contacts.normalise_inbound(sms.from_, channel.default_region or config.default_country())
    for _ in range(3):
        try:
            conv, _v, outcome, msg = _open_for(
                channel,
                number,
                now,
                message_for=lambda cid: inbound_message(channel, sms, number, cid),
                change=lambda c, m: _arrive(channel, with_inbound(c, m) if m else c, now),
            )
        except _Duplicate:
            existing = messages_repo.get(inbound_message_id(sms.provider, sms.provider_id))
            if existing is None:
                continue  # deleted meanwhile: record it afresh
            stored = messages_repo.split(existing)[0]
            got = repo.get(stored.conversation_id or "")
            if got is None:
                continue
            return InboundResult(got[0], stored, created=False, reopened=False, duplicate=True)
        assert msg is not None
        queueing.enqueued(conv, channel, now=now)
        assignee_id = conv.assignee_id
        if conv.queue_state() == "waiting" and channel.queue.strategy != "manual":
            assignee_id = queueing.dispatch_quietly([channel.id], now=now).get(conv.id)
        # One batch after routing: message.received says whose conversation it is once the queue offered
        # it (assignee_id; conversation.assigned is published by the dispatch itself).
        batch: list[tuple[str, dict[str, Any]]] = []
        if outcome == "create":
            batch.append(("conversation.created", conversation_event(conv, at=now, by=None)))
        elif outcome == "reopen":
            batch.append(("conversation.reopened", conversation_event(conv, at=now, by=None)))
        if conv.queue_state() == "overflow" and conv.overflow_at == now:
            batch.append(("interaction.overflowed", conversation_event(conv, at=now, by=None)))
        received = messages.status_event(msg, "received", None) | {"assignee_id": assignee_id}
        batch.append(("message.received", received))
        _publish(batch)
        return InboundResult(conv, msg, created=outcome == "create", reopened=outcome == "reopen", duplicate=False)
    raise RuntimeError(f"inbound {sms.provider}/{sms.provider_id}: its conversation keeps disappearing")


def set_ooh_replied(conversation_id: str, day: dt.date, message_id: str) -> bool:
    """Claim ``day``'s out-of-hours reply of a conversation for the inbound ``message_id``: True only
    for the first message per day (a conditional write, so concurrent inbounds send one reply), and
    again for that message's retries (so a retry finishes a reply a crashed attempt had claimed)."""
    return repo.set_ooh_replied(conversation_id, day, message_id)


def get(conversation_id: str) -> Conversation | None:
    got = repo.get(conversation_id)
    return got[0] if got else None


# --------------------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------------------


def _load(caller: Caller, conversation_id: str) -> tuple[Conversation, int, Channel]:
    """The conversation, its version and channel if ``caller`` may use the channel; 404 otherwise
    (a conversation of a channel you cannot use does not exist for you)."""
    got = repo.get(conversation_id)
    if got is not None:
        conv, version = got
        channel = channels.get_channel(conv.channel_id)
        if caller.is_admin or access.may_use(caller.role, teams_repo.user_team_ids(caller.user_id), channel.team_ids):
            return conv, version, channel
    raise NotFound(f"conversation {conversation_id} not found", field="conversation_id")


# --------------------------------------------------------------------------------------------------
# Agent actions (version-conditioned)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Change:
    conv: Conversation
    events: list[tuple[str, dict[str, Any]]]
    extra: list[dict[str, Any]] = field(default_factory=list)
    #: index in the transaction (1 = first extra item) → the error its failed condition means (or a
    #: function that finds out which after the fact; None: it no longer fails, try again)
    errors: dict[int, AppError | Callable[[], AppError | None]] = field(default_factory=dict)


def _not_receivable(user_id: str, profile: dict[str, Any] | None) -> AppError | None:
    """Why ``user_id`` cannot receive a conversation now (None: they can): unavailable, or at their
    capacity (max open conversations; issue 6)."""
    if profile is None or not profile.get("available"):
        return UserUnavailable(f"user {user_id} is not available", field="user_id")
    agent = queueing.Agent.from_profile({"user_id": user_id, **profile})
    if not queueing.has_capacity(agent):
        return UserAtCapacity(
            f"user {user_id} has {agent.open_count} open conversations, their capacity is {agent.capacity}",
            field="user_id",
            details={"capacity": agent.capacity, "open_count": agent.open_count},
        )
    return None


_Guard = tuple[list[dict[str, Any]], dict[int, AppError | Callable[[], AppError | None]]]


def receiver_guard(user_id: str, profile: dict[str, Any], channel: Channel) -> _Guard:
    """Checks of a colleague receiving a conversation (assign, transfer): may use the channel (422
    ``cannot_assign``), available (409 ``user_unavailable``), below capacity (409 ``user_at_capacity``).
    Returns the ``extra`` items and ``errors`` of the :class:`_Change`: the write re-checks availability and
    capacity in the same transaction as it moves their load."""
    if not access.may_use(profile.get("role", "agent"), set(profile.get("team_ids") or []), channel.team_ids):
        raise CannotAssign(f"user {user_id} may not use channel {channel.id}", field="user_id")
    error = _not_receivable(user_id, profile)
    if error is not None:
        raise error

    def why() -> AppError | None:
        return _not_receivable(user_id, users_repo.get_profile(user_id))  # None: it changed back, retry

    return [users_repo.require_available(user_id, below_capacity=True)], {1: why}


def _cas(caller: Caller, conversation_id: str, step: Callable[[Conversation, Channel], _Change | None]) -> Conversation:
    for attempt in range(_MAX_ATTEMPTS):
        conv, version, channel = _load(caller, conversation_id)
        change = step(conv, channel)
        if change is None:
            return conv
        try:
            items = [repo.put(change.conv, version=version), *change.extra]
            repo.transact(queue_repo.with_counters(items, conv, change.conv))
        except repo.TransactionCanceled as exc:
            for index, error in change.errors.items():
                if index < len(exc.reasons) and exc.reasons[index] == "ConditionalCheckFailed":
                    found = error if isinstance(error, AppError) else error()
                    if found is not None:
                        raise found from exc
            _backoff(attempt)
            continue
        _publish(change.events)
        queueing.left(conv, change.conv, now=utcnow())  # issue 6: its place may admit one from outside
        return change.conv
    raise Conflict(f"conversation {conversation_id} is changing too quickly; retry")


def assign(caller: Caller, conversation_id: str, user_id: str) -> Conversation:
    """Assign to a colleague (:func:`receiver_guard`: may use the channel, available, below capacity;
    409 ``conversation_closed``). Availability and capacity are re-checked in the write."""
    now = utcnow()
    profile = users_repo.get_profile(user_id)
    if profile is None:
        raise CannotAssign(f"user {user_id} does not exist", field="user_id")

    def step(conv: Conversation, channel: Channel) -> _Change | None:
        if conv.status != "open":
            raise ConversationClosed(f"conversation {conv.id} is closed; reopen it first", field="conversation_id")
        if conv.assignee_id == user_id:
            return None
        extra, errors = receiver_guard(user_id, profile, channel)
        new = conv.model_copy(update={"assignee_id": user_id, "bot_id": None, "bot_run_id": None})  # stops a bot
        detail = conversation_event(new, at=now, by=caller.user_id, previous_assignee_id=conv.assignee_id)
        return _Change(new, [("conversation.assigned", detail)], extra=extra, errors=errors)

    return _cas(caller, conversation_id, step)


def unassign(caller: Caller, conversation_id: str) -> Conversation:
    now = utcnow()

    def step(conv: Conversation, _channel: Channel) -> _Change | None:
        if conv.status != "open":
            raise ConversationClosed(f"conversation {conv.id} is closed", field="conversation_id")
        if conv.assignee_id is None:
            return None
        new = conv.model_copy(update={"assignee_id": None})
        detail = conversation_event(new, at=now, by=caller.user_id, previous_assignee_id=conv.assignee_id)
        return _Change(new, [("conversation.unassigned", detail)])

    before = get(conversation_id)
    conv = _cas(caller, conversation_id, step)
    if before is not None and before.assignee_id and conv.assignee_id is None:
        queueing.on_agent_freed(before.assignee_id, now=now)  # issue 6: freed capacity
    return conv


def close(caller: Caller, conversation_id: str) -> Conversation:
    """Close (idempotent). The pointer is marked closed in the same transaction, which starts the
    reopen window."""
    now = utcnow()

    def step(conv: Conversation, _channel: Channel) -> _Change | None:
        if conv.status == "closed":
            return None
        new = closed(conv, caller.user_id, now)
        return _Change(
            new,
            [("conversation.closed", conversation_event(new, at=now, by=caller.user_id))],
            extra=[repo.pointer_close(conv.channel_id, conv.number, conv.id, now)],
        )

    before = get(conversation_id)
    conv = _cas(caller, conversation_id, step)
    if before is not None and before.status == "open" and before.arrived_at and before.answered_at is None:
        stats.record(conv, "abandoned", now)  # issue 6: closed before an agent answered
        queueing.left_queue(conv.id)
    queueing.on_agent_freed(conv.assignee_id, now=now)  # issue 6: freed capacity
    return conv


def reopen(caller: Caller, conversation_id: str) -> Conversation:
    """Reopen (idempotent); 409 ``conversation_open_exists`` if another conversation with the number
    is open on the channel."""
    now = utcnow()

    def step(conv: Conversation, _channel: Channel) -> _Change | None:
        if conv.status == "open":
            return None
        pointer = repo.get_pointer(conv.channel_id, conv.number)
        if pointer is not None and pointer.open and pointer.conversation_id != conv.id:
            raise OpenConversationExists(
                f"conversation {pointer.conversation_id} is open for this number; close it first",
                field="conversation_id",
                details={"open_conversation_id": pointer.conversation_id},
            )
        new = reopened(conv, now)
        return _Change(
            new,
            [("conversation.reopened", conversation_event(new, at=now, by=caller.user_id))],
            extra=[repo.pointer_open(conv.channel_id, conv.number, conv.id, expected=pointer)],
        )

    return _cas(caller, conversation_id, step)


def delete(caller: Caller, conversation_id: str) -> int:
    """Delete for good (owner only): returns the number of messages removed.

    1. one transaction replaces the conversation with a tombstone (out of every view, 404 for reads)
       and removes the (channel, number) pointer if it names this conversation, so a later inbound
       starts a fresh conversation at once;
    2. the messages (and their provider-id mappings) are batch-deleted through the conversation's
       message index;
    3. the tombstone is removed. If 2 or 3 fail, the DELETE fails and a repeated DELETE resumes from
       the tombstone, so nothing stays half-deleted unnoticed.
    """
    caller.require_owner()
    conv: Conversation | None = None
    for attempt in range(_MAX_ATTEMPTS):
        got = repo.get(conversation_id)
        if got is None:
            conv = repo.get_tombstone(conversation_id)
            if conv is None:
                raise NotFound(f"conversation {conversation_id} not found", field="conversation_id")
            break
        current, version = got
        pointer = repo.get_pointer(current.channel_id, current.number)
        items = queue_repo.with_counters([repo.tombstone(current, version=version)], current, None)
        if pointer is not None and pointer.conversation_id == current.id:
            items.append(repo.pointer_delete(current.channel_id, current.number, current.id))
        try:
            repo.transact(items)
        except repo.TransactionCanceled:
            _backoff(attempt)
            continue
        conv = current
        break
    if conv is None:
        raise Conflict(f"conversation {conversation_id} is changing too quickly; retry")
    removed = 0
    for _ in range(10_000):
        keys = repo.message_keys(conv.id)
        if not keys:
            break
        doomed = [(pk, sk) for pk, sk, _, _ in keys]
        doomed += [(f"PROVIDER#{p}#{pid}", "MSG") for _, _, p, pid in keys if p and pid]
        repo.batch_delete(doomed)
        removed += len(keys)
    repo.delete_tombstone(conv.id)
    now = utcnow()
    _publish([("conversation.deleted", conversation_event(conv, at=now, by=caller.user_id, messages_deleted=removed))])
    if conv.status == "open":
        if conv.answered_at is None:
            stats.record(conv, "abandoned", now)  # issue 6: deleted before an agent answered
        queueing.left(conv, None, now=now)  # issue 6: its place in the queue
        queueing.on_agent_freed(conv.assignee_id, now=now)  # issue 6: freed capacity
    return removed


# --------------------------------------------------------------------------------------------------
# Replies and new conversations (through the send pipeline)
# --------------------------------------------------------------------------------------------------


def record_outbound(conversation_id: str, msg: Message) -> Conversation | None:
    """Record an outbound message's activity (last activity, preview; an agent's first reply marks
    it answered) on its conversation, retried on conflicts. Replies and starts call it; system
    auto-replies may too. None if the conversation is gone."""
    for attempt in range(_MAX_ATTEMPTS):
        got = repo.get(conversation_id)
        if got is None:
            logger.warning("outbound for a missing conversation", extra={"conversation_id": conversation_id})
            return None
        conv, version = got
        new = with_outbound(conv, msg)
        if new == conv:
            return conv
        try:
            repo.write(conv, new, version=version)
        except repo.TransactionCanceled:
            _backoff(attempt)
            continue
        if conv.answered_at is None and new.answered_at is not None and new.arrived_at is not None:
            stats.record(new, "answered", new.answered_at)  # issue 6: service level
            queueing.left_queue(new.id)
            queueing.left(conv, new, now=utcnow())
        return new
    raise RuntimeError(f"conversation {conversation_id}: too many concurrent updates")


def reply(
    caller: Caller, conversation_id: str, text: str, *, idempotency_key: str | None, lambda_context: Any = None
) -> Message:
    """``POST /v1/conversations/{id}/messages``: 422 ``one_way_channel``, 409 ``conversation_closed``,
    then every check of a send (lists, length, credits)."""
    conv, _version, channel = _load(caller, conversation_id)
    if not channel.can_reply:
        raise OneWayChannel(f"channel {channel.id} is one-way: replies are not possible", field="conversation_id")
    if conv.status != "open":
        raise ConversationClosed(f"conversation {conv.id} is closed; reopen it first", field="conversation_id")
    req = SendRequest(channel_id=channel.id, to=conv.number, text=text)
    msg = messages.send(
        caller, req, idempotency_key=idempotency_key, lambda_context=lambda_context, conversation_id=conv.id
    )
    record_outbound(conv.id, msg)
    return msg


def start(
    caller: Caller,
    channel_id: str,
    to: str,
    text: str,
    *,
    idempotency_key: str | None,
    lambda_context: Any = None,
) -> tuple[Conversation, Message, bool]:
    """``POST /v1/conversations``: the open conversation with ``to`` on the channel (or the latest one
    reopened within the window, or a new one), assigned to the caller when unassigned, and the first
    message sent in it. Returns (conversation, message, created). Every send check runs before anything
    is written; if the send still fails (credits spent meanwhile) a conversation created here is removed."""
    channel = access.require_channel(caller, channel_id)
    if not channel.can_reply:
        raise OneWayChannel(f"channel {channel.id} is one-way: it cannot hold conversations", field="channel_id")
    probe = messages.build(caller, channel, SendRequest(channel_id=channel.id, to=to, text=text))
    now = utcnow()

    def claim(conv: Conversation, _msg: Message | None) -> Conversation:
        return conv if conv.assignee_id else conv.model_copy(update={"assignee_id": caller.user_id})

    conv, version, outcome, _ = _open_for(channel, probe.to, now, message_for=None, change=claim)
    req = SendRequest(channel_id=channel.id, to=probe.to, text=text)
    try:
        msg = messages.send(
            caller, req, idempotency_key=idempotency_key, lambda_context=lambda_context, conversation_id=conv.id
        )
    except AppError:
        if outcome == "create" and _discard(conv, version):
            raise
        _publish(_opened_events(conv, outcome, caller, now))
        raise
    _publish(_opened_events(conv, outcome, caller, now))
    return record_outbound(conv.id, msg) or conv, msg, outcome == "create"


def _opened_events(conv: Conversation, outcome: Outcome, caller: Caller, now: dt.datetime) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if outcome == "create":
        out.append(("conversation.created", conversation_event(conv, at=now, by=caller.user_id)))
    elif outcome == "reopen":
        out.append(("conversation.reopened", conversation_event(conv, at=now, by=caller.user_id)))
    if conv.assignee_id == caller.user_id:
        out.append(("conversation.assigned", conversation_event(conv, at=now, by=caller.user_id)))
    return out


def _discard(conv: Conversation, version: int) -> bool:
    """Remove a conversation this request just created, unless someone used it meanwhile."""
    try:
        repo.transact(
            queue_repo.with_counters(
                [repo.tombstone(conv, version=version), repo.pointer_delete(conv.channel_id, conv.number, conv.id)],
                conv,
                None,
            )
        )
    except repo.TransactionCanceled:
        return False
    repo.delete_tombstone(conv.id)
    return True


# --------------------------------------------------------------------------------------------------
# Reading: one conversation, the inbox views
# --------------------------------------------------------------------------------------------------


class ConversationDetail(Conversation):
    contact: Contact | None = None
    messages: list[Message] = Field(description="Oldest first: inbound and outbound, with delivery status")
    messages_cursor: str | None = Field(
        default=None, description="Pass as ?before= for the older messages; null: this is the beginning"
    )


class ConversationPage(BaseModel):
    model_config = ConfigDict(defer_build=True)
    items: list[Conversation]
    cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page; null: last page")


def detail(caller: Caller, conversation_id: str, *, limit: int = 100, before: str | None = None) -> ConversationDetail:
    """The conversation with its latest ``limit`` messages in order (``before``: older ones)."""
    conv, _version, _channel = _load(caller, conversation_id)
    items, last = repo.page(
        index="GSI3",
        pk=f"CONV#{conv.id}",
        limit=limit,
        start=decode_position(before, "k", field="before"),
        cursor_field="before",
    )
    msgs = [messages_repo.split(i)[0] for i in reversed(items)]
    return ConversationDetail(
        **conv.model_dump(),
        contact=contacts_repo.get(conv.contact_id),
        messages=msgs,
        messages_cursor=encode_position("k", last) if last else None,
    )


def _all_channel_ids() -> list[str]:
    out: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = channels.list_channels(None, limit=100, cursor=cursor)
        out.extend(c.id for c in page)
        if not cursor:
            return out


_STATE = {"unassigned": "unassigned", "others": "assigned", "closed": "closed"}


def list_view(
    caller: Caller, view: View, *, channel_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> ConversationPage:
    """An inbox view, most recent activity first, only channels the caller may use.

    * ``mine``: one query on the caller's assignee index (GSI2), filtered to usable channels;
    * ``unassigned`` / ``others`` (assigned to someone else) / ``closed``: one query per usable channel
      on its view partition (GSI1), merged; the cursor keeps a position per channel.
    """
    if channel_id is not None:
        allowed: set[str] | None = {access.require_channel(caller, channel_id).id}
    else:
        allowed = access.usable_channel_ids(caller)
    if allowed is not None and not allowed:
        return ConversationPage(items=[])
    if view == "mine":
        items, last = repo.page(
            index="GSI2",
            pk=f"ASSIGNEE#{caller.user_id}",
            limit=limit,
            start=decode_position(cursor, "k"),
            channel_ids=allowed,
        )
        return ConversationPage(
            items=[repo.from_item(i) for i in items], cursor=encode_position("k", last) if last else None
        )
    state = _STATE[view]
    not_me = caller.user_id if view == "others" else None
    ids_ = sorted(allowed) if allowed is not None else _all_channel_ids()
    positions: dict[str, Any] = decode_position(cursor, "c") or {cid: None for cid in ids_}
    merged: list[tuple[str, dict[str, Any]]] = []
    exhausted: dict[str, bool] = {}
    for cid in ids_:
        if cid not in positions:
            continue  # exhausted on an earlier page
        items, last = repo.page(
            index="GSI1", pk=f"VIEW#{cid}#{state}", limit=limit, start=positions[cid], not_assignee=not_me
        )
        exhausted[cid] = last is None
        merged.extend((cid, i) for i in items)
    merged.sort(key=lambda ci: ci[1]["GSI1SK"], reverse=True)
    taken = merged[:limit]
    new_pos: dict[str, Any] = {}
    for cid, done in exhausted.items():
        mine = [i for c, i in taken if c == cid]
        left = sum(1 for c, _ in merged if c == cid) - len(mine)
        if left or not done:
            new_pos[cid] = repo.raw_key(mine[-1], "GSI1") if mine else positions[cid]
    return ConversationPage(
        items=[repo.from_item(i) for _, i in taken], cursor=encode_position("c", new_pos) if new_pos else None
    )


def list_for_number(caller: Caller, number: str, *, limit: int = 50, cursor: str | None = None) -> ConversationPage:
    """A customer number's conversations on every channel the caller may use, in every state, most
    recent activity first (one query of the number's GSI4 partition, filtered to usable channels)."""
    allowed = access.usable_channel_ids(caller)
    if allowed is not None and not allowed:
        return ConversationPage(items=[])
    items, last = repo.page(
        index="GSI4",
        pk=repo.number_partition(number),
        limit=limit,
        start=decode_position(cursor, "k"),
        channel_ids=allowed,
    )
    return ConversationPage(
        items=[repo.from_item(i) for i in items], cursor=encode_position("k", last) if last else None
    )
