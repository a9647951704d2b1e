"""The contact-center queue (issue 6): who gets the next waiting conversation of a channel.

* A conversation is *enqueued* when an inbound opens (or re-opens) it unassigned: ``enqueued_at``
  puts it in the channel's queue index, oldest first, until it is answered or closed.
* :func:`dispatch` offers the oldest waiting conversations, one at a time, to the best eligible agent
  (available, below capacity, member of a team granted the channel) by the channel's strategy.
  ``manual`` channels are never dispatched: anyone may pick.
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

from smsdesk import channels, events, timers
from smsdesk.data import channels as channels_repo
from smsdesk.data import conversations as conv_repo
from smsdesk.data import queueing as repo
from smsdesk.data import teams as teams_repo
from smsdesk.data import users as users_repo
from smsdesk.models import Channel, Conversation, Strategy
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


def enqueue(conv: Conversation, now: dt.datetime) -> Conversation:
    """An inbound on an open, unassigned conversation that is not waiting yet (new, reopened, or
    answered before and since unassigned) starts a new interaction in the queue at ``now``."""
    if conv.status != "open" or conv.assignee_id is not None:
        return conv
    if conv.enqueued_at is not None and conv.answered_at is None:
        return conv  # already waiting: keeps its place
    return conv.model_copy(update={"enqueued_at": now, "answered_at": None, "answered_by": None, "timed_out_at": None})


# --------------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------------


def _members(channel: Channel) -> list[Agent]:
    ids: set[str] = set()
    for team_id in channel.team_ids:
        ids.update(teams_repo.member_ids(team_id))
    out = []
    for user_id in sorted(ids):
        profile = users_repo.get_profile(user_id)
        if profile is not None:
            out.append(Agent.from_profile(profile))
    return out


def dispatch(channel_id: str, *, now: dt.datetime) -> int:
    """Assign the channel's waiting conversations, oldest first, while an eligible agent exists.
    Returns how many were assigned. Safe to run concurrently (see the module docstring)."""
    channel = channels.get_channel(channel_id)
    if channel.queue.strategy == "manual" or not channel.team_ids:
        return 0
    assigned = 0
    for _ in range(_MAX_ROUNDS):
        items = repo.waiting(channel.id, limit=1)
        if not items:
            return assigned
        agent = pick(channel.queue.strategy, _members(channel), last_rr=repo.rr_last(channel.id))
        if agent is None:
            return assigned
        got = conv_repo.get(items[0]["id"])
        if got is None:
            continue
        conv, version = got
        if conv.status != "open" or conv.assignee_id is not None:
            continue  # the index lagged: read again
        new = conv.model_copy(update={"assignee_id": agent.user_id})
        try:
            conv_repo.transact(
                [
                    conv_repo.put(new, version=version),
                    repo.take(agent.user_id, now),
                    repo.rr_put(channel.id, agent.user_id),
                ]
            )
        except conv_repo.TransactionCanceled:
            continue  # a concurrent dispatcher or agent won: re-read
        assigned += 1
        _published(new, now)
        left_queue(new.id)
    logger.warning("dispatch stopped after too many rounds", extra={"channel_id": channel_id})
    return assigned


def _published(conv: Conversation, now: dt.datetime) -> None:
    detail = events.conversation_detail(conv, at=now, by=None, previous_assignee_id=None, strategy="queue")
    try:
        events.publish_many([("conversation.assigned", detail)])
    except Exception:
        logger.exception("could not publish conversation.assigned", extra={"conversation_id": conv.id})


def dispatch_quietly(channel_ids: Sequence[str], *, now: dt.datetime) -> None:
    """Dispatch after a change that may let waiting conversations in (inbound, freed capacity, an
    agent available). The change itself is committed already, so a failure here is logged: the next
    trigger dispatches again."""
    for channel_id in channel_ids:
        try:
            dispatch(channel_id, now=now)
        except Exception:
            logger.exception("dispatch failed", extra={"channel_id": channel_id})


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
    """After a commit that enqueued ``conv`` at ``now``: arm its max-time-in-queue timer (the timer
    action re-checks that it still waits). Logged, never raised: the inbound is recorded."""
    if conv.enqueued_at != now or conv.answered_at is not None or channel.queue.max_queue_time_s <= 0:
        return
    try:
        timers.schedule_queue_timeout(conv.id, now, channel.queue.max_queue_time_s, now=now)
    except Exception:
        logger.exception("could not arm the queue timeout", extra={"conversation_id": conv.id})


def left_queue(conversation_id: str) -> None:
    """An interaction stopped waiting (assigned by the queue, answered, closed): cancel its queue
    timer. Only tidiness: a timer that fires anyway re-checks and does nothing."""
    try:
        timers.cancel_for(timers.QUEUE_TIMEOUT, conversation_id)
    except Exception:
        logger.exception("could not cancel the queue timeout", extra={"conversation_id": conversation_id})
