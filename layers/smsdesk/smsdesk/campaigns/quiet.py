"""Quiet hours for marketing: when a recipient may be texted, in the recipient's own time zone.

Pure functions (the stored account and channel rules: :mod:`smsdesk.campaigns.quiet_settings`). The
default (:class:`QuietHours`) is the French rule: between 08:00 and 20:00, never on Sunday, never on a
public holiday of the recipient's country, nor on the rule's extra dates (a company's own closing days).

* The **zone** is the contact's ``time_zone``, else its number's country's (single-zone countries), else UTC.
* The **country** whose public holidays count is always the number's (its region): a contact's explicit
  zone says where the person is now, not which calendar they live by, and a number is all most recipients
  have. The calendars come from the ``holidays`` package, imported only when a recipient's moment is first
  checked (never at a handler's cold start) and computed once per (country, year) in the container.
* Which rule applies (:func:`effective`): the campaign's own (if set) → the channel's → the account's →
  the built-in default.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator

from smsdesk.crm.timezones import zone_for_number

#: When the recipient's zone is unknown (a country with several zones and no contact time zone).
FALLBACK_ZONE = "UTC"


#: A local time of day. The JSON Schema ``time`` format is RFC 3339's, with an offset ("08:00:00Z"): this one
#: has none (it is read in each recipient's zone), so the document says what it is instead.
LocalTime = Annotated[
    dt.time,
    WithJsonSchema(
        {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$", "examples": ["08:00"]}
    ),
]


class QuietHours(BaseModel):
    """When marketing may be delivered (recipient's local time); outside it a message waits.

    The window is one stretch of the day (``start`` < ``end``): a window across midnight would allow
    marketing at night, so it is refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    start: LocalTime = Field(default=dt.time(8, 0), description="Earliest local time of day (HH:MM)")
    end: LocalTime = Field(
        default=dt.time(20, 0),
        validate_default=True,  # a start at or after the default end is refused too
        description="Local time of day from which it is quiet again (HH:MM)",
    )
    sundays: bool = Field(default=False, description="Marketing may be delivered on Sundays")
    public_holidays: bool = Field(
        default=True, description="Quiet on the public holidays of the recipient's country (from the number)"
    )
    holidays: list[dt.date] = Field(
        default_factory=list,
        max_length=400,
        description="Extra dates with no marketing (recipient's local calendar): the company's own closing days",
    )

    @field_validator("start", "end")
    @classmethod
    def _local(cls, v: dt.time) -> dt.time:
        if v.tzinfo is not None:
            raise ValueError("a time of day in the recipient's zone: give it without an offset (e.g. 08:00)")
        return v

    @field_validator("end")
    @classmethod
    def _ordered(cls, v: dt.time, info: ValidationInfo) -> dt.time:
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError(
                f"end ({v.strftime('%H:%M')}) must be after start ({start.strftime('%H:%M')}):"
                " the allowed window cannot cross midnight"
            )
        return v


Source = Literal["campaign", "channel", "account", "default"]


def effective(
    *, campaign: QuietHours | None = None, channel: QuietHours | None = None, account: QuietHours | None = None
) -> tuple[QuietHours, Source]:
    """The rule that applies and where it comes from: the campaign's own → the channel's → the account's →
    the built-in default (the French rule)."""
    if campaign is not None:
        return campaign, "campaign"
    if channel is not None:
        return channel, "channel"
    if account is not None:
        return account, "account"
    return QuietHours(), "default"


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[dt.date]:
    """The country's (ISO 3166-1 alpha-2) national public holidays in ``year``; none for a country the
    calendar does not know. Cached per (country, year) for the container's life."""
    # only when a marketing recipient is checked: ~70 ms to import, ~200 ms for the first calendar (the
    # package then loads all its country modules), ~1 ms for each further one
    import holidays

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def zone_for(time_zone: str | None, number: str | None) -> ZoneInfo:
    """The recipient's zone: the contact's, else its number's country's (single-zone countries), else UTC."""
    # short-circuits: the number is parsed only when the contact has no (valid) zone of its own
    return _zone(time_zone) or _zone(zone_for_number(number)) or ZoneInfo(FALLBACK_ZONE)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return None


def _allowed_day(day: dt.date, q: QuietHours, country: str | None) -> bool:
    if not q.sundays and day.weekday() == 6:
        return False
    if day in q.holidays:
        return False
    return not (q.public_holidays and country and day in public_holidays(country.upper(), day.year))


def next_allowed(now: dt.datetime, zone: ZoneInfo, q: QuietHours, *, country: str | None = None) -> dt.datetime:
    """``now`` if a marketing SMS may leave now, else the next moment it may (UTC-aware). ``country``: the
    recipient number's, whose public holidays are quiet when ``q.public_holidays``."""
    local = now.astimezone(zone)
    for days in range(0, 400):
        day = local.date() + dt.timedelta(days=days)
        if not _allowed_day(day, q, country):
            continue
        opens = dt.datetime.combine(day, q.start, tzinfo=zone)
        closes = dt.datetime.combine(day, q.end, tzinfo=zone)
        if days == 0 and local >= closes:
            continue
        if days == 0 and local >= opens:
            return now
        return opens.astimezone(dt.UTC)
    return now  # a year of holidays: nothing sensible to wait for
