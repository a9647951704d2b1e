"""The campaign composer and detail in Chromium (issue 14): contacts picked by search (and "all
contacts") with the live preview listing the first numbers, a schedule set, then edited (text and
time: the Scheduler schedule follows), and a run's recipients read beyond the first page of 100."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

from browser.webapp import api as _api
from browser.webapp import axe_violations, sign_in
from playwright.sync_api import expect

from smsdesk.local.stack import LocalStack


def _channel(stack: LocalStack, sender: str) -> dict[str, Any]:
    body = {"name": f"Club {sender[-3:]}", "type": "two_way", "sender": sender, "provider": "sandbox"}
    return _api(stack, "POST", "/v1/channels", {**body, "throughput_mps": 100})


def test_pick_contacts_schedule_then_edit_text_and_time(page: Any, stack: LocalStack) -> None:
    from smsdesk import aws, config

    channel = _channel(stack, "+3197010000301")
    for first, mobile in (("Annabel", "+31612340301"), ("Bobby", "+31612340302"), ("Cas", "+31612340303")):
        _api(stack, "POST", "/v1/contacts", {"first_name": first, "last_name": "Picked", "mobile": mobile})

    sign_in(page, stack, "/campaigns")
    form = page.get_by_role("form", name="New campaign")
    form.get_by_label("Title", exact=True).fill("Season opener")
    form.get_by_label("Channel", exact=True).select_option(channel["id"])
    search = form.get_by_label("Find contacts by name or number")
    search.fill("Annabel")
    form.get_by_role("button", name="Add Annabel Picked").click()
    search.fill("Bobby")
    form.get_by_role("button", name="Add Bobby Picked").click()
    expect(form.get_by_test_id("picked-contacts")).to_contain_text("Annabel Picked")
    expect(form.get_by_test_id("picked-contacts")).to_contain_text("Bobby Picked")
    form.get_by_label("Message", exact=True).fill("Hi {{first_name}}, the season starts Saturday")
    expect(page.get_by_test_id("campaign-preview")).to_contain_text("2 recipients, 2 segments, 2 credits")
    shown = page.get_by_test_id("preview-recipients")
    expect(shown).to_contain_text("+31612340301")
    expect(shown).to_contain_text("Hi Bobby, the season starts Saturday")
    expect(shown).not_to_contain_text("+31612340303")
    # one picked contact removed again: the preview follows
    form.get_by_role("button", name="Remove Bobby Picked").click()
    expect(page.get_by_test_id("campaign-preview")).to_contain_text("1 recipients, 1 segments, 1 credits")
    search.fill("Bobby")
    form.get_by_role("button", name="Add Bobby Picked").click()
    expect(page.get_by_test_id("campaign-preview")).to_contain_text("2 recipients")

    form.get_by_label("Once, at a time").check()
    form.get_by_label("Date and time").fill("2031-01-02T09:30")
    form.get_by_label("Time zone").fill("Europe/Paris")
    form.get_by_role("button", name="Schedule").click()
    expect(page).to_have_url(re.compile(r"/campaigns/[^/]+$"), timeout=10_000)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("campaign-schedule")).to_contain_text("2031-01-02T09:30:00 (Europe/Paris)")
    cid = page.url.rsplit("/", 1)[1]
    schedule = aws.scheduler().get_schedule(Name=f"campaign-{cid}", GroupName=config.schedule_group_name())
    assert schedule["ScheduleExpression"] == "at(2031-01-02T09:30:00)"

    # edit the scheduled campaign: its text and its time
    page.get_by_role("button", name="Edit", exact=True).click()
    edit = page.get_by_role("form", name="Edit campaign")
    expect(edit.get_by_test_id("picked-contacts")).to_contain_text("Annabel Picked")
    expect(edit.get_by_label("Message", exact=True)).to_have_value("Hi {{first_name}}, the season starts Saturday")
    expect(edit.get_by_label("Now")).to_have_count(0)  # a scheduled campaign keeps a schedule
    assert axe_violations(page) == []
    edit.get_by_label("Message", exact=True).fill("Hi {{first_name}}, the season starts Sunday")
    edit.get_by_label("Date and time").fill("2031-01-03T10:15")
    expect(page.get_by_test_id("campaign-preview")).to_contain_text("Hi Annabel, the season starts Sunday")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_test_id("campaign-text")).to_have_text("Hi {{first_name}}, the season starts Sunday")
    expect(page.get_by_test_id("campaign-schedule")).to_contain_text("2031-01-03T10:15:00 (Europe/Paris)")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Scheduled")
    schedule = aws.scheduler().get_schedule(Name=f"campaign-{cid}", GroupName=config.schedule_group_name())
    assert schedule["ScheduleExpression"] == "at(2031-01-03T10:15:00)"
    saved = _api(stack, "GET", f"/v1/campaigns/{cid}")
    assert saved["text"] == "Hi {{first_name}}, the season starts Sunday" and len(saved["audience"]["contact_ids"]) == 2
    # a refused edit shows the API's error on its field
    page.get_by_role("button", name="Edit", exact=True).click()
    edit = page.get_by_role("form", name="Edit campaign")
    edit.get_by_label("Date and time").fill("2020-01-03T10:15")
    edit.get_by_role("button", name="Save changes").click()
    expect(edit.locator('[data-field="schedule.at"]')).to_contain_text("in the past")
    edit.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_test_id("campaign-schedule")).to_contain_text("2031-01-03T10:15:00")
    _api(stack, "POST", f"/v1/campaigns/{cid}/cancel", {})

    # a cancelled campaign can be deleted from its page (after a confirmation): gone from the list
    expect(page.get_by_test_id("campaign-status")).to_have_text("Cancelled", timeout=10_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(re.compile(r"/campaigns$"), timeout=10_000)
    try:
        _api(stack, "GET", f"/v1/campaigns/{cid}")
        raise AssertionError("the deleted campaign is still there")
    except urllib.error.HTTPError as err:
        assert err.code == 404


def test_all_contacts_in_the_preview(page: Any, stack: LocalStack) -> None:
    channel = _channel(stack, "+3197010000302")
    _api(stack, "POST", "/v1/contacts", {"first_name": "Everyone", "mobile": "+31612340311"})
    expected = _api(
        stack,
        "POST",
        "/v1/campaigns/preview",
        {"title": "x", "channel_id": channel["id"], "text": "Hello", "audience": {"all": True}},
    )
    assert expected["recipients"] >= 1
    sign_in(page, stack, "/campaigns")
    form = page.get_by_role("form", name="New campaign")
    form.get_by_label("Title", exact=True).fill("Everybody")
    form.get_by_label("Channel", exact=True).select_option(channel["id"])
    form.get_by_label("Message", exact=True).fill("Hello")
    expect(form.get_by_role("button", name="Send now")).to_be_disabled()  # nobody chosen yet
    form.get_by_label("All contacts").check()
    expect(page.get_by_test_id("campaign-preview")).to_contain_text(f"{expected['recipients']} recipients")
    form.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Draft")
    cid = page.url.rsplit("/", 1)[1]
    assert _api(stack, "GET", f"/v1/campaigns/{cid}")["audience"]["all"] is True


def test_recipients_beyond_the_first_hundred(page: Any, stack: LocalStack) -> None:
    channel = _channel(stack, "+3197010000303")
    _api(stack, "POST", "/v1/credits/top-ups", {"credits": 200, "reference": "paging"})
    numbers = [f"+316123404{i:02d}" for i in range(2, 97)] + [f"+316123405{i:02d}" for i in range(2, 12)]
    body = {"title": "Big one", "channel_id": channel["id"], "text": "Hi", "audience": {"numbers": [*numbers, "+3120"]}}
    campaign = _api(stack, "POST", "/v1/campaigns", body)
    _api(stack, "POST", f"/v1/campaigns/{campaign['id']}/launch", {})

    sign_in(page, stack, f"/campaigns/{campaign['id']}")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed", timeout=30_000)
    rows = page.get_by_test_id("campaign-recipients").locator("tbody tr")
    expect(rows).to_have_count(100)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(106)
    expect(page.get_by_test_id("recipients-shown")).to_have_text("106 shown")
    assert axe_violations(page) == []
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    expect(page.get_by_test_id("campaign-recipients")).to_contain_text("+31612340511")
    page.get_by_role("button", name="Left out").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+3120")
    page.get_by_role("button", name="Handed to sending").click()
    expect(rows).to_have_count(100)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(105)
