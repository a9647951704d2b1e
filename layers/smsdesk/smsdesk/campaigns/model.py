"""The campaign's API and stored shapes (pydantic)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smsdesk.campaigns.quiet import QuietHours
from smsdesk.crm.selection import Selection
from smsdesk.text import MessageText

Kind = Literal["alert", "marketing"]
State = Literal["draft", "scheduled", "running", "paused", "completed", "cancelled", "failed"]
#: States a campaign never leaves.
FINAL_STATES = frozenset({"completed", "cancelled", "failed"})
RecipientStatus = Literal["pending", "held", "queued", "excluded", "cancelled"]

_CRON = re.compile(r"^\S+( \S+){5}$")
_RATE = re.compile(r"^(\d{1,4}) (minute|minutes|hour|hours|day|days)$")


class Schedule(BaseModel):
    """When: once ``at`` a local date-time, or recurring by ``cron`` (EventBridge Scheduler's six
    fields: minutes hours day-of-month month day-of-week year) or ``rate`` (``"1 day"``), in ``time_zone``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    at: dt.datetime | None = Field(default=None, description="Local date-time (no offset), e.g. 2026-12-01T09:00:00")
    cron: str | None = Field(default=None, max_length=100, description="e.g. `0 9 ? * MON *`")
    rate: str | None = Field(default=None, max_length=20, description="e.g. `1 day`, `12 hours`")
    time_zone: str = Field(default="UTC", description="IANA time zone of `at` and `cron`")

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("at")
    @classmethod
    def _naive(cls, v: dt.datetime | None) -> dt.datetime | None:
        return v.replace(tzinfo=None, microsecond=0) if v is not None and v.tzinfo is None else v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and not _CRON.match(v.strip()):
            raise ValueError("a cron expression has six fields: minutes hours day-of-month month day-of-week year")
        return v.strip() if v else v

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None:
            m = _RATE.match(v.strip())
            if not m or int(m.group(1)) < 1:
                raise ValueError("a rate is a whole number and a unit: `30 minutes`, `1 hour`, `2 days`")
        return v.strip() if v else v

    @model_validator(mode="after")
    def _one(self) -> Schedule:
        if sum(x is not None for x in (self.at, self.cron, self.rate)) != 1:
            raise ValueError("give exactly one of at, cron, rate")
        return self

    @property
    def recurring(self) -> bool:
        return self.at is None

    def at_utc(self) -> dt.datetime | None:
        if self.at is None:
            return None
        local = self.at if self.at.tzinfo else self.at.replace(tzinfo=zoneinfo.ZoneInfo(self.time_zone))
        return local.astimezone(dt.UTC)

    def expression(self) -> str:
        """The EventBridge Scheduler schedule expression."""
        if self.at is not None:
            local = self.at.astimezone(zoneinfo.ZoneInfo(self.time_zone)) if self.at.tzinfo else self.at
            return f"at({local.strftime('%Y-%m-%dT%H:%M:%S')})"
        if self.cron is not None:
            return f"cron({self.cron})"
        return f"rate({self.rate})"


class CampaignFields(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    title: str = Field(min_length=1, max_length=120)
    channel_id: str = Field(min_length=1, max_length=64)
    text: MessageText = Field(description="Mail merge: `{{first_name|there}}`, any contact field or custom field")
    kind: Kind = Field(default="alert", description="marketing: quiet hours and the opt-out footer apply")
    audience: Selection
    schedule: Schedule | None = Field(default=None, description="None: sent when launched")
    quiet_hours: QuietHours | None = Field(
        default=None,
        description="For marketing: this campaign's own quiet hours; null: the channel's, else the account's, "
        "else the built-in rule (/v1/quiet-hours, /v1/channels/{id}/quiet-hours)",
    )


class CampaignCreate(CampaignFields):
    pass


class CampaignUpdate(BaseModel):
    """A draft or scheduled campaign's changes (a scheduled one's schedule follows)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    title: str | None = Field(default=None, min_length=1, max_length=120)
    channel_id: str | None = Field(default=None, min_length=1, max_length=64)
    text: MessageText | None = None
    kind: Kind | None = None
    audience: Selection | None = None
    schedule: Schedule | None = None
    quiet_hours: QuietHours | None = None


class Counts(BaseModel):
    model_config = ConfigDict(defer_build=True)
    recipients: int = 0
    queued: int = Field(default=0, description="Handed to the send pipeline (charged from the reservation)")
    held: int = Field(default=0, description="Waiting for the end of quiet hours")
    excluded: int = Field(default=0, description="Left out when planned or at send time (opted out since, ...)")
    skipped: int = Field(default=0, description="Not sent although planned: opted out since, reservation used up")
    cancelled: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = Field(default=0, description="Failed or undelivered (refunded when the provider never took it)")
    credits: int = Field(default=0, description="Credits charged for the recipients handed to the pipeline")


class Campaign(CampaignFields):
    id: str
    status: State = "draft"
    status_reason: str | None = None
    created_by: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    launched_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    run: int = Field(default=0, description="Runs started (a recurring campaign runs many times)")
    reserved: int = Field(default=0, description="Credits reserved for the current run")
    reserved_left: int = Field(default=0, description="Reserved credits not yet used or refunded")
    counts: Counts = Field(default_factory=Counts)


class CampaignRecipient(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str
    contact_id: str | None = None
    run: int
    status: RecipientStatus
    reason: str | None = None
    text: str
    segments: int
    credits: int
    country: str | None = None
    time_zone: str | None = None
    not_before: dt.datetime | None = None
    message_id: str | None = None
    message_status: str | None = Field(default=None, description="The message's status (queued → delivered/failed)")
