"""The new-channel form's sandbox setting: which delivery receipts the sandbox carrier posts (final
only by default; "all" adds ``sent`` first), sent as ``provider_settings.receipts``."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from browser.webapp import axe_violations, sign_in
from playwright.sync_api import expect

from smsdesk.local.stack import LocalStack


def _channels(stack: LocalStack) -> dict[str, dict[str, Any]]:
    req = urllib.request.Request(f"{stack.base_url}/v1/channels", headers={"authorization": f"Bearer {stack.token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return {c["name"]: c for c in json.load(resp)["items"]}


def test_a_sandbox_channel_is_created_with_the_receipts_it_wants(page: Any, stack: LocalStack) -> None:
    sign_in(page, stack, "/admin/channels")
    page.get_by_role("button", name="New channel").click()
    form = page.get_by_role("form", name="New channel")
    receipts = form.get_by_label("Delivery receipts")
    expect(receipts).to_have_value("final")  # the default, as the API's
    form.get_by_label("Provider").select_option("twilio")
    expect(receipts).to_be_hidden()  # the sandbox's setting only
    form.get_by_label("Provider").select_option("sandbox")
    receipts.select_option(label="All: sent, then final")
    assert not axe_violations(page)
    form.get_by_label("Name").fill("Every receipt")
    form.get_by_label("Type").select_option("one_way")
    form.get_by_label("Sender").fill("Shop")
    form.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("heading", name="Every receipt")).to_be_visible()
    assert _channels(stack)["Every receipt"]["provider_settings"] == {"receipts": "all"}

    page.goto("/admin/channels")
    page.get_by_role("button", name="New channel").click()
    form = page.get_by_role("form", name="New channel")
    form.get_by_label("Name").fill("Final receipts")
    form.get_by_label("Type").select_option("one_way")
    form.get_by_label("Sender").fill("Store")
    form.get_by_role("button", name="Create channel").click()
    expect(page.get_by_role("heading", name="Final receipts")).to_be_visible()
    assert _channels(stack)["Final receipts"]["provider_settings"] == {}
