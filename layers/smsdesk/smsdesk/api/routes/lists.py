"""Blocklists and opt-outs API (admin/owner only).

Scopes: an entry with ``channel_id`` null is account-wide; both scopes apply to a channel. Listing
filters: ``?channel_id=X`` (that channel's entries), ``?account_wide=true`` (account-wide only), or
neither (all). Numbers in paths may be typed nationally (read in the channel's or the account's
default region) or in E.164 (``%2B31612345678`` or ``+31612345678``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import channels, lists
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.errors import NotFound, ValidationError

router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query()]
ChannelQ = Annotated[str | None, Query(description="A channel id; absent = account-wide (writes) or all (lists)")]


class BlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=40)
    channel_id: str | None = Field(default=None, description="null = account-wide")
    direction: lists.Direction = "both"
    reason: str | None = Field(default=None, max_length=500)


class OptOutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=40)
    channel_id: str | None = Field(default=None, description="null = account-wide")
    reason: str = Field(min_length=1, max_length=500, description="Why: consent must be provable")
    source: lists.Source = "api"


class BlockPage(BaseModel):
    items: list[lists.BlockEntry]
    next_cursor: str | None = None


class OptOutPage(BaseModel):
    items: list[lists.OptOut]
    next_cursor: str | None = None


class ConsentPage(BaseModel):
    items: list[lists.ConsentRecord]
    next_cursor: str | None = None


def _scope(channel_id: str | None) -> tuple[str | None, str]:
    """Validate the channel (404 if unknown) and return it with the region to read numbers in."""
    if channel_id:
        ch = channels.get_channel(channel_id)
        return ch.id, ch.default_region or lists.region_for(None)
    return None, lists.region_for(None)


def _list_filter(channel_id: str | None, account_wide: bool) -> tuple[str | None, bool]:
    if channel_id and account_wide:
        raise ValidationError("use either channel_id or account_wide=true", field="account_wide")
    return channel_id, bool(channel_id) or account_wide


# -- blocklist ---------------------------------------------------------------------------------------


@router.get("/v1/blocklist", summary="List blocklist entries", tags=["lists"], openapi_extensions=errors(403, 404))
def list_blocklist(
    channel_id: ChannelQ = None,
    account_wide: Annotated[bool, Query()] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> BlockPage:
    caller(router).require_admin()
    cid, only = _list_filter(channel_id, account_wide)
    items, nxt = lists.list_blocks(channel_id=cid, only_scope=only, limit=limit, cursor=cursor)
    return BlockPage(items=items, next_cursor=nxt)


@router.post(
    "/v1/blocklist",
    summary="Add (or replace) a blocklist entry",
    tags=["lists"],
    openapi_extensions=errors(403, 404),
    status_code=201,
)
def add_block(body: BlockCreate) -> tuple[lists.BlockEntry, int]:
    who = caller(router)
    who.require_admin()
    cid, region = _scope(body.channel_id)
    e164 = lists.normalise(body.number, region, field="number")
    return lists.add_block(cid, e164, direction=body.direction, reason=body.reason, by=who.user_id), 201


@router.delete(
    "/v1/blocklist/<number>",
    summary="Remove a blocklist entry",
    tags=["lists"],
    openapi_extensions=errors(403),
    status_code=204,
)
def remove_block(number: str, channel_id: ChannelQ = None) -> Response[None]:
    caller(router).require_admin()
    cid, region = _scope(channel_id)
    e164 = lists.normalise(unquote(number), region, field="number")
    if not lists.remove_block(cid, e164):
        raise NotFound(f"{e164} is not on the {'channel' if cid else 'account-wide'} blocklist", field="number")
    return Response(status_code=204)


# -- opt-outs ------------------------------------------------------------------------------------------


@router.get("/v1/opt-outs", summary="List opt-outs", tags=["lists"], openapi_extensions=errors(403, 404))
def list_opt_outs(
    channel_id: ChannelQ = None,
    account_wide: Annotated[bool, Query()] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> OptOutPage:
    caller(router).require_admin()
    cid, only = _list_filter(channel_id, account_wide)
    items, nxt = lists.list_opt_outs(channel_id=cid, only_scope=only, limit=limit, cursor=cursor)
    return OptOutPage(items=items, next_cursor=nxt)


@router.post(
    "/v1/opt-outs",
    summary="Record an opt-out (with its consent record)",
    tags=["lists"],
    openapi_extensions=errors(403, 404),
    status_code=201,
)
def add_opt_out(body: OptOutCreate) -> tuple[lists.OptOut, int]:
    who = caller(router)
    who.require_admin()
    cid, region = _scope(body.channel_id)
    e164 = lists.normalise(body.number, region, field="number")
    return lists.opt_out(cid, e164, reason=body.reason, source=body.source, by=who.user_id), 201


@router.delete(
    "/v1/opt-outs/<number>",
    summary="Remove an opt-out (opt-in), recording why",
    tags=["lists"],
    openapi_extensions=errors(403),
    status_code=204,
)
def remove_opt_out(
    number: str,
    reason: Annotated[str, Query(min_length=1, max_length=500, description="Why the number may be texted again")],
    channel_id: ChannelQ = None,
    source: Annotated[lists.Source, Query()] = "api",
) -> Response[None]:
    who = caller(router)
    who.require_admin()
    cid, region = _scope(channel_id)
    e164 = lists.normalise(unquote(number), region, field="number")
    if not lists.opt_in(cid, e164, reason=reason, source=source, by=who.user_id, require_existing=True):
        raise NotFound(f"{e164} has no {'channel' if cid else 'account-wide'} opt-out", field="number")
    return Response(status_code=204)


@router.get(
    "/v1/opt-outs/<number>/history",
    summary="The number's consent history (every opt-out/opt-in)",
    tags=["lists"],
    openapi_extensions=errors(403),
)
def consent_history(number: str, limit: Limit = 100, cursor: Cursor = None) -> ConsentPage:
    caller(router).require_admin()
    e164 = lists.normalise(unquote(number), lists.region_for(None), field="number")
    items, nxt = lists.consent_history(e164, limit=limit, cursor=cursor)
    return ConsentPage(items=items, next_cursor=nxt)
