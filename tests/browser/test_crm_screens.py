"""CRM links in Chromium (issue 16): from a conversation's side panel, create a deal pre-filled from the
contact and link it; the deal's page shows the linked conversation and the transcript note the
``crmnotes`` function writes; a note edited there is marked edited; unlink from the panel."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from browser.webapp import api as _api
from browser.webapp import axe_violations, sign_in
from playwright.sync_api import expect

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, utcnow


def test_link_a_conversation_to_a_new_deal_and_edit_its_note(page: Any, stack: LocalStack) -> None:
    ch = _api(
        stack,
        "POST",
        "/v1/channels",
        {"name": "CRM", "type": "two_way", "sender": f"+3165{uuid.uuid4().int % 10**7:07d}", "provider": "sandbox"},
    )
    channel = channels.get_channel(ch["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": "+31612398765"},
        to=channel.sender,
        text="Do you install solar panels?",
        received_at=utcnow(),
    )
    conv_id = conversations.record_inbound(channel, sms).conversation.id

    sign_in(page, stack, "/admin/crm")
    settings = page.get_by_role("form", name="CRM settings")
    settings.get_by_label("Web app address", exact=True).fill("desk.example.com")
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_label("Web app address", exact=True)).to_have_accessible_description(
        re.compile("not an http")
    )
    settings.get_by_label("Web app address", exact=True).fill("https://desk.example.com")
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_role("status")).to_have_text("Saved.")
    settings.get_by_label("Write transcript notes to Pipedrive").check()
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_contain_text("Pipedrive needs its API token first")

    page.goto(f"/?view=unassigned&c={conv_id}")
    panel = page.get_by_test_id("crm-links")
    expect(panel).to_contain_text("Not linked yet.")
    panel.get_by_role("button", name="Link").click()
    form = panel.get_by_role("form", name="Link")
    form.get_by_label("Type", exact=True).select_option("deal")
    expect(form.get_by_label("Item", exact=True)).to_have_value("new")
    assert axe_violations(page) == []
    form.get_by_label("Title", exact=True).fill("Solar panels")
    form.get_by_role("button", name="Link").click()
    deal_link = panel.get_by_role("link", name="Deal: Solar panels")
    expect(deal_link).to_be_visible()

    deal_link.click()
    expect(page.get_by_role("heading", name="Solar panels")).to_be_visible()
    expect(page.get_by_test_id("crm-status")).to_have_text("Open")
    expect(page.get_by_role("link", name="Open the conversation")).to_be_visible()
    notes = page.get_by_test_id("crm-notes")
    deadline = time.monotonic() + 10
    while "Do you install solar panels?" not in (notes.text_content() or "") and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
        notes = page.get_by_test_id("crm-notes")
    expect(notes).to_contain_text("Do you install solar panels?")
    expect(notes).to_contain_text("Status: open, unassigned")
    expect(notes).to_contain_text(f"https://desk.example.com/inbox/{conv_id}")
    assert axe_violations(page) == []

    notes.get_by_role("button", name="Edit").click()
    notes.get_by_label("Note", exact=True).fill("Called back: wants a quote.")
    notes.get_by_role("button", name="Save").click()
    expect(notes.locator("li[data-note-state='edited']")).to_contain_text("Called back: wants a quote.")
    expect(notes).to_contain_text("edited")

    page.goto(f"/?view=unassigned&c={conv_id}")
    panel = page.get_by_test_id("crm-links")
    panel.get_by_role("button", name="Unlink Deal: Solar panels").click()
    expect(panel).to_contain_text("Not linked yet.")
