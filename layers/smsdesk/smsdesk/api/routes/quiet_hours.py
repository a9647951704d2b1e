"""Quiet hours for marketing (issue 14 item 6): the account's default and a channel's override.

Anyone may read the rules of the channels they may use (the composer shows the one that applies); only
admins and owners change them. A campaign's own ``quiet_hours`` (the campaigns API) comes first, then the
channel's, then the account's, then the built-in French rule (08:00-20:00, no Sundays, public holidays of
the recipient's country)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from smsdesk import access
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.campaigns import quiet_settings
from smsdesk.campaigns.quiet import QuietHours
from smsdesk.campaigns.quiet_settings import QuietHoursSetting

router = APIGatewayHttpRouter()

_RULE = (
    "A rule: `start`/`end` (local time of day in the recipient's zone; the window cannot cross midnight), "
    "`sundays` (marketing allowed on Sundays), `public_holidays` (quiet on the public holidays of the "
    "recipient number's country) and `holidays` (extra closing dates)."
)


@router.get(
    "/v1/quiet-hours",
    summary="The account's quiet hours for marketing (the default of every channel)",
    description="`quiet_hours` is null until an admin sets it: the built-in rule applies (`source: default`).",
    tags=["campaigns"],
)
def get_account_quiet_hours() -> QuietHoursSetting:
    caller(router)
    return quiet_settings.account_setting()


@router.put(
    "/v1/quiet-hours",
    summary="Set the account's quiet hours for marketing (admins)",
    description=_RULE,
    tags=["campaigns"],
    openapi_extensions=errors(403),
)
def put_account_quiet_hours(body: QuietHours) -> QuietHoursSetting:
    who = caller(router)
    who.require_admin()
    return quiet_settings.set_account(body, by=who.user_id)


@router.delete(
    "/v1/quiet-hours",
    summary="Back to the built-in quiet hours (08:00-20:00, no Sundays, public holidays) (admins)",
    tags=["campaigns"],
    openapi_extensions=errors(403),
    status_code=204,
)
def delete_account_quiet_hours() -> Response[None]:
    caller(router).require_admin()
    quiet_settings.clear_account()
    return Response(status_code=204)


@router.get(
    "/v1/channels/<channel_id>/quiet-hours",
    summary="A channel's quiet hours for marketing: its override and the rule that applies",
    tags=["campaigns"],
    openapi_extensions=errors(403, 404),
)
def get_channel_quiet_hours(channel_id: str) -> QuietHoursSetting:
    access.require_channel(caller(router), channel_id)
    return quiet_settings.channel_setting(channel_id)


@router.put(
    "/v1/channels/<channel_id>/quiet-hours",
    summary="Override the account's quiet hours on this channel (admins)",
    description=_RULE,
    tags=["campaigns"],
    openapi_extensions=errors(403, 404),
)
def put_channel_quiet_hours(channel_id: str, body: QuietHours) -> QuietHoursSetting:
    who = caller(router)
    who.require_admin()
    access.require_channel(who, channel_id)
    return quiet_settings.set_channel(channel_id, body, by=who.user_id)


@router.delete(
    "/v1/channels/<channel_id>/quiet-hours",
    summary="Remove the channel's override: the account's quiet hours apply (admins)",
    tags=["campaigns"],
    openapi_extensions=errors(403, 404),
    status_code=204,
)
def delete_channel_quiet_hours(channel_id: str) -> Response[None]:
    who = caller(router)
    who.require_admin()
    access.require_channel(who, channel_id)
    quiet_settings.clear_channel(channel_id)
    return Response(status_code=204)
