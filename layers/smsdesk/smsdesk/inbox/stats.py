"""Service level of a channel's queue (issue 6).

An interaction (a conversation's wait from its arrival, ``arrived_at``: entering the queue, or the
overflow when the queue was full) is *answered* when an agent first replies (wait = answered_at −
arrived_at), *abandoned* when closed or deleted before that, and
*timed out* when the queue timeout marked it. Compliance = answered within the channel's service
level / (answered + abandoned). Outcomes are recorded when they happen (:mod:`smsdesk.data.stats`),
and a window selects interactions by when they arrived.

CSAT (finish bots' surveys, issue 15) is summed over a period of UTC days (see "CSAT over a period"
below): ``GET /v1/channels/{id}/csat``, and the last 30 days in the channel's stats.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.data import bots as bots_repo
from smsdesk.data import stats as repo
from smsdesk.errors import ValidationError
from smsdesk.models import Channel, Conversation
from smsdesk.observability import logger

MAX_WINDOW = dt.timedelta(days=31)


# --------------------------------------------------------------------------------------------------
# CSAT over a period (issue 15)
# --------------------------------------------------------------------------------------------------
# Finish bots' satisfaction ratings, per channel and per closing agent. Counters are kept per UTC day
# (:mod:`smsdesk.data.bots`: ``asked``, ``answered``, ``total``). A survey counts on the day its run
# started (a finish bot's: the day the conversation was closed), its question and its answer alike,
# so a period's response rate never exceeds 100 % because an answer came in the day after. A period
# is whole UTC days, ``since`` to ``until`` inclusive, at most CSAT_MAX_DAYS; the default is the last
# CSAT_DEFAULT_DAYS days, today included.

CSAT_DEFAULT_DAYS = 30
CSAT_MAX_DAYS = 366


class CsatStats(BaseModel):
    """Satisfaction ratings (1-5) received by finish bots' csat steps over a period."""

    model_config = ConfigDict(defer_build=True)

    user_id: str | None = Field(default=None, description="The agent who closed (null: the whole channel)")
    asked: int
    answered: int
    average: float | None = Field(description="Mean rating; null: no answer yet")
    response_rate_pct: float | None = Field(description="answered / asked; null: none asked")


class CsatReport(BaseModel):
    model_config = ConfigDict(defer_build=True)
    channel_id: str
    since: dt.date = Field(description="First day of the period (UTC), included")
    until: dt.date = Field(description="Last day of the period (UTC), included")
    days: int = Field(description="Days in the period")
    csat: CsatStats = Field(description="The channel's surveys started in the period (asked 0: none)")
    by_agent: list[CsatStats] = Field(description="The same per agent who closed, by user id")


@dataclass(frozen=True)
class CsatPeriod:
    since: dt.date
    until: dt.date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


def _date(name: str, raw: str | None) -> dt.date | None:
    if raw is None or raw == "":
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{name} must be a date (YYYY-MM-DD)", field=name) from exc


def csat_period(*, days: int | None, since: str | None, until: str | None, today: dt.date) -> CsatPeriod:
    """The requested period: ``days`` (the last N days, today included) or ``since``/``until``
    (dates, inclusive; one alone: ``until`` defaults to today, ``since`` to ``CSAT_DEFAULT_DAYS`` days
    before ``until``); neither: the last ``CSAT_DEFAULT_DAYS`` days. 422 naming the field otherwise."""
    first, last = _date("since", since), _date("until", until)
    if days is not None:
        if first is not None or last is not None:
            raise ValidationError("give either days or since/until, not both", field="days")
        if not 1 <= days <= CSAT_MAX_DAYS:
            raise ValidationError(f"days must be between 1 and {CSAT_MAX_DAYS}", field="days")
        return CsatPeriod(today - dt.timedelta(days=days - 1), today)
    last = last or today
    first = first or last - dt.timedelta(days=CSAT_DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError("since must not be after until", field="since")
    if (last - first).days + 1 > CSAT_MAX_DAYS:
        raise ValidationError(f"the period may span at most {CSAT_MAX_DAYS} days", field="until")
    return CsatPeriod(first, last)


def _stats(user_id: str | None, asked: int, answered: int, total: int) -> CsatStats:
    return CsatStats(
        user_id=user_id,
        asked=asked,
        answered=answered,
        average=round(total / answered, 2) if answered else None,
        response_rate_pct=round(100 * min(answered, asked) / asked, 2) if asked else None,
    )


def csat_summary(items: Iterable[dict[str, Any]]) -> tuple[CsatStats, list[CsatStats]]:
    """The channel's and each agent's CSAT, summed over day rows (``SK`` ``DAY#{date}#ALL`` or
    ``DAY#{date}#AGENT#{user}``); pure."""
    sums: dict[str | None, list[int]] = {None: [0, 0, 0]}
    for item in items:
        sk = str(item.get("SK", ""))
        if not sk.startswith("DAY#"):
            continue  # not a day row
        who = sk.split("#", 2)[-1]
        if who == "ALL":
            key = None
        elif who.startswith("AGENT#"):
            key = who.removeprefix("AGENT#")
        else:
            continue
        row = sums.setdefault(key, [0, 0, 0])
        row[0] += int(item.get("asked") or 0)
        row[1] += int(item.get("answered") or 0)
        row[2] += int(item.get("total") or 0)
    total = _stats(None, *sums.pop(None))
    return total, [_stats(uid, *sums[uid]) for uid in sorted(k for k in sums if k)]


def csat_report(channel_id: str, p: CsatPeriod) -> CsatReport:
    """The channel's CSAT over ``p`` (one query over its day rows)."""
    total, agents = csat_summary(bots_repo.csat_days(channel_id, p.since, p.until))
    return CsatReport(channel_id=channel_id, since=p.since, until=p.until, days=p.days, csat=total, by_agent=agents)


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
    csat: CsatStats | None = Field(
        default=None,
        description="Finish bots' surveys (issue 15) started in the 30 days (UTC) up to the window's end; "
        "null: none sent. Another period: GET /v1/channels/{id}/csat",
    )
    csat_by_agent: list[CsatStats] = Field(default_factory=list, description="The same per agent who closed")


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
        **_csat(channel.id, end),
    )


def _csat(channel_id: str, end: dt.datetime) -> dict[str, Any]:
    """The stats' CSAT: the default period (``CSAT_DEFAULT_DAYS`` days) up to the window's end."""
    last = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()  # the window's end is exclusive
    report = csat_report(channel_id, csat_period(days=None, since=None, until=None, today=last))
    return {"csat": report.csat if report.csat.asked else None, "csat_by_agent": report.by_agent}


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
