"""Quiet hours for marketing: when a recipient may be texted, in the recipient's own time zone.

Pure functions. The default (:class:`QuietHours`) is the French rule: between 08:00 and 20:00, never
on Sunday, never on a listed public holiday. Public holidays are not derived from the country (no
holiday calendar ships in the Lambda layer): an account lists its dates in ``holidays``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smsdesk.crm.timezones import zone_for_number

#: When the recipient's zone is unknown (a country with several zones and no contact time zone).
FALLBACK_ZONE = "UTC"


class QuietHours(BaseModel):
    """When marketing may be delivered (recipient's local time); outside it a message waits."""

    model_config = ConfigDict(extra="forbid")
    start: dt.time = Field(default=dt.time(8, 0), description="Earliest local time of day")
    end: dt.time = Field(default=dt.time(20, 0), description="Local time of day from which it is quiet again")
    sundays: bool = Field(default=False, description="Marketing may be delivered on Sundays")
    holidays: list[dt.date] = Field(
        default_factory=list, max_length=400, description="Dates (recipient's local calendar) with no marketing"
    )

    @field_validator("start", "end")
    @classmethod
    def _local(cls, v: dt.time) -> dt.time:
        if v.tzinfo is not None:
            raise ValueError("a time of day in the recipient's zone: give it without an offset (e.g. 08:00)")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> QuietHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def zone_for(time_zone: str | None, number: str | None) -> ZoneInfo:
    """The recipient's zone: the contact's, else its number's country's (single-zone countries), else UTC."""
    for name in (time_zone, zone_for_number(number)):
        if name:
            try:
                return ZoneInfo(name)
            except (KeyError, ValueError):
                continue
    return ZoneInfo(FALLBACK_ZONE)


def _allowed_day(day: dt.date, q: QuietHours) -> bool:
    return (q.sundays or day.weekday() != 6) and day not in q.holidays


def next_allowed(now: dt.datetime, zone: ZoneInfo, q: QuietHours) -> dt.datetime:
    """``now`` if a marketing SMS may leave now, else the next moment it may (UTC-aware)."""
    local = now.astimezone(zone)
    for days in range(0, 400):
        day = local.date() + dt.timedelta(days=days)
        if not _allowed_day(day, q):
            continue
        opens = dt.datetime.combine(day, q.start, tzinfo=zone)
        closes = dt.datetime.combine(day, q.end, tzinfo=zone)
        if days == 0 and local >= closes:
            continue
        if days == 0 and local >= opens:
            return now
        return opens.astimezone(dt.UTC)
    return now  # a year of holidays: nothing sensible to wait for
