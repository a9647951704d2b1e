"""Quiet hours in Chromium (issue 14 item 6): the admin sets the account's quiet hours (a window across
midnight is refused on the field), a channel overrides them in its settings, and the campaign composer
shows the rule that applies to marketing on that channel."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from typing import Any

from browser.webapp import axe_violations, sign_in
from playwright.sync_api import expect

from smsdesk.local.stack import LocalStack


def _api(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        f"{stack.base_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def test_account_and_channel_quiet_hours_and_the_composers_line(page: Any, stack: LocalStack) -> None:
    sender = f"+3165{uuid.uuid4().int % 10**7:07d}"
    ch = _api(
        stack, "POST", "/v1/channels", {"name": "Quiet", "type": "two_way", "sender": sender, "provider": "sandbox"}
    )

    sign_in(page, stack, "/admin/quiet-hours")
    form = page.get_by_role("form", name="Quiet hours for marketing")
    expect(form.get_by_test_id("quiet-source")).to_have_text(re.compile("built-in rule"))
    expect(form.get_by_label("Allowed from")).to_have_value("08:00")
    form.get_by_label("Allowed from").fill("21:00")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Quiet again from")).to_have_accessible_description(re.compile("cross midnight"))
    form.get_by_label("Allowed from").fill("09:00")
    form.get_by_label("Allow marketing on Sundays").check()
    form.get_by_label("Extra closing dates").fill("2027-12-24")
    form.get_by_role("button", name="Add date").click()
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_have_text("Saved.")
    expect(form.get_by_test_id("quiet-source")).to_have_text("The account's quiet hours apply.")
    assert not axe_violations(page)
    stored = _api(stack, "GET", "/v1/quiet-hours")["quiet_hours"]
    assert (stored["start"], stored["sundays"], stored["holidays"]) == ("09:00:00", True, ["2027-12-24"])

    # the channel's settings: the account's rule applies until the channel has its own
    page.goto(f"/admin/channels/{ch['id']}")
    own = page.get_by_test_id("quiet-hours-channel")
    expect(own.get_by_test_id("quiet-source")).to_have_text("The account's quiet hours apply.")
    expect(own.get_by_label("Allowed from")).to_have_value("09:00")
    own.get_by_label("Quiet again from").fill("18:30")
    own.get_by_role("button", name="Save").click()
    expect(own.get_by_test_id("quiet-source")).to_have_text("This channel's own quiet hours apply.")
    expect(own.get_by_role("button", name="Use the account's quiet hours")).to_be_visible()

    # the composer shows the rule marketing on that channel runs under
    page.goto("/campaigns")
    page.get_by_label("Channel").select_option(ch["id"])
    page.get_by_label("Kind").select_option("marketing")
    expect(page.get_by_test_id("quiet-summary")).to_have_text(
        re.compile(r"09:00.18:30 in the recipient's time zone, not on public holidays, .*\(channel setting\)")
    )
    _api(stack, "DELETE", f"/v1/channels/{ch['id']}/quiet-hours")
    _api(stack, "DELETE", "/v1/quiet-hours")
