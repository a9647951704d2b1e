"""Bots in Chromium (issue 15): the bot editor checked by the API as you type (the error under the
step it names), the channel's automations, and a bot's messages and runs in the conversation view."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

from browser.webapp import api as _api
from browser.webapp import axe_violations, screenshot, sign_in
from playwright.sync_api import expect

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms


def test_bot_editor_automations_and_the_bot_in_the_thread(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    _api(stack, "POST", "/v1/contact-fields", {"key": "order_no", "label": "Order number", "type": "text"})
    _api(stack, "POST", "/v1/credits/top-ups", {"credits": 100, "reference": "bots"})
    sign_in(page, stack, "/admin/bots/new")
    page.get_by_label("Name", exact=True).fill("Order bot")
    check = page.get_by_test_id("flow-check")
    # the starter's question saves nowhere yet: the API says so under that step
    expect(page.locator('[data-field="flow.steps.1.choices"]')).to_contain_text("choices or save_to")
    expect(check).to_have_text("The flow has errors (shown under the steps).")
    step2 = page.locator('li[data-step="order"]')
    step2.get_by_label("Save the answer in field").fill("order_no")
    expect(check).to_have_text("The flow is valid.")
    # renaming a step leaves the first one pointing nowhere: named under its "Then"
    step2.get_by_label("Step id").fill("orders")
    expect(page.locator('[data-field="flow.steps.0.next"]')).to_contain_text("not a step")
    page.locator('li[data-step="orders"]').get_by_label("Step id").fill("order")
    expect(check).to_have_text("The flow is valid.")
    assert axe_violations(page) == []
    screenshot(page, "bot-editor", tmp_path, full_page=True)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/admin/bots/[0-9A-Z]{26}$"))
    expect(page.get_by_role("heading", name="Order bot")).to_be_visible()
    bot_id = page.url.rsplit("/", 1)[-1]

    ch = _api(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": "Bot desk",
            "type": "two_way",
            "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
            "provider": "sandbox",
        },
    )
    page.goto(f"/admin/channels/{ch['id']}")
    form = page.get_by_role("form", name="Automations")
    form.get_by_label("Bot on start").select_option(label="Order bot")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_text("Saved.")).to_be_visible()
    assert _api(stack, "GET", f"/v1/channels/{ch['id']}")["bot_on_start"] == bot_id

    channel = channels.get_channel(ch["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": "+31620009999"},
        to=channel.sender,
        text="where is my parcel?",
        received_at=dt.datetime.now(dt.UTC),
    )
    conv_id = conversations.record_inbound(channel, sms).conversation.id
    page.goto(f"/?view=unassigned&c={conv_id}")
    messages = page.get_by_test_id("messages")
    expect(messages).to_contain_text("What is your order number?")
    expect(messages.locator("li.outbound").first).to_contain_text("Bot")
    expect(page.get_by_test_id("conv-state")).to_have_text("With a bot")
    runs = page.get_by_test_id("bot-runs")
    expect(runs).to_contain_text("Bot runs: 1")
    runs.locator("summary").click()
    expect(runs).to_contain_text("On start · running")


def test_the_dashboard_csat_has_its_own_period(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    """CSAT over the last 30 days by default; a longer period adds older surveys (issue 15)."""
    from smsdesk.data import bots as bots_repo

    ch = _api(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": "CSAT desk",
            "type": "two_way",
            "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
            "provider": "sandbox",
        },
    )
    today = dt.datetime.now(dt.UTC).date()
    # as the bots function counts them: a 4 today, a 2 sixty days ago (and one unanswered then)
    bots_repo.csat_add(ch["id"], None, today, asked=1, answered=1, rating=4)
    bots_repo.csat_add(ch["id"], None, today - dt.timedelta(days=60), asked=2, answered=1, rating=2)
    sign_in(page, stack, f"/dashboard?channel={ch['id']}")
    line = page.get_by_test_id("csat")
    expect(line).to_have_text("average 4 of 5 · 1 of 1 answered (100 %)")
    period = page.get_by_label("Satisfaction period")
    expect(period).to_have_value("30")
    period.select_option(label="Last 90 days")
    expect(line).to_have_text("average 3 of 5 · 2 of 3 answered (66.67 %)")
    expect(page).to_have_url(re.compile(r"csat=90"))
    period.select_option(label="Last 7 days")
    expect(line).to_have_text("average 4 of 5 · 1 of 1 answered (100 %)")
    assert axe_violations(page) == []
    screenshot(page, "dashboard-csat", tmp_path)
