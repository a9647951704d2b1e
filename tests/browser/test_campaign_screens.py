"""Campaigns in Chromium (issue 14): compose with the live preview (recipients and credits as the
launch will reserve), send, and watch the campaign run to completed with its recipients."""

from __future__ import annotations

import re
from typing import Any

from browser.webapp import api as _api
from browser.webapp import sign_in
from playwright.sync_api import expect

from smsdesk.local.stack import LocalStack


def test_compose_with_the_live_preview_send_and_watch_it_complete(page: Any, stack: LocalStack) -> None:
    channel = _api(
        stack,
        "POST",
        "/v1/channels",
        {"name": "Club", "type": "two_way", "sender": "+3197010000201", "provider": "sandbox", "throughput_mps": 10},
    )
    _api(stack, "POST", "/v1/credits/top-ups", {"credits": 50, "reference": "browser"})
    ids = [
        _api(stack, "POST", "/v1/contacts", {"first_name": name, "mobile": mobile})["id"]
        for name, mobile in (("Ann", "+31612340201"), ("Bob", "+31612340202"))
    ]
    group = _api(stack, "POST", "/v1/groups", {"name": "Team A"})
    _api(stack, "POST", f"/v1/groups/{group['id']}/members", {"contact_ids": ids})

    sign_in(page, stack, "/campaigns")
    form = page.get_by_role("form", name="New campaign")
    form.get_by_label("Title", exact=True).fill("Match moved")
    form.get_by_label("Channel", exact=True).select_option(channel["id"])
    form.get_by_label("Team A").check()
    form.get_by_label("Message", exact=True).fill("Hi {{first_name|there}}, the match moves to 10:00")
    preview = page.get_by_test_id("campaign-preview")
    expect(preview).to_contain_text("2 recipients, 2 segments, 2 credits")
    expect(page.get_by_test_id("longest")).to_contain_text("Hi Ann, the match moves to 10:00")
    form.get_by_role("button", name="Send now").click()

    expect(page).to_have_url(re.compile(r"/campaigns/[^/]+$"), timeout=10_000)
    expect(page.get_by_role("heading", name="Match moved")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed", timeout=30_000)
    rows = page.get_by_test_id("campaign-recipients").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("queued")
    page.get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_test_id("campaigns")).to_contain_text("Match moved")
