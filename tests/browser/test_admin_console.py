"""The admin console in Chromium: teams and channel grants, blocklist and opt-outs with their consent
history, business hours, the channel dashboard, notification preferences, and the inbox at phone width.

The tests of this module share one stack and run in order (the dashboard's inbound is the one the
phone-width test opens)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser.webapp import api as _api
from browser.webapp import axe_violations, screenshot, sign_in
from playwright.sync_api import expect
from queue_helpers import inbound

from smsdesk.local.stack import LocalStack

CHANNEL = "Helpdesk"
NUMBER = "+31207654321"


@pytest.fixture(scope="module")
def channel_id(stack: LocalStack) -> str:
    body = {"name": CHANNEL, "type": "two_way", "sender": NUMBER, "provider": "sandbox"}
    return str(_api(stack, "POST", "/v1/channels", body)["id"])


def test_teams_members_and_the_channel_grant(page: Any, stack: LocalStack, channel_id: str) -> None:
    sign_in(page, stack, "/admin/teams")
    page.get_by_label("Team name").fill("Night shift")
    page.get_by_role("button", name="Create team").click()
    row = page.locator('tr[data-team="Night shift"]')
    expect(row.get_by_test_id("team-members")).to_have_text("–")
    opener = page.get_by_role("button", name="Members of Night shift")
    opener.click()
    dialog = page.get_by_role("dialog", name="Members of Night shift")
    expect(dialog.get_by_label("Local Admin")).to_be_visible()
    page.keyboard.press("Escape")  # Escape closes the dialog; focus goes back to its button
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    opener.click()
    dialog.get_by_label("Local Admin").check()
    dialog.get_by_role("button", name="Save").click()
    expect(row.get_by_test_id("team-members")).to_have_text("Local Admin")
    assert not axe_violations(page)

    page.goto(f"/admin/channels/{channel_id}")
    grants = page.get_by_role("form", name="Teams with access")
    grants.get_by_label("Night shift").check()
    grants.get_by_role("button", name="Save").click()
    expect(grants.get_by_role("status")).to_have_text("Saved.")
    assert _api(stack, "GET", f"/v1/channels/{channel_id}")["team_ids"]
    page.get_by_role("link", name="Teams").click()
    expect(row.get_by_test_id("team-channels")).to_have_text(CHANNEL)


def test_block_a_number_and_an_opt_out_with_its_consent_history(page: Any, stack: LocalStack) -> None:
    sign_in(page, stack, "/admin/lists")
    block = page.get_by_role("form", name="Block number")
    block.get_by_label("Number").fill("not a number")
    block.get_by_role("button", name="Block number").click()
    expect(block.locator('[data-field="number"]')).to_be_visible()  # the API's 422 names `number`
    block.get_by_label("Number").fill("0612340001")  # national: read in the account's region
    block.get_by_label("Direction").select_option("outbound")
    block.get_by_label("Reason").fill("Complaint")
    block.get_by_role("button", name="Block number").click()
    entry = page.get_by_test_id("blocklist").locator('tr[data-number="+31612340001"]')
    expect(entry).to_contain_text("Outbound only")
    expect(entry).to_contain_text("All channels")

    optout = page.get_by_role("form", name="Record opt-out")
    optout.get_by_label("Number").fill("+31612340002")
    optout.get_by_label("Reason").fill("Asked by phone")
    optout.get_by_role("button", name="Record opt-out").click()
    expect(page.get_by_test_id("optouts").locator('tr[data-number="+31612340002"]')).to_contain_text("Asked by phone")
    page.get_by_role("button", name="Opt +31612340002 in again").click()
    page.get_by_role("dialog").get_by_label("Reason").fill("Signed the form again")
    page.get_by_role("dialog").get_by_role("button", name="Opt in again").click()
    expect(page.get_by_test_id("optouts").locator('tr[data-number="+31612340002"]')).to_have_count(0)
    lookup = page.get_by_role("form", name="Consent history of a number")
    lookup.get_by_label("Number").fill("+31612340002")
    lookup.get_by_label("Number").press("Enter")
    history = page.get_by_test_id("consent-history")
    expect(history.locator("li")).to_have_count(2)
    expect(history).to_contain_text("Opted out")
    expect(history).to_contain_text("Signed the form again")
    assert not axe_violations(page)
    page.keyboard.press("Escape")
    expect(history).to_be_hidden()


def test_business_hours_are_saved_and_reloaded(page: Any, stack: LocalStack, channel_id: str) -> None:
    sign_in(page, stack, f"/admin/channels/{channel_id}")
    hours = page.get_by_role("form", name="Business hours")
    hours.get_by_label("Use business hours").check()
    hours.get_by_label("Time zone").fill("Europe/Madrid")
    hours.get_by_role("button", name="Add hours on Monday").click()
    expect(hours.get_by_label("Monday from (1)")).to_have_value("09:00")
    hours.get_by_role("button", name="Copy to Tue–Fri").click()
    hours.get_by_role("button", name="Add hours on Saturday").click()
    hours.get_by_label("Saturday until (1)").fill("08:00")  # before 09:00: the API refuses it
    hours.get_by_label("Holidays (closed all day)").fill("2030-12-25")
    hours.get_by_role("button", name="Add holiday").click()
    hours.get_by_label("Out-of-hours message").fill("We are closed; we answer tomorrow.")
    hours.get_by_role("button", name="Save").click()
    expect(hours.locator('[data-field="business_hours.weekly.sat"]')).to_contain_text("end must be after start")
    hours.get_by_label("Saturday until (1)").fill("12:30")
    hours.get_by_role("button", name="Save").click()
    expect(hours.get_by_role("status")).to_have_text("Saved.")
    page.reload()
    hours = page.get_by_role("form", name="Business hours")
    expect(hours.get_by_label("Use business hours")).to_be_checked()
    expect(hours.get_by_label("Time zone")).to_have_value("Europe/Madrid")
    expect(hours.get_by_label("Friday until (1)")).to_have_value("17:00")
    expect(hours.get_by_label("Saturday until (1)")).to_have_value("12:30")
    expect(hours.locator('tr[data-day="sun"]')).to_contain_text("Closed")
    expect(hours.get_by_test_id("holidays")).to_contain_text("2030")
    expect(hours.get_by_label("Out-of-hours message")).to_have_value("We are closed; we answer tomorrow.")
    bh = _api(stack, "GET", f"/v1/channels/{channel_id}")["business_hours"]
    assert bh["weekly"]["fri"] == [{"start": "09:00:00", "end": "17:00:00"}] and bh["holidays"] == ["2030-12-25"]
    assert not axe_violations(page)
    # Open around the clock again, so the inbound of the next test is queued, not answered out of hours.
    _api(stack, "PATCH", f"/v1/channels/{channel_id}", {"business_hours": {"enabled": False}})


def test_the_dashboard_shows_the_queue_after_an_inbound(
    page: Any, stack: LocalStack, channel_id: str, tmp_path: Path
) -> None:
    sign_in(page, stack, "/dashboard")
    expect(page.get_by_text("Nobody is waiting.")).to_be_visible()
    inbound(channel_id)
    waiting = page.get_by_test_id("queue-waiting").locator("tbody tr")
    expect(waiting).to_have_count(1, timeout=8_000)  # refreshed every 5 s
    expect(waiting.first).to_contain_text("hello")
    expect(page.get_by_test_id("stat-waiting")).to_have_text("1")
    expect(page.get_by_test_id("stat-unassigned")).to_have_text("1")
    screenshot(page, "dashboard", tmp_path)
    assert not axe_violations(page)


def test_notification_preferences_save_by_keyboard(page: Any, stack: LocalStack) -> None:
    sign_in(page, stack)
    page.keyboard.press("Tab")  # the first stop is the skip link, with a visible focus ring
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.locator("#user-menu-button").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Notification preferences").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Notification preferences")
    box = dialog.get_by_label("New message in a colleague's conversation")
    expect(box).not_to_be_checked()
    box.focus()
    page.keyboard.press("Space")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("status")).to_have_text("Saved.")
    assert not axe_violations(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#user-menu-button")).to_be_focused()
    assert _api(stack, "GET", "/v1/me/notification-preferences")["new_message_others"] is True
    page.reload()
    page.locator("#user-menu-button").click()
    page.get_by_role("button", name="Notification preferences").click()
    expect(page.get_by_role("dialog").get_by_label("New message in a colleague's conversation")).to_be_checked()


def test_phone_width_inbox_one_pane_with_back(chromium: Any, stack: LocalStack) -> None:
    context = chromium.new_context(locale="en-GB", viewport={"width": 390, "height": 844}, base_url=stack.base_url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, stack)
        conversations = page.get_by_test_id("conversation-list")
        item = conversations.get_by_role("link").first
        expect(item).to_contain_text("hello")
        expect(page.get_by_role("region", name="Conversation")).to_be_hidden()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        assert not axe_violations(page)
        item.click()
        expect(page.get_by_role("button", name="Back")).to_be_visible()
        expect(conversations).to_be_hidden()
        expect(page.get_by_test_id("messages")).to_contain_text("hello")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.get_by_role("button", name="Back").click()
        expect(conversations).to_be_visible()
        expect(page.get_by_role("region", name="Conversation")).to_be_hidden()
        page.go_back()  # the browser's back button works too: the URL carries the pane
        expect(page.get_by_role("button", name="Back")).to_be_visible()
    finally:
        context.close()
