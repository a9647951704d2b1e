"""Service level of a channel's queue (issue 6).

An interaction (a conversation's wait from its arrival, ``arrived_at``: entering the queue, or the
overflow when the queue was full) is *answered* when an agent first replies (wait = answered_at −
arrived_at), *abandoned* when closed or deleted before that, and
*timed out* when the queue timeout marked it. Compliance = answered within the channel's service
level / (answered + abandoned). Outcomes are recorded when they happen (:mod:`smsdesk.data.stats`),
and a window selects interactions by when they arrived.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.data import bots as bots_repo
from smsdesk.data import stats as repo
from smsdesk.errors import ValidationError
from smsdesk.models import Channel, Conversation
from smsdesk.observability import logger

MAX_WINDOW = dt.timedelta(days=31)


class CsatStats(BaseModel):
    """Satisfaction ratings (1-5) received by finish bots' csat steps, since the channel's first survey."""

    model_config = ConfigDict(defer_build=True)

    user_id: str | None = Field(default=None, description="The agent who closed (null: the whole channel)")
    asked: int
    answered: int
    average: float | None = Field(description="Mean rating; null: no answer yet")
    response_rate_pct: float | None = Field(description="answered / asked; null: none asked")


class ChannelStats(BaseModel):
    model_config = ConfigDict(defer_build=True)
    channel_id: str
    start: dt.datetime = Field(description="Window start (interactions enqueued from here)")
    end: dt.datetime = Field(description="Window end (exclusive)")
    service_level_s: int
    compliance_pct: float | None = Field(description="Answered within the level / (answered + abandoned); null: none")
    waiting_now: int = Field(description="Enqueued and not answered yet (assigned or not)")
    unassigned_now: int = Field(description="Waiting and not assigned to anyone")
    max_in_queue: int = Field(description="The channel's queue cap (0 = no limit)")
    overflow_now: int = Field(
        description="Waiting outside the full queue (not in waiting_now); they enter in arrival order"
    )
    answered: int
    answered_within_level: int
    abandoned: int
    timed_out: int
    avg_wait_s: float | None = Field(description="Of answered interactions")
    p90_wait_s: float | None = Field(description="Of answered interactions (nearest rank)")
    csat: CsatStats | None = Field(default=None, description="Finish bots' surveys (issue 15); null: none sent")
    csat_by_agent: list[CsatStats] = Field(default_factory=list, description="The same per agent who closed")


def csat_summary(items: Iterable[dict[str, Any]]) -> tuple[CsatStats | None, list[CsatStats]]:
    """The channel's and each agent's CSAT from the counters (``data.bots.csat``); pure."""
    total: CsatStats | None = None
    agents: list[CsatStats] = []
    for item in items:
        asked, answered, sum_ = int(item.get("asked") or 0), int(item.get("answered") or 0), int(item.get("total") or 0)
        sk = str(item.get("SK", ""))
        c = CsatStats(
            user_id=sk.removeprefix("AGENT#") if sk.startswith("AGENT#") else None,
            asked=asked,
            answered=answered,
            average=round(sum_ / answered, 2) if answered else None,
            response_rate_pct=round(100 * min(answered, asked) / asked, 2) if asked else None,
        )
        if sk == "ALL":
            total = c
        elif c.user_id:
            agents.append(c)
    return total, sorted(agents, key=lambda a: a.user_id or "")


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def summarize(outcomes: Iterable[dict[str, Any]], service_level_s: int) -> dict[str, Any]:
    """Counts, compliance and waits from outcome records (``kind``, ``wait_s``); pure."""
    waits: list[float] = []
    abandoned = timed_out = 0
    for o in outcomes:
        if o["kind"] == "answered":
            waits.append(float(o["wait_s"]))
        elif o["kind"] == "abandoned":
            abandoned += 1
        elif o["kind"] == "timed_out":
            timed_out += 1
    within = sum(1 for w in waits if w <= service_level_s)
    base = len(waits) + abandoned
    return {
        "answered": len(waits),
        "answered_within_level": within,
        "abandoned": abandoned,
        "timed_out": timed_out,
        "compliance_pct": round(100 * within / base, 2) if base else None,
        "avg_wait_s": round(sum(waits) / len(waits), 3) if waits else None,
        "p90_wait_s": p90(waits),
    }


def window(start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The requested window (default: the last 24 h), at most 31 days, ``from`` before ``to``."""
    end = end or now
    start = start or end - dt.timedelta(days=1)
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("from and to need a time zone (e.g. 2026-01-01T00:00:00Z)", field="from")
    if start >= end:
        raise ValidationError("from must be before to", field="from")
    if end - start > MAX_WINDOW:
        raise ValidationError("the window may span at most 31 days", field="to")
    return start, end


def channel_stats(channel: Channel, start: dt.datetime, end: dt.datetime) -> ChannelStats:
    waiting, unassigned = repo.waiting_counts(channel.id)
    summary = summarize(repo.outcomes(channel.id, start, end), channel.queue.service_level_s)
    return ChannelStats(
        channel_id=channel.id,
        start=start,
        end=end,
        service_level_s=channel.queue.service_level_s,
        waiting_now=waiting,
        unassigned_now=unassigned,
        max_in_queue=channel.queue.max_in_queue,
        overflow_now=repo.overflow_count(channel.id),
        **summary,
        **dict(zip(("csat", "csat_by_agent"), csat_summary(bots_repo.csat(channel.id)), strict=True)),
    )


def record(conv: Conversation, kind: str, at: dt.datetime) -> None:
    """Record an interaction's outcome (no-op if it never entered the queue). Called after the
    change committed; a failure is logged, never raised (the agent's action succeeded)."""
    arrived = conv.arrived_at
    if arrived is None:
        return
    try:
        repo.put_outcome(conv.channel_id, conv.id, arrived, kind, (at - arrived).total_seconds())
    except Exception:
        logger.exception("could not record a queue outcome", extra={"conversation_id": conv.id, "kind": kind})


def record_timed_out(conv: Conversation, at: dt.datetime) -> None:
    """For the queue-timeout action (Engineer G): count the interaction as timed out."""
    record(conv, "timed_out", at)
