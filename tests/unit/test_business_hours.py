"""Business hours: weekly ranges in the channel's timezone, holidays, DST and midnight."""

from __future__ import annotations

import datetime as dt
from typing import Any

from smsdesk.inbound.hours import is_open, local_day
from smsdesk.models import BusinessHours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def hours(**kw: Any) -> BusinessHours:
    base: dict[str, Any] = {
        "enabled": True,
        "timezone": "Europe/Amsterdam",
        "weekly": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS},
    }
    return BusinessHours.model_validate({**base, **kw})


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_disabled_hours_are_always_open() -> None:
    assert is_open(BusinessHours(enabled=False), utc(2026, 11, 22, 3, 0))  # a Sunday night


def test_enabled_without_ranges_is_always_closed() -> None:
    assert not is_open(BusinessHours(enabled=True), utc(2026, 11, 23, 10, 0))


def test_weekly_ranges_in_local_time_start_inclusive_end_exclusive() -> None:
    h = hours()  # Amsterdam is UTC+1 in November
    assert not is_open(h, utc(2026, 11, 23, 7, 59))  # Mon 08:59 local
    assert is_open(h, utc(2026, 11, 23, 8, 0))  # Mon 09:00 local
    assert is_open(h, utc(2026, 11, 23, 15, 59))  # 16:59
    assert not is_open(h, utc(2026, 11, 23, 16, 0))  # 17:00 local: closed
    assert not is_open(h, utc(2026, 11, 22, 10, 0))  # Sunday: no ranges


def test_several_ranges_a_day() -> None:
    h = hours(weekly={"mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]})
    assert is_open(h, utc(2026, 11, 23, 10, 0))  # 11:00
    assert not is_open(h, utc(2026, 11, 23, 11, 30))  # 12:30 lunch
    assert is_open(h, utc(2026, 11, 23, 12, 0))  # 13:00


def test_daylight_saving_time_follows_the_wall_clock() -> None:
    h = hours()
    # Summer (CEST, UTC+2): 09:00 local is 07:00 UTC.
    assert is_open(h, utc(2026, 7, 6, 7, 0)) and not is_open(h, utc(2026, 7, 6, 6, 59))
    # Winter (CET, UTC+1): 07:00 UTC is 08:00 local: still closed.
    assert not is_open(h, utc(2026, 1, 5, 7, 0)) and is_open(h, utc(2026, 1, 5, 8, 0))
    # The switch days: Sunday 29 March 2026 (02:00 -> 03:00) and Sunday 25 October 2026 (03:00 -> 02:00).
    night = hours(weekly={"sun": [{"start": "01:30", "end": "03:30"}]})
    assert is_open(night, utc(2026, 3, 29, 0, 45))  # 01:45 CET
    assert is_open(night, utc(2026, 3, 29, 1, 15))  # 03:15 CEST (02:xx does not exist)
    assert not is_open(night, utc(2026, 3, 29, 1, 45))  # 03:45 CEST
    assert is_open(night, utc(2026, 10, 25, 0, 30))  # 02:30 CEST, first time
    assert is_open(night, utc(2026, 10, 25, 1, 30))  # 02:30 CET, second time
    assert not is_open(night, utc(2026, 10, 25, 2, 45))  # 03:45 CET


def test_midnight_belongs_to_the_new_day() -> None:
    h = hours(
        timezone="Europe/Amsterdam",
        weekly={"fri": [{"start": "22:00", "end": "23:59"}], "sat": [{"start": "00:00", "end": "02:00"}]},
    )
    assert is_open(h, utc(2026, 11, 27, 22, 59, 30))  # Fri 23:59:30 local: an end of 23:59 means midnight
    assert is_open(h, utc(2026, 11, 27, 23, 0))  # Sat 00:00 local
    assert is_open(h, utc(2026, 11, 28, 0, 59))  # Sat 01:59
    assert not is_open(h, utc(2026, 11, 28, 1, 0))  # Sat 02:00
    assert not is_open(h, utc(2026, 11, 27, 20, 59))  # Fri 21:59
    # The local day (once-per-day out-of-hours reply) changes at local midnight, not UTC midnight.
    assert local_day(h, utc(2026, 11, 27, 22, 59)) == dt.date(2026, 11, 27)
    assert local_day(h, utc(2026, 11, 27, 23, 0)) == dt.date(2026, 11, 28)


def test_other_timezones() -> None:
    h = hours(timezone="America/New_York")
    assert is_open(h, utc(2026, 11, 23, 14, 0))  # 09:00 EST
    assert not is_open(h, utc(2026, 11, 23, 13, 59))
    assert local_day(h, utc(2026, 11, 24, 3, 0)) == dt.date(2026, 11, 23)


def test_holidays_close_the_whole_local_day() -> None:
    h = hours(holidays=["2026-12-25"])
    assert not is_open(h, utc(2026, 12, 25, 10, 0))  # Friday, Christmas
    assert is_open(h, utc(2026, 12, 24, 10, 0))
    # 23:30 UTC on the 24th is already the 25th in Amsterdam.
    all_day = [{"start": "00:00", "end": "23:59"}]
    late = hours(holidays=["2026-12-25"], weekly={"thu": all_day, "fri": all_day})
    assert is_open(late, utc(2026, 12, 24, 22, 30)) and not is_open(late, utc(2026, 12, 24, 23, 30))
    assert is_open(hours(weekly={"thu": all_day, "fri": all_day}), utc(2026, 12, 24, 23, 30))


def test_naive_datetimes_are_utc() -> None:
    assert is_open(hours(), dt.datetime(2026, 11, 23, 8, 0))
