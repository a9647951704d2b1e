"""The contact-center queue (issue 6): who gets the next waiting conversation of a channel.

* A conversation is *enqueued* when an inbound opens (or re-opens) it unassigned: ``enqueued_at``
  puts it in the channel's queue index, oldest first, until it is answered or closed.
* :func:`dispatch` offers the oldest waiting conversations, one at a time, to the best eligible agent
  (available, below capacity, member of a team granted the channel) by the channel's strategy.
  ``manual`` channels are never dispatched: anyone may pick.
* Max interactions in queue (``max_in_queue``, 0 = no limit): a new interaction that finds the queue
  full, or others already waiting outside it, waits in the channel's *overflow* (``overflow_at``;
  still in the Unassigned view, so nobody is lost). :func:`admit` moves the oldest overflow ones into
  the queue as space frees; it runs at the start of every :func:`dispatch` and after each assignment,
  and every change that takes a conversation out of the queue (assign, answer, close, delete) calls
  :func:`dispatch_quietly`. The cap is a condition of the admitting transaction (the size counters in
  :mod:`smsdesk.data.queueing`), so concurrent inbounds never exceed it. A bot handing a conversation
  off (issue 15) is admitted by the same rule (:func:`handed_off`, :func:`after_handoff`).
* Waits (service level, max time in queue) count from arrival (:attr:`Conversation.arrived_at`),
  the overflow included: the customer waited all the same.
* Each assignment is ONE transaction: the conversation (conditioned on its version, so two dispatchers
  never both assign it), the agent's ``open_count`` +1 (conditioned on available and
  ``open_count < capacity``) and the round-robin mark; a lost race re-reads and tries again.

The rules (:func:`eligible`, :func:`pick`, :func:`enqueue`) are pure and take ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import channels, events
from smsdesk.data import channels as channels_repo
from smsdesk.data import conversations as conv_repo
from smsdesk.data import queueing as repo
from smsdesk.data import teams as teams_repo
from smsdesk.data import users as users_repo
from smsdesk.inbox import timers
from smsdesk.models import Channel, Conversation, Strategy, iso
from smsdesk.observability import logger

_MAX_ROUNDS = 50


@dataclass(frozen=True)
class Agent:
    """What distribution needs to know of a user."""

    user_id: str
    available: bool
    capacity: int = 0  #: 0 = no limit
    open_count: int = 0
    last_assigned_at: dt.datetime | None = None

    @classmethod
    def from_profile(cls, profile: dict[str, Any]) -> Agent:
        last = profile.get("last_assigned_at")
        return cls(
            user_id=profile["user_id"],
            available=bool(profile.get("available")),
            capacity=int(profile.get("capacity") or 0),
            open_count=max(0, int(profile.get("open_count") or 0)),
            last_assigned_at=dt.datetime.fromisoformat(last.replace("Z", "+00:00")) if last else None,
        )


# --------------------------------------------------------------------------------------------------
# Pure rules
# --------------------------------------------------------------------------------------------------


def has_capacity(agent: Agent) -> bool:
    return agent.capacity == 0 or agent.open_count < agent.capacity


def eligible(agents: Sequence[Agent]) -> list[Agent]:
    """Agents who may receive a conversation now: available and below capacity (the caller passes
    only members of teams granted the channel)."""
    return [a for a in agents if a.available and has_capacity(a)]


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def pick(strategy: Strategy, agents: Sequence[Agent], *, last_rr: str | None = None) -> Agent | None:
    """The agent the strategy offers the next conversation to (None: no one qualifies, or manual).

    * ``round_robin``: the next eligible user id after the last one dispatched to (wrapping);
    * ``least_busy``: fewest open conversations, then longest idle;
    * ``longest_idle``: longest since their last queue assignment (never assigned first), then fewest open.
    Ties end on the user id, so the choice is deterministic."""
    pool = eligible(agents)
    if strategy == "manual" or not pool:
        return None
    if strategy == "round_robin":
        ordered = sorted(pool, key=lambda a: a.user_id)
        after = [a for a in ordered if last_rr is not None and a.user_id > last_rr]
        return after[0] if after else ordered[0]
    if strategy == "least_busy":
        return min(pool, key=lambda a: (a.open_count, a.last_assigned_at or _EPOCH, a.user_id))
    return min(pool, key=lambda a: (a.last_assigned_at or _EPOCH, a.open_count, a.user_id))


def starts_interaction(conv: Conversation) -> bool:
    """Whether an inbound on ``conv`` starts a new interaction: it is open, unassigned and not waiting
    yet (new, reopened, or answered before and since unassigned). A waiting one keeps its place."""
    if conv.status != "open" or conv.assignee_id is not None:
        return False
    return conv.arrived_at is None or conv.answered_at is not None


def enqueue(conv: Conversation, now: dt.datetime, *, full: bool = False) -> Conversation:
    """The new interaction of an inbound at ``now`` (see :func:`starts_interaction`; otherwise ``conv``
    unchanged): in the queue, or in the overflow when the queue is ``full``."""
    if not starts_interaction(conv):
        return conv
    reset = {"answered_at": None, "answered_by": None, "timed_out_at": None}
    if full:
        return conv.model_copy(update={"enqueued_at": None, "overflow_at": now, **reset})
    return conv.model_copy(update={"enqueued_at": now, "overflow_at": None, **reset})


def admitted(conv: Conversation, now: dt.datetime) -> Conversation | None:
    """An overflow conversation entering the queue at ``now`` (None if it no longer waits outside)."""
    if conv.queue_state() != "overflow":
        return None
    return conv.model_copy(update={"enqueued_at": now})


def handed_off(conv: Conversation, *, full: bool) -> Conversation:
    """``conv`` given back by the bot that had it (issue 15: a handoff, or the end of an on-start or
    after-timeout run). Its interaction goes through the same admission as an inbound's: into the
    queue at its arrival time, or, when the queue is ``full`` (:func:`full`), outside it from its
    arrival (``overflow_at``), to enter in arrival order as space frees. Pure."""
    new = conv.model_copy(update={"bot_id": None, "bot_run_id": None})
    arrived = conv.arrived_at
    if not full or arrived is None or new.queue_state() != "waiting":
        return new
    return new.model_copy(update={"enqueued_at": None, "overflow_at": arrived})


def full(max_in_queue: int, waiting: int, overflow: int) -> bool:
    """Whether a new interaction must wait outside the queue: the cap is reached, or others already
    wait outside (they go first). 0 = no limit."""
    return max_in_queue > 0 and (waiting >= max_in_queue or overflow > 0)


# --------------------------------------------------------------------------------------------------
# The queue as a supervisor sees it
# --------------------------------------------------------------------------------------------------


class QueueEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)
    position: int = Field(description="1 = next (in the queue: next to be offered; outside: next to enter)")
    conversation_id: str
    contact_id: str
    number: str
    arrived_at: dt.datetime
    enqueued_at: dt.datetime | None = Field(description="Entered the queue (null: still outside it)")
    waited_s: float = Field(description="Since arrival, outside the queue included")
    timed_out_at: dt.datetime | None = None
    last_message_preview: str | None = None


class QueueView(BaseModel):
    model_config = ConfigDict(defer_build=True)
    channel_id: str
    strategy: Strategy
    max_in_queue: int = Field(description="0 = no limit")
    waiting: list[QueueEntry] = Field(description="In the queue, unassigned, oldest first")
    overflow: list[QueueEntry] = Field(description="Outside the full queue, in arrival order: they enter first to last")


def entries(convs: Sequence[Conversation], now: dt.datetime) -> list[QueueEntry]:
    """Conversations in queue order → positions and waits (pure)."""
    out = []
    for position, conv in enumerate(convs, start=1):
        arrived = conv.arrived_at or conv.created_at
        out.append(
            QueueEntry(
                position=position,
                conversation_id=conv.id,
                contact_id=conv.contact_id,
                number=conv.number,
                arrived_at=arrived,
                enqueued_at=conv.enqueued_at,
                waited_s=round(max(0.0, (now - arrived).total_seconds()), 3),
                timed_out_at=conv.timed_out_at,
                last_message_preview=conv.last_message_preview,
            )
        )
    return out


def view(channel: Channel, *, now: dt.datetime, limit: int = 50) -> QueueView:
    """The channel's queue and overflow, oldest first (at most ``limit`` of each; two index reads)."""
    waiting = [conv_repo.from_item(i) for i in repo.waiting(channel.id, limit=limit)]
    outside = [conv_repo.from_item(i) for i in repo.overflow(channel.id, limit=limit)]
    return QueueView(
        channel_id=channel.id,
        strategy=channel.queue.strategy,
        max_in_queue=channel.queue.max_in_queue,
        waiting=entries([c for c in waiting if c.queue_state() == "waiting"], now),
        overflow=entries([c for c in outside if c.queue_state() == "overflow"], now),
    )


