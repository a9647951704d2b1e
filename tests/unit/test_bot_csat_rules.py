"""CSAT over a period (issue 15), pure: the period's rules (422 naming the field) and the sum of day rows."""

from __future__ import annotations

import datetime as dt

import pytest

from smsdesk.errors import ValidationError
from smsdesk.inbox.stats import CSAT_DEFAULT_DAYS as DEFAULT_DAYS
from smsdesk.inbox.stats import CSAT_MAX_DAYS as MAX_DAYS
from smsdesk.inbox.stats import CsatPeriod as Period
from smsdesk.inbox.stats import csat_period as period
from smsdesk.inbox.stats import csat_summary as summary

TODAY = dt.date(2026, 11, 30)


def test_default_is_the_last_30_days_today_included() -> None:
    got = period(days=None, since=None, until=None, today=TODAY)
    assert got == Period(dt.date(2026, 11, 1), TODAY) and got.days == DEFAULT_DAYS == 30


def test_days_or_since_until() -> None:
    assert period(days=1, since=None, until=None, today=TODAY) == Period(TODAY, TODAY)
    assert period(days=7, since=None, until=None, today=TODAY).since == dt.date(2026, 11, 24)
    p = period(days=None, since="2026-10-01", until="2026-10-31", today=TODAY)
    assert (p.since, p.until, p.days) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31), 31)
    assert period(days=None, since="2026-11-20", until=None, today=TODAY) == Period(dt.date(2026, 11, 20), TODAY)
    # until alone: the 30 days up to it
    assert period(days=None, since=None, until="2026-06-30", today=TODAY) == Period(
        dt.date(2026, 6, 1), dt.date(2026, 6, 30)
    )
    assert period(days=MAX_DAYS, since=None, until=None, today=TODAY).days == MAX_DAYS


@pytest.mark.parametrize(
    ("days", "since", "until", "field"),
    [
        (0, None, None, "days"),
        (MAX_DAYS + 1, None, None, "days"),
        (7, "2026-11-01", None, "days"),
        (7, None, "2026-11-01", "days"),
        (None, "2026-11-31", None, "since"),
        (None, "yesterday", None, "since"),
        (None, None, "2026/11/01", "until"),
        (None, "2026-11-02", "2026-11-01", "since"),
        (None, "2025-01-01", "2026-11-30", "until"),
    ],
)
def test_invalid_periods_name_the_field(days: int | None, since: str | None, until: str | None, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        period(days=days, since=since, until=until, today=TODAY)
    assert err.value.field == field


def test_summary_sums_the_days_per_channel_and_agent() -> None:
    rows = [
        {"SK": "DAY#2026-11-01#ALL", "asked": 3, "answered": 2, "total": 9},
        {"SK": "DAY#2026-11-01#AGENT#u2", "asked": 1, "answered": 1, "total": 5},
        {"SK": "DAY#2026-11-01#AGENT#u1", "asked": 2, "answered": 1, "total": 4},
        {"SK": "DAY#2026-11-02#ALL", "asked": 1, "answered": 1, "total": 2},
        {"SK": "DAY#2026-11-02#AGENT#u1", "asked": 1, "answered": 1, "total": 2},
        {"SK": "ALL", "asked": 100, "answered": 100, "total": 500},  # an all-time counter of old: not a day
    ]
    total, agents = summary(rows)
    assert (total.user_id, total.asked, total.answered, total.average, total.response_rate_pct) == (
        None,
        4,
        3,
        round(11 / 3, 2),
        75.0,
    )
    assert [(a.user_id, a.asked, a.answered, a.average) for a in agents] == [("u1", 3, 2, 3.0), ("u2", 1, 1, 5.0)]
    empty, none = summary([])
    assert (empty.asked, empty.average, empty.response_rate_pct, none) == (0, None, None, [])
