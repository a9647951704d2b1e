"""The web app in Chromium against the local stack: what a newcomer does after `make run`.

The tests of this module share one stack and run in order (a channel created by one is used by
the next), as a person would go through the app.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from browser.webapp import axe_violations, screenshot, sign_in, sign_out
from playwright.sync_api import expect
from queue_helpers import inbound

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, utcnow

CHANNEL = "Support NL"
NUMBER = "+31201234567"


def _channel_id(stack: LocalStack) -> str:
    req = urllib.request.Request(f"{stack.base_url}/v1/channels", headers={"authorization": f"Bearer {stack.token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return next(c["id"] for c in json.load(resp)["items"] if c["name"] == CHANNEL)


def test_the_app_is_served_on_the_api_origin(page: Any, stack: LocalStack) -> None:
    page.goto("/admin/credits")  # a deep link: index.html, then the sign-in
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    cfg = page.evaluate("() => fetch('/config.json').then(r => r.json())")
    assert cfg["userPoolClientId"] and cfg["cognitoEndpoint"].startswith("http://127.0.0.1:")
    assert page.evaluate("() => fetch('/health').then(r => r.json())") == {"status": "ok", "stage": "local"}


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(page: Any, stack: LocalStack) -> None:
    page.goto("/")
    page.get_by_label("E-mail").fill("admin@smsdesk.local")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    page.get_by_label("Password").fill(stack.tokens.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Unassigned")).to_be_visible()
    page.reload()  # the tab keeps its session (refresh token), no second sign-in
    expect(page.locator("#user-menu-button")).to_be_visible()
    sign_out(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_admin_creates_a_channel_with_errors_next_to_fields(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    sign_in(page, stack, "/admin/channels")
    page.get_by_role("button", name="New channel").click()
    form = page.get_by_role("form", name="New channel")
    form.get_by_label("Name").fill(CHANNEL)
    form.get_by_label("Sender").fill("not a number")
    form.get_by_role("button", name="Create channel").click()
    # The API's 422 names `sender`: the message sits under that field.
    expect(form.locator('[data-field="sender"]')).to_be_visible()
    form.get_by_label("Sender").fill(NUMBER)
    form.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("heading", name=CHANNEL)).to_be_visible()
    expect(page.get_by_text(re.compile(r"/webhooks/sandbox/.+/inbound"))).to_be_visible()
    queue = page.get_by_role("form", name="Queue")
    queue.get_by_label("Distribution").select_option("round_robin")
    queue.get_by_label("Max in queue (0 = no limit)").fill("25")
    queue.get_by_role("button", name="Save").click()
    expect(queue.get_by_role("status")).to_have_text("Saved.")
    page.reload()
    expect(page.get_by_label("Max in queue (0 = no limit)")).to_have_value("25")
    screenshot(page, "channel-settings", tmp_path, full_page=True)
    assert not axe_violations(page)


def test_send_needs_credits_then_is_delivered(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    sign_in(page, stack, "/send")
    page.get_by_label("To").fill("0612345678")
    expect(page.get_by_test_id("e164")).to_have_text("Sends to +31612345678")
    text = "Your order is ready 🙂"
    page.get_by_label("Message").fill(text)
    expect(page.get_by_test_id("counter-encoding")).to_have_text("UCS-2")
    expect(page.get_by_test_id("counter-detail")).to_contain_text("🙂")
    expect(page.get_by_test_id("counter-credits")).to_have_text("1 credit")
    box = page.get_by_label("Message").bounding_box()
    page.get_by_label("Message").press_sequentially("!!")  # typing never moves the form
    assert page.get_by_label("Message").bounding_box() == box
    page.get_by_role("button", name="Send", exact=True).click()
    # 402: the balance and the cost, and the text stays in the box.
    expect(page.get_by_role("alert")).to_have_text("Not enough credits: this message costs 1, the balance is 0.")
    expect(page.get_by_label("Message")).to_have_value(text + "!!")

    page.get_by_role("link", name="Credits").click()
    page.get_by_role("spinbutton", name="Credits").fill("100")
    page.get_by_label("Reference").fill("INV-1")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_test_id("balance")).to_have_text("100")

    page.get_by_role("link", name="Send SMS").click()
    page.get_by_label("To").fill("0612345678")
    page.get_by_label("Message").fill("Your order is ready")
    expect(page.get_by_test_id("counter-encoding")).to_have_text("GSM-7")
    screenshot(page, "send", tmp_path)
    assert not axe_violations(page)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("sent-result")).to_contain_text("+31612345678")
    page.get_by_role("link", name="Follow its status").click()
    row = page.locator("tr[data-status]").first
    expect(row).to_have_attribute("data-status", "delivered", timeout=15_000)
    expect(page.locator("tr.history")).to_contain_text("Delivered")


def test_inbound_appears_within_5_s_then_reply_and_close(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    sign_in(page, stack)
    channel_id = _channel_id(stack)
    expect(page.get_by_test_id("count-unassigned")).to_have_text("0")
    t0 = time.monotonic()
    conv_id = inbound(channel_id)
    item = page.get_by_test_id("conversation-list").get_by_role("link").first
    expect(item).to_contain_text("hello", timeout=5_000)
    assert time.monotonic() - t0 < 5
    expect(page.get_by_test_id("count-unassigned")).to_have_text("1")
    item.click()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_role("alert")).to_be_visible()  # 409: the owner is away; the API's reason shows
    page.get_by_role("switch", name="Away").click()
    expect(page.get_by_role("switch", name="Available")).to_have_attribute("aria-checked", "true")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_test_id("conv-state")).to_have_text("Assigned to You")
    page.get_by_label("Reply").fill("Hi! How can we help?")
    expect(page.get_by_test_id("counter-chars")).to_have_text("20 characters")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_label("Reply")).to_have_value("")
    outbound = page.get_by_test_id("messages").locator("li.outbound").last
    expect(outbound).to_contain_text("Hi! How can we help?")
    expect(outbound).to_have_attribute("data-status", "delivered", timeout=15_000)
    screenshot(page, "inbox", tmp_path)
    assert not axe_violations(page)
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.get_by_test_id("conv-state")).to_have_text("Closed")
    expect(page.get_by_test_id("count-closed")).to_have_text("1")
    expect(page.get_by_test_id("count-mine")).to_have_text("0")

    # The customer texts again: the closed conversation reopens in the open screen within 5 s.
    conv = conversations.get(conv_id)
    assert conv is not None
    channel = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": conv.number},
        to=channel.sender,
        text="one more thing",
        received_at=utcnow(),
    )
    conversations.record_inbound(channel, sms)
    expect(page.get_by_test_id("conv-state")).not_to_have_text("Closed", timeout=5_000)
    expect(page.get_by_test_id("count-closed")).to_have_text("0", timeout=5_000)
    expect(page.get_by_test_id("messages")).to_contain_text("one more thing", timeout=5_000)


def test_language_follows_the_browser_and_the_switcher(chromium: Any, stack: LocalStack) -> None:
    context = chromium.new_context(locale="nl-NL", base_url=stack.base_url)
    try:
        pg = context.new_page()
        pg.goto("/")
        expect(pg.get_by_role("button", name="Aanmelden")).to_be_visible()
        assert pg.evaluate("() => document.documentElement.lang") == "nl"
        pg.get_by_label("Taal").select_option("fr")
        expect(pg.get_by_role("button", name="Se connecter")).to_be_visible()
        assert not axe_violations(pg)
    finally:
        context.close()
