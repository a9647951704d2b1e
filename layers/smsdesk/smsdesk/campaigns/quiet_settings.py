"""Where quiet hours are set (issue 14 item 6): the account's default and each channel's override, and the
rule a marketing campaign runs under (its own → its channel's → the account's → the built-in default:
:func:`smsdesk.campaigns.quiet.effective`). Checks of who may change them are the API's (admins only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.campaigns.model import Campaign
from smsdesk.campaigns.quiet import QuietHours, Source, effective
from smsdesk.data import quiet_hours as repo
from smsdesk.models import iso, utcnow


class QuietHoursSetting(BaseModel):
    """One level's quiet hours: its own rule (if set) and what applies there."""

    model_config = ConfigDict(defer_build=True)

    quiet_hours: QuietHours | None = Field(
        description="This level's own rule; null: not set here (the next level's applies)"
    )
    effective: QuietHours = Field(description="The rule that applies here")
    source: Source = Field(description="Where the effective rule is set: channel, account or default (built in)")


def _rule(item: dict[str, Any] | None) -> QuietHours | None:
    if item is None:
        return None
    return QuietHours.model_validate({k: v for k, v in item.items() if k in QuietHours.model_fields})


def rules(channel_id: str | None) -> tuple[QuietHours | None, QuietHours | None]:
    """(account rule, channel rule) as stored: one read."""
    account, channel = repo.get_many(channel_id)
    return _rule(account), _rule(channel)


def for_campaign(campaign: Campaign) -> QuietHours:
    """The rule a marketing campaign runs under (the fan-out reads it once per wave)."""
    if campaign.quiet_hours is not None:
        return campaign.quiet_hours
    account, channel = rules(campaign.channel_id)
    return effective(channel=channel, account=account)[0]


def account_setting() -> QuietHoursSetting:
    account, _ = rules(None)
    rule, source = effective(account=account)
    return QuietHoursSetting(quiet_hours=account, effective=rule, source=source)


def channel_setting(channel_id: str) -> QuietHoursSetting:
    account, channel = rules(channel_id)
    rule, source = effective(channel=channel, account=account)
    return QuietHoursSetting(quiet_hours=channel, effective=rule, source=source)


def _stored(rule: QuietHours, by: str | None) -> dict[str, Any]:
    return {**rule.model_dump(mode="json"), "updated_at": iso(utcnow()), "updated_by": by}


def set_account(rule: QuietHours, *, by: str | None) -> QuietHoursSetting:
    """Write the account's rule; the answer is what was written (it applies where nothing overrides it)."""
    repo.put(repo.ACCOUNT, _stored(rule, by))
    applies, source = effective(account=rule)
    return QuietHoursSetting(quiet_hours=rule, effective=applies, source=source)


def clear_account() -> None:
    repo.delete(repo.ACCOUNT)


def set_channel(channel_id: str, rule: QuietHours, *, by: str | None) -> QuietHoursSetting:
    """Write the channel's rule; the answer is what was written (a channel's own rule applies there)."""
    repo.put(repo.channel_sk(channel_id), _stored(rule, by))
    applies, source = effective(channel=rule)
    return QuietHoursSetting(quiet_hours=rule, effective=applies, source=source)


def clear_channel(channel_id: str) -> None:
    repo.delete(repo.channel_sk(channel_id))
