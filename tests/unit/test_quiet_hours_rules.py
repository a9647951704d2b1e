"""Quiet hours without AWS (issue 14 item 6): public holidays of the recipient's country, the rule's
validation, and which rule applies (campaign → channel → account → the built-in French rule)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from smsdesk.campaigns import quiet

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = PARIS) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz)


def test_a_french_number_on_bastille_day_waits_for_the_next_morning() -> None:
    # Wednesday 14 July 2027, 10:00 in Paris: a public holiday in France
    now = at(2027, 7, 14, 10).astimezone(dt.UTC)
    assert quiet.next_allowed(now, PARIS, quiet.QuietHours(), country="FR") == at(2027, 7, 15, 8)


def test_a_uk_number_on_the_14th_of_july_is_not_held() -> None:
    now = at(2027, 7, 14, 10, tz=LONDON).astimezone(dt.UTC)
    assert quiet.next_allowed(now, LONDON, quiet.QuietHours(), country="GB") == now


def test_a_dutch_number_on_kings_day_is_held() -> None:
    now = at(2027, 4, 27, 11, tz=AMSTERDAM).astimezone(dt.UTC)
    assert quiet.next_allowed(now, AMSTERDAM, quiet.QuietHours(), country="NL") == at(2027, 4, 28, 8, tz=AMSTERDAM)


def test_public_holidays_can_be_switched_off_and_extra_dates_added() -> None:
    now = at(2027, 7, 14, 10).astimezone(dt.UTC)
    assert quiet.next_allowed(now, PARIS, quiet.QuietHours(public_holidays=False), country="FR") == now
    # a company's own closing day (the 15th) comes on top of the public holiday (the 14th)
    q = quiet.QuietHours(holidays=[dt.date(2027, 7, 15)])
    assert quiet.next_allowed(now, PARIS, q, country="FR") == at(2027, 7, 16, 8)


def test_an_unknown_or_missing_country_has_no_public_holidays() -> None:
    now = at(2027, 7, 14, 10).astimezone(dt.UTC)
    assert quiet.next_allowed(now, PARIS, quiet.QuietHours(), country=None) == now
    assert quiet.next_allowed(now, PARIS, quiet.QuietHours(), country="ZZ") == now
    assert quiet.public_holidays("ZZ", 2027) == frozenset()


def test_the_calendar_is_computed_once_per_country_and_year() -> None:
    first = quiet.public_holidays("FR", 2028)
    assert dt.date(2028, 7, 14) in first and dt.date(2028, 12, 25) in first
    assert quiet.public_holidays("FR", 2028) is first


def test_a_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError) as exc:
        quiet.QuietHours(start=dt.time(20), end=dt.time(8))
    err = exc.value.errors()[0]
    assert err["loc"] == ("end",) and "after start" in err["msg"] and "midnight" in err["msg"]
    with pytest.raises(ValidationError):
        quiet.QuietHours(start=dt.time(9), end=dt.time(9))
    # a start at or after the default end is refused too (on end), not stored to fail when read
    with pytest.raises(ValidationError) as exc:
        quiet.QuietHours(start=dt.time(20))
    assert exc.value.errors()[0]["loc"] == ("end",)


def test_resolution_order_campaign_then_channel_then_account_then_default() -> None:
    account = quiet.QuietHours(start=dt.time(9))
    channel = quiet.QuietHours(start=dt.time(10))
    campaign = quiet.QuietHours(start=dt.time(11))
    assert quiet.effective() == (quiet.QuietHours(), "default")
    assert quiet.QuietHours() == quiet.QuietHours(
        start=dt.time(8), end=dt.time(20), sundays=False, public_holidays=True, holidays=[]
    )
    assert quiet.effective(account=account) == (account, "account")
    assert quiet.effective(channel=channel, account=account) == (channel, "channel")
    assert quiet.effective(campaign=campaign, channel=channel, account=account) == (campaign, "campaign")
    assert quiet.effective(campaign=campaign) == (campaign, "campaign")


def test_a_campaign_reads_the_stored_rules_once_and_its_own_rule_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from smsdesk.campaigns import quiet_settings
    from smsdesk.campaigns.model import Campaign

    reads: list[str | None] = []
    stored = {"start": "09:00:00", "end": "18:00:00", "updated_by": "u1"}  # the item's bookkeeping is ignored

    def get_many(channel_id: str | None) -> tuple[dict[str, object] | None, dict[str, object] | None]:
        reads.append(channel_id)
        return {**stored, "start": "07:00:00"}, stored

    monkeypatch.setattr(quiet_settings.repo, "get_many", get_many)
    now = dt.datetime(2027, 7, 1, tzinfo=dt.UTC)
    campaign = Campaign(
        id="c1",
        title="Soldes",
        channel_id="ch1",
        text="Soldes",
        kind="marketing",
        audience={"numbers": ["+33612345678"]},
        created_at=now,
        updated_at=now,
    )
    assert campaign.quiet_hours is None
    assert quiet_settings.for_campaign(campaign) == quiet.QuietHours(start=dt.time(9), end=dt.time(18))
    assert reads == ["ch1"]  # the account's and the channel's rule in one read
    own = campaign.model_copy(update={"quiet_hours": quiet.QuietHours(start=dt.time(10))})
    assert quiet_settings.for_campaign(own) == quiet.QuietHours(start=dt.time(10))
    assert reads == ["ch1"]  # nothing read