# --------------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------------


def _members(channel: Channel) -> list[Agent]:
    ids: set[str] = set()
    for team_id in channel.team_ids:
        ids.update(teams_repo.member_ids(team_id))
    profiles = users_repo.get_profiles(sorted(ids)) if ids else []
    return sorted((Agent.from_profile(p) for p in profiles if p.get("user_id")), key=lambda a: a.user_id)


def is_full(channel: Channel) -> bool:
    """:func:`full` from the channel's stored counters (no read when there is no limit)."""
    if channel.queue.max_in_queue <= 0:
        return False
    return full(channel.queue.max_in_queue, *repo.size(channel.id))


def admit(channel: Channel, *, now: dt.datetime) -> int:
    """Move the oldest conversations waiting outside the queue into it while there is space; returns
    how many entered. Each entry is one transaction held to ``waiting < max_in_queue``."""
    cap = channel.queue.max_in_queue
    entered = 0
    tried: set[str] = set()  # the index may lag behind a write: never retry the same one in a call
    for _ in range(_MAX_ROUNDS):
        items = [i for i in repo.overflow(channel.id, limit=len(tried) + 1) if i["id"] not in tried]
        if not items or (cap > 0 and repo.size(channel.id)[0] >= cap):
            return entered
        tried.add(items[0]["id"])
        got = conv_repo.get(items[0]["id"])
        if got is None:
            continue
        conv, version = got
        new = admitted(conv, now)
        if new is None:
            continue  # admitted or taken meanwhile, the index lagged: the next one
        try:
            conv_repo.transact(repo.with_counters([conv_repo.put(new, version=version)], conv, new, cap=cap))
        except conv_repo.TransactionCanceled:
            tried.discard(conv.id)  # changed meanwhile (read it again), or the queue filled up (checked above)
            continue
        entered += 1
        try:
            detail = events.conversation_detail(new, at=now, by=None, arrived_at=iso(conv.overflow_at))
            events.publish_many([("interaction.admitted", detail)])
        except Exception:
            logger.exception("could not publish interaction.admitted", extra={"conversation_id": new.id})
    logger.warning("admission stopped after too many rounds", extra={"channel_id": channel.id})
    return entered


