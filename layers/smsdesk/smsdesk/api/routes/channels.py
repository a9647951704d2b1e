"""Channels API. Writes need admin/owner; reads show only the channels the caller may use.

Provider secrets are write-only: accepted on create/patch, stored in Secrets Manager, never returned
(``has_secret`` says whether one is set).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import access, channels
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.errors import ValidationError
from smsdesk.inbox import queueing, stats
from smsdesk.models import Channel, utcnow

router = APIGatewayHttpRouter()


class ChannelPage(BaseModel):
    items: list[Channel]
    next_cursor: str | None = None


class ChannelTeams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team_ids: list[str] = Field(max_length=40, description="The complete list of teams granted the channel")


def _host() -> str:
    return router.current_event.request_context.domain_name or ""


@router.post(
    "/v1/channels", summary="Create a channel", tags=["channels"], openapi_extensions=errors(403, 409), status_code=201
)
def create_channel(body: channels.ChannelCreate) -> tuple[Channel, int]:
    caller(router).require_admin()
    return channels.create_channel(body, host=_host()), 201


@router.get("/v1/channels", summary="Channels the caller may use, by name", tags=["channels"])
def list_channels(
    limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Annotated[str | None, Query()] = None
) -> ChannelPage:
    who = caller(router)
    items, nxt = channels.list_channels(access.usable_channel_ids(who), limit=limit, cursor=cursor)
    return ChannelPage(items=items, next_cursor=nxt)


@router.get(
    "/v1/channels/<channel_id>",
    summary="One channel (403 if the caller may not use it)",
    tags=["channels"],
    openapi_extensions=errors(403),
)
def get_channel(channel_id: str) -> Channel:
    return access.require_channel(caller(router), channel_id)


@router.patch(
    "/v1/channels/<channel_id>",
    summary="Change settings (type and provider are fixed); `enabled` enables/disables",
    tags=["channels"],
    openapi_extensions=errors(403, 409),
)
def patch_channel(channel_id: str, body: channels.ChannelPatch) -> Channel:
    caller(router).require_admin()
    channel = channels.update_channel(channel_id, body, host=_host())
    if "queue" in body.model_fields_set:  # a larger cap, another strategy: let waiting conversations in
        queueing.dispatch_quietly([channel.id], now=utcnow())
    return channel


@router.put(
    "/v1/channels/<channel_id>/teams",
    summary="Grant the channel to exactly these teams",
    tags=["channels"],
    openapi_extensions=errors(403, 409),
)
def grant_teams(channel_id: str, body: ChannelTeams) -> Channel:
    caller(router).require_admin()
    channel = channels.grant_teams(channel_id, body.team_ids)
    queueing.dispatch_quietly([channel.id], now=utcnow())  # new teams' agents may take waiting conversations
    return channel


@router.get(
    "/v1/channels/<channel_id>/queue",
    summary="Who waits now, in order: the queue (next to be offered first) and, when it is full, "
    "those waiting outside it (next to enter first); ?limit= per list (default 50, at most 200)",
    tags=["channels"],
    openapi_extensions=errors(403),
)
def channel_queue(
    channel_id: str, limit: Annotated[int, Query(ge=1, le=200, description="At most this many per list")] = 50
) -> queueing.QueueView:
    channel = access.require_channel(caller(router), channel_id)
    return queueing.view(channel, now=utcnow(), limit=limit)


def _instant(name: str) -> dt.datetime | None:
    raw = (router.current_event.query_string_parameters or {}).get(name)
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO 8601 timestamp", field=name) from exc


@router.get(
    "/v1/channels/<channel_id>/stats",
    summary="Service level of the channel's queue: ?from=&to= (ISO 8601; default the last 24 h, at most 31 days)",
    tags=["channels"],
    openapi_extensions=errors(403),
)
def channel_stats(channel_id: str) -> stats.ChannelStats:
    channel = access.require_channel(caller(router), channel_id)
    start, end = stats.window(_instant("from"), _instant("to"), utcnow())
    return stats.channel_stats(channel, start, end)


# -- issue 15: CSAT over a period -------------------------------------------------------------------


@router.get(
    "/v1/channels/<channel_id>/csat",
    summary="Finish bots' CSAT over a period: ?days=N, or ?since=&until= (dates, UTC, inclusive); "
    "default the last 30 days",
    description="Surveys count on the day they started (a finish bot's: the day the conversation was closed), "
    "their answers too; asked, answered, average rating and response rate for the channel and per closing agent. "
    "At most 366 days; `days` and `since`/`until` are exclusive.",
    tags=["channels"],
    openapi_extensions=errors(403),
)
def channel_csat(
    channel_id: str,
    days: Annotated[int | None, Query(ge=1, le=366, description="The last N days (UTC), today included")] = None,
    since: Annotated[str | None, Query(description="First day, YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, Query(description="Last day, YYYY-MM-DD (UTC; default today)")] = None,
) -> stats.CsatReport:
    channel = access.require_channel(caller(router), channel_id)
    period = stats.csat_period(days=days, since=since, until=until, today=utcnow().date())
    return stats.csat_report(channel.id, period)
