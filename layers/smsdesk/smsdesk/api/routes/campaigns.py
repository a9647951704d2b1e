"""Campaigns API (issue 14): compose with a live preview, launch now or on a schedule, control a run,
read its results. Anyone who may use the campaign's channel may manage its campaigns."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.campaigns import plan, service
from smsdesk.campaigns.model import Campaign, CampaignCreate, CampaignFields, CampaignRecipient, CampaignUpdate

router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query()]


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None = None


class RecipientPage(BaseModel):
    items: list[CampaignRecipient]
    next_cursor: str | None = None


class PreviewBody(CampaignFields):
    per_recipient: int = Field(default=0, ge=0, le=100, description="List the first N recipients' texts and credits")


class PreviewOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_recipient: int = Field(default=0, ge=0, le=100)


class LaunchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool = Field(
        default=False, description="Send although the same text went to the same audience less than 10 minutes ago"
    )


@router.post(
    "/v1/campaigns/preview",
    summary="Preview a campaign before saving it: recipients, exclusions, segments and credits",
    description="The same planning and pricing launching reserves: recipients after deduplication, excluded by "
    "reason, segments and credits in total and per country, the longest rendered text (footer included).",
    tags=["campaigns"],
    openapi_extensions=errors(403, 404),
)
def preview_new(body: PreviewBody) -> plan.Preview:
    fields = CampaignFields.model_validate(body.model_dump(exclude={"per_recipient"}))
    return service.preview(caller(router), fields, per_recipient=body.per_recipient)


@router.post(
    "/v1/campaigns",
    summary="Create a campaign (a draft)",
    tags=["campaigns"],
    openapi_extensions=errors(403, 404),
    status_code=201,
)
def create_campaign(body: CampaignCreate) -> tuple[Campaign, int]:
    return service.create(caller(router), body), 201


@router.get("/v1/campaigns", summary="Campaigns, newest first, with their counts", tags=["campaigns"])
def list_campaigns(limit: Limit = 50, cursor: Cursor = None) -> CampaignPage:
    items, nxt = service.list_page(caller(router), limit=limit, cursor=cursor)
    return CampaignPage(items=items, next_cursor=nxt)


@router.get(
    "/v1/campaigns/<campaign_id>",
    summary="One campaign, with the current run's message outcomes (sent, delivered, failed)",
    tags=["campaigns"],
)
def get_campaign(campaign_id: str) -> Campaign:
    campaign, _ = service.get_for(caller(router), campaign_id)
    return campaign.model_copy(update={"counts": service.message_counts(campaign)})


@router.patch(
    "/v1/campaigns/<campaign_id>",
    summary="Edit a draft or scheduled campaign (its schedule follows)",
    tags=["campaigns"],
    openapi_extensions=errors(403, 409),
)
def update_campaign(campaign_id: str, body: CampaignUpdate) -> Campaign:
    return service.update(caller(router), campaign_id, body)


@router.delete(
    "/v1/campaigns/<campaign_id>",
    summary="Delete a draft, scheduled or finished campaign (its schedule and recipient rows go too)",
    description="A running or paused campaign: 409 `campaign_state` (cancel it first). The campaign is gone at "
    "once (404 afterwards); its recipient rows are removed in pages behind it; the messages it sent stay.",
    tags=["campaigns"],
    openapi_extensions=errors(409),
    status_code=204,
)
def delete_campaign(campaign_id: str) -> Response[None]:
    service.delete(caller(router), campaign_id)
    return Response(status_code=204)


@router.post(
    "/v1/campaigns/<campaign_id>/preview",
    summary="Preview a saved campaign",
    tags=["campaigns"],
    openapi_extensions=errors(403),
)
def preview_saved(campaign_id: str, body: PreviewOptions) -> plan.Preview:
    who = caller(router)
    campaign, _ = service.get_for(who, campaign_id)
    return service.preview(who, campaign, per_recipient=body.per_recipient)


@router.post(
    "/v1/campaigns/<campaign_id>/launch",
    summary="Send now (credits reserved at once, or 402) or arm its schedule",
    description="Without a schedule the run's credits are reserved in one step (402 `insufficient_credits` with "
    "`needed` and `balance`, nothing sent). The same text to the same audience within 10 minutes is 409 "
    "`duplicate_campaign` unless `confirm` is true.",
    tags=["campaigns"],
    openapi_extensions=errors(402, 403, 409),
)
def launch_campaign(campaign_id: str, body: LaunchBody) -> Campaign:
    return service.launch(caller(router), campaign_id, confirm=body.confirm)


@router.post(
    "/v1/campaigns/<campaign_id>/cancel",
    summary="Cancel: nothing more is sent and unsent recipients' credits come back",
    tags=["campaigns"],
    openapi_extensions=errors(409),
)
def cancel_campaign(campaign_id: str) -> Campaign:
    return service.cancel(caller(router), campaign_id)


@router.post(
    "/v1/campaigns/<campaign_id>/pause",
    summary="Pause a running campaign",
    tags=["campaigns"],
    openapi_extensions=errors(409),
)
def pause_campaign(campaign_id: str) -> Campaign:
    return service.pause(caller(router), campaign_id)


@router.post(
    "/v1/campaigns/<campaign_id>/resume",
    summary="Resume a paused campaign",
    tags=["campaigns"],
    openapi_extensions=errors(409),
)
def resume_campaign(campaign_id: str) -> Campaign:
    return service.resume(caller(router), campaign_id)


@router.get(
    "/v1/campaigns/<campaign_id>/recipients",
    summary="The run's recipients with their message and status",
    tags=["campaigns"],
)
def campaign_recipients(
    campaign_id: str,
    status: Annotated[str | None, Query(pattern="^(pending|held|queued|excluded|cancelled)$")] = None,
    run: Annotated[int | None, Query(ge=1)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RecipientPage:
    items, nxt = service.recipients(caller(router), campaign_id, status=status, run=run, limit=limit, cursor=cursor)
    return RecipientPage(items=items, next_cursor=nxt)