def dispatch(channel_id: str, *, now: dt.datetime) -> dict[str, str]:
    """Admit waiting-outside conversations into the queue (:func:`admit`), then assign the queue's
    conversations, oldest first, while an eligible agent exists. Returns what it assigned
    (conversation id → user id). Safe to run concurrently (see the module docstring)."""
    channel = channels.get_channel(channel_id)
    admit(channel, now=now)
    assigned: dict[str, str] = {}
    if channel.queue.strategy == "manual" or not channel.team_ids:
        return assigned
    tried: set[str] = set()  # the index may lag behind a write: never re-read the same stale entry
    for _ in range(_MAX_ROUNDS):
        items = [i for i in repo.waiting(channel.id, limit=len(tried) + 1) if i["id"] not in tried]
        if not items:
            return assigned
        agent = pick(channel.queue.strategy, _members(channel), last_rr=repo.rr_last(channel.id))
        if agent is None:
            return assigned
        tried.add(items[0]["id"])
        got = conv_repo.get(items[0]["id"])
        if got is None:
            continue
        conv, version = got
        if conv.queue_state() != "waiting":
            continue  # assigned, answered or closed meanwhile, the index lagged: the next one
        new = conv.model_copy(update={"assignee_id": agent.user_id})
        try:
            conv_repo.transact(
                [
                    conv_repo.put(new, version=version),
                    repo.take(agent.user_id, now),
                    repo.rr_put(channel.id, agent.user_id),
                    *repo.size_delta(conv, new),
                ]
            )
        except conv_repo.TransactionCanceled:
            tried.discard(conv.id)  # a concurrent dispatcher or agent won: read both again
            continue
        assigned[new.id] = agent.user_id
        _published(new, now)
        left_queue(new.id)
        if channel.queue.max_in_queue > 0:
            admit(channel, now=now)  # the place it left (without a limit nobody waits outside)
    logger.warning("dispatch stopped after too many rounds", extra={"channel_id": channel_id})
    return assigned


