"""Business hours: is a channel open at a given moment? Pure functions, no AWS.

Opening hours are wall-clock times in the channel's timezone (``BusinessHours.timezone``), so they
follow daylight saving time on their own: "09:00-17:00" is 09:00-17:00 local in winter and in summer.
An instant is converted from UTC to local time first, which makes the DST gaps and overlaps harmless
(an instant always has exactly one local wall time).

Rules:

* hours ``enabled = False``: always open (no out-of-hours reply);
* a holiday (a local date in ``holidays``): closed all day;
* otherwise open when the local time falls in one of that weekday's ranges, ``start <= t < end``
  (a day without ranges is closed). A range cannot cross midnight (``TimeRange`` requires
  ``end > start``): split it over two days, e.g. fri 22:00-23:59 and sat 00:00-02:00. An ``end`` of
  23:59 or later means "until midnight", because a time of day cannot say 24:00 and nobody means
  "closed during the last minute".
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from smsdesk.models import BusinessHours, Weekday

_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_END_OF_DAY = dt.time(23, 59)


def local_time(hours: BusinessHours, at: dt.datetime) -> dt.datetime:
    """``at`` (timezone-aware; naive is taken as UTC) as wall-clock time in the channel's timezone."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(zoneinfo.ZoneInfo(hours.timezone))


def local_day(hours: BusinessHours, at: dt.datetime) -> dt.date:
    """The channel-local calendar day of ``at`` (the out-of-hours reply is sent once per such day)."""
    return local_time(hours, at).date()


def is_open(hours: BusinessHours, at: dt.datetime) -> bool:
    """Whether the channel is within business hours at ``at``."""
    if not hours.enabled:
        return True
    local = local_time(hours, at)
    if local.date() in hours.holidays:
        return False
    now = local.time().replace(tzinfo=None)
    for r in hours.weekly.get(_WEEKDAYS[local.weekday()], []):
        if r.start <= now and (now < r.end or r.end >= _END_OF_DAY):
            return True
    return False
