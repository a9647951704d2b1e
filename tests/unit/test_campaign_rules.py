"""Campaign rules without AWS: quiet hours in the recipient's zone, schedules, planning and pricing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from smsdesk.campaigns import plan, quiet
from smsdesk.campaigns.model import Schedule
from smsdesk.crm.audience import AudiencePage, Recipient
from smsdesk.models import Channel, Contact

PARIS = ZoneInfo("Europe/Paris")


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = PARIS) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2026, 12, 1, 23), at(2026, 12, 2, 8)),  # Tuesday 23:00 → Wednesday 08:00
        (at(2026, 12, 2, 7, 59), at(2026, 12, 2, 8)),
        (at(2026, 12, 2, 8), at(2026, 12, 2, 8)),  # open: now
        (at(2026, 12, 2, 19, 59), at(2026, 12, 2, 19, 59)),
        (at(2026, 12, 2, 20), at(2026, 12, 3, 8)),  # 20:00 is quiet again
        (at(2026, 12, 5, 21), at(2026, 12, 7, 8)),  # Saturday evening → Monday (no Sundays)
        (at(2026, 12, 6, 12), at(2026, 12, 7, 8)),  # Sunday noon
        (at(2026, 3, 29, 1), at(2026, 3, 30, 8)),  # the DST Sunday: Monday 08:00 local
    ],
)
def test_next_allowed_moment_in_the_recipients_zone(now: dt.datetime, expected: dt.datetime) -> None:
    assert quiet.next_allowed(now.astimezone(dt.UTC), PARIS, quiet.QuietHours()) == expected


def test_holidays_and_sundays_are_configurable() -> None:
    q = quiet.QuietHours(sundays=True, holidays=[dt.date(2026, 12, 25)])
    assert quiet.next_allowed(at(2026, 12, 6, 12), PARIS, q) == at(2026, 12, 6, 12)
    assert quiet.next_allowed(at(2026, 12, 24, 21), PARIS, q) == at(2026, 12, 26, 8)
    with pytest.raises(ValidationError):
        quiet.QuietHours(start=dt.time(20), end=dt.time(8))


def test_zone_from_contact_then_number_then_utc() -> None:
    assert quiet.zone_for("America/New_York", "+33612345678") == ZoneInfo("America/New_York")
    assert quiet.zone_for(None, "+33612345678") == ZoneInfo("Europe/Paris")
    assert quiet.zone_for(None, "+12025550123") == ZoneInfo("UTC")  # several zones: unknown


def test_schedule_expressions() -> None:
    once = Schedule(at=dt.datetime(2026, 12, 1, 9), time_zone="Europe/Paris")
    assert once.expression() == "at(2026-12-01T09:00:00)" and not once.recurring
    assert once.at_utc() == dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert Schedule(cron="0 9 ? * MON *").expression() == "cron(0 9 ? * MON *)"
    assert Schedule(rate="1 day").expression() == "rate(1 day)"
    for bad in (
        {},
        {"cron": "0 9 * *"},
        {"rate": "0 days"},
        {"rate": "1 week"},
        {"at": "2026-12-01T09:00:00", "rate": "1 day"},
    ):
        with pytest.raises(ValidationError):
            Schedule.model_validate(bad)
    with pytest.raises(ValidationError):
        Schedule(rate="1 day", time_zone="Mars/Olympus")


def channel(**kw: object) -> Channel:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    base = {
        "id": "c1",
        "name": "c",
        "type": "two_way",
        "sender": "+3197010000001",
        "provider": "sandbox",
        "created_at": now,
        "updated_at": now,
    }
    return Channel.model_validate({**base, **kw})


def contact(first: str | None, number: str, **kw: object) -> Contact:
    return Contact(id=f"id{number}", first_name=first, mobile=number, created_at=dt.datetime(2026, 1, 1), **kw)


def test_planning_merges_prices_per_country_and_counts_the_footer() -> None:
    ch = channel(country_multipliers={"FR": 2, "*": 1})
    planner = plan.Planner(ch, plan.full_template("Hi {{first_name|there}} {{city|}}", "marketing", ch), "NL")
    page = AudiencePage(
        recipients=[
            Recipient(
                number="+33612345678",
                contact_id="a",
                via="contact",
                contact=contact("Élodie", "+33612345678", custom_fields={"city": "Lyon"}),
            ),
            Recipient(number="+31612345678", contact_id="b", via="contact", contact=contact(None, "+31612345678")),
            Recipient(number="+31612345679", via="number"),
        ],
        excluded=[],
    )
    preview = plan.summarise(plan.plan_pages(planner, [page]), footer=plan.footer_for(ch), per_recipient=3)
    texts = [r["text"] for r in preview.per_recipient or []]
    assert texts == ["Hi Élodie Lyon\nSTOP to opt out", "Hi there \nSTOP to opt out", "Hi there \nSTOP to opt out"]
    assert preview.recipients == 3 and preview.segments == 3
    assert preview.credits == 4  # France costs 2 per segment
    assert preview.by_country["FR"].credits == 2 and preview.by_country["NL"].credits == 2
    assert preview.longest_text == "Hi Élodie Lyon\nSTOP to opt out"


def test_a_missing_merge_field_excludes_only_that_recipient() -> None:
    ch = channel()
    planner = plan.Planner(ch, "Hello {{first_name}}", "NL")
    page = AudiencePage(
        recipients=[
            Recipient(number="+31612345678", contact_id="a", via="contact", contact=contact("Ann", "+31612345678")),
            Recipient(number="+31612345679", contact_id="b", via="contact", contact=contact(None, "+31612345679")),
        ],
        excluded=[],
    )
    preview = plan.summarise(plan.plan_pages(planner, [page]), footer=None)
    assert preview.recipients == 1 and preview.excluded == {"missing_merge_field": 1}


def test_the_channels_own_footer() -> None:
    ch = channel(opt_out_footer="STOP au 36180")
    assert plan.full_template("Soldes -20%", "marketing", ch) == "Soldes -20%\nSTOP au 36180"
    assert plan.full_template("Soldes -20%", "alert", ch) == "Soldes -20%"


def test_the_local_schedule_drivers_cron() -> None:
    from smsdesk.local.scheduler_driver import cron_next

    after = dt.datetime(2026, 11, 29, 21, 0, tzinfo=dt.UTC)  # a Sunday, 22:00 in Paris
    assert cron_next("0 9 ? * MON *", after, PARIS) == at(2026, 11, 30, 9)
    assert cron_next("0/15 * * * ? *", after, PARIS) == at(2026, 11, 29, 22, 15)
    assert cron_next("30 8 1 JAN-MAR ? 2027", after, PARIS) == at(2027, 1, 1, 8, 30)
    assert cron_next("0 12 ? * 2-6 *", after, PARIS) == at(2026, 11, 30, 12)  # 2-6 = MON-FRI
    assert cron_next("0 9 1 1 ? 2020", after, PARIS) is None
    # a plain value next to a stepped one is that value alone (not "from it to the end")
    assert cron_next("5,40/30 * * * ? *", after, PARIS) == at(2026, 11, 29, 22, 5)
    assert cron_next("5,40/30 * * * ? *", at(2026, 11, 29, 22, 5), PARIS) == at(2026, 11, 29, 22, 40)
    with pytest.raises(ValueError):
        cron_next("0 9 * *", after, PARIS)