def _published(conv: Conversation, now: dt.datetime) -> None:
    detail = events.conversation_detail(conv, at=now, by=None, previous_assignee_id=None, strategy="queue")
    try:
        events.publish_many([("conversation.assigned", detail)])
    except Exception:
        logger.exception("could not publish conversation.assigned", extra={"conversation_id": conv.id})


def dispatch_quietly(channel_ids: Sequence[str], *, now: dt.datetime) -> dict[str, str]:
    """Dispatch after a change that may let waiting conversations in (inbound, freed capacity, an
    agent available). The change itself is committed already, so a failure here is logged: the next
    trigger dispatches again. Returns what was assigned (conversation id → user id)."""
    assigned: dict[str, str] = {}
    for channel_id in channel_ids:
        try:
            assigned |= dispatch(channel_id, now=now)
        except Exception:
            logger.exception("dispatch failed", extra={"channel_id": channel_id})
    return assigned


def channels_of(user_id: str) -> list[str]:
    """The channels whose queues a user can receive from: those granted to one of their teams."""
    out: set[str] = set()
    for team_id in sorted(teams_repo.user_team_ids(user_id)):
        out.update(channels_repo.channel_ids_for_team(team_id))
    return sorted(out)


def on_agent_freed(user_id: str | None, *, now: dt.datetime) -> None:
    """An agent became available or gave back capacity: offer them waiting conversations."""
    if user_id:
        dispatch_quietly(channels_of(user_id), now=now)


def enqueued(conv: Conversation, channel: Channel, *, now: dt.datetime) -> None:
    """After a commit that started an interaction of ``conv`` at ``now`` (in the queue or outside it):
    arm its max-time-in-queue timer (the timer action re-checks that it still waits). Logged, never
    raised: the inbound is recorded."""
    if conv.arrived_at != now or conv.queue_state() is None or channel.queue.max_queue_time_s <= 0:
        return
    try:
        timers.schedule_queue_timeout(conv.id, now, channel.queue.max_queue_time_s, now=now)
    except Exception:
        logger.exception("could not arm the queue timeout", extra={"conversation_id": conv.id})


def after_handoff(before: Conversation, after: Conversation, channel: Channel, *, now: dt.datetime) -> None:
    """After a commit of :func:`handed_off` (``before`` with the bot, ``after`` without): arm the
    max-time-in-queue timer from its arrival (unless it timed out already), announce
    ``interaction.overflowed`` if it waits outside, and let the queue offer it (or admit it). Logged,
    never raised: the handoff is recorded."""
    state = after.queue_state()
    if state is None or after.arrived_at is None:
        return
    if after.timed_out_at is None and channel.queue.max_queue_time_s > 0:
        try:
            timers.schedule_queue_timeout(after.id, after.arrived_at, channel.queue.max_queue_time_s, now=now)
        except Exception:
            logger.exception("could not arm the queue timeout", extra={"conversation_id": after.id})
    if state == "overflow" and before.enqueued_at is not None:  # it had its place in the queue: now outside
        try:
            events.publish_many([("interaction.overflowed", events.conversation_detail(after, at=now, by=None))])
        except Exception:
            logger.exception("could not publish interaction.overflowed", extra={"conversation_id": after.id})
    dispatch_quietly([after.channel_id], now=now)


def left(before: Conversation | None, after: Conversation | None, *, now: dt.datetime) -> None:
    """After a commit from ``before`` to ``after``: if it took a conversation out of the queue, its place
    may admit one waiting outside (and the queue may be offered again)."""
    if before is not None and before.queue_state() == "waiting" and (after is None or after.queue_state() != "waiting"):
        dispatch_quietly([before.channel_id], now=now)


def left_queue(conversation_id: str) -> None:
    """An interaction stopped waiting (assigned by the queue, answered, closed): cancel its queue
    timer. Only tidiness: a timer that fires anyway re-checks and does nothing."""
    try:
        timers.cancel_for(timers.QUEUE_TIMEOUT, conversation_id)
    except Exception:
        logger.exception("could not cancel the queue timeout", extra={"conversation_id": conversation_id})
