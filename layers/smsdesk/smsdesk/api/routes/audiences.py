"""Audience preview (issue 13): who a campaign with this selection would text on a channel, and who it
would leave out and why. Needs the channel (403 if the caller may not use it), or admin without one."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field

from smsdesk import access, config
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.crm import audience

router = APIGatewayHttpRouter()


class AudienceQuery(audience.Selection):
    channel_id: str | None = Field(
        default=None, description="The channel to send on: its opt-outs and blocklist apply (account-wide ones always)"
    )
    limit: int = Field(default=20, ge=1, le=100, description="How many recipients and exclusions to list")


@router.post(
    "/v1/audiences/preview",
    summary="Recipients and exclusions (with reasons) of a selection",
    tags=["groups"],
    openapi_extensions=errors(403, 404),
)
def preview_audience(body: AudienceQuery) -> audience.AudiencePreview:
    who = caller(router)
    region = config.default_country()
    if body.channel_id:
        channel = access.require_channel(who, body.channel_id)
        region = channel.default_region or region
    else:
        who.require_admin()
    selection = audience.Selection.model_validate(body.model_dump(exclude={"channel_id", "limit"}))
    return audience.preview(selection, channel_id=body.channel_id, region=region, limit=body.limit)
