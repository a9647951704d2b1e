"""Leads and deals in Chromium (issue 16): the Leads and Deals pages list them a page at a time, a
dialog creates and edits one (the person picked by search; the API's errors shown on their field),
and an admin deletes one after confirming. Axe on the list and the form."""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
import uuid
from typing import Any

from browser.webapp import api as _api
from browser.webapp import axe_violations, sign_in
from playwright.sync_api import expect

from smsdesk import users
from smsdesk.local.stack import LocalStack


def _contact(stack: LocalStack, first: str) -> dict[str, Any]:
    last = f"Q{uuid.uuid4().hex[:6]}"
    return _api(
        stack,
        "POST",
        "/v1/contacts",
        {"first_name": first, "last_name": last, "mobile": f"+3161{uuid.uuid4().int % 10**7:07d}"},
    )


def test_create_edit_list_and_delete_leads_and_deals(page: Any, stack: LocalStack) -> None:
    alice = _contact(stack, "Alice")
    bob = _contact(stack, "Bob")

    sign_in(page, stack, "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads", exact=True).click()
    expect(page.get_by_role("heading", name="Leads", level=1)).to_be_visible()

    # a new lead: the API's errors land on their field (no person; then an unknown currency)
    page.get_by_role("button", name="New lead").click()
    form = page.get_by_role("form", name="New lead")
    form.get_by_label("Title", exact=True).fill("Roof repair")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Person", exact=True)).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Person", exact=True).fill(alice["last_name"])
    form.get_by_role("button", name=f"Choose {alice['name']}").click()
    expect(form.get_by_label("Person", exact=True)).to_have_accessible_description(
        re.compile(f"Chosen: {alice['name']}")
    )
    form.get_by_label("Value", exact=True).fill("1200.50")
    form.get_by_label("Currency", exact=True).fill("EUX")
    assert axe_violations(page) == []
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Currency", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Person", exact=True)).to_have_attribute("aria-invalid", "false")
    form.get_by_label("Currency", exact=True).fill("eur")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    rows = page.get_by_test_id("crm-items")
    row = rows.locator("tr", has_text="Roof repair")
    expect(row).to_contain_text(re.compile(r"1200\.50? EUR"))
    expect(row).to_contain_text("Open")
    expect(row.get_by_role("link", name=alice["name"])).to_be_visible()
    (lead,) = [x for x in _api(stack, "GET", "/v1/leads?limit=100")["items"] if x["title"] == "Roof repair"]
    assert lead["person_id"] == alice["id"] and lead["currency"] == "EUR"

    # edit it: the form opens with the lead's values; status, person and title change
    row.get_by_role("button", name="Edit Roof repair").click()
    form = page.get_by_role("form", name="Edit lead")
    expect(form.get_by_label("Title", exact=True)).to_have_value("Roof repair")
    expect(form.get_by_label("Person", exact=True)).to_have_accessible_description(
        re.compile(f"Chosen: {alice['name']}")
    )
    form.get_by_label("Title", exact=True).fill("Roof and gutters")
    form.get_by_label("Status", exact=True).select_option("won")
    form.get_by_label("Person", exact=True).fill(bob["last_name"])
    form.get_by_role("button", name=f"Choose {bob['name']}").click()
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    row = rows.locator("tr", has_text="Roof and gutters")
    expect(row).to_contain_text("Won")
    expect(row.get_by_role("link", name=bob["name"])).to_be_visible()
    got = _api(stack, "GET", f"/v1/leads/{lead['id']}")
    assert (got["title"], got["status"], got["person_id"]) == ("Roof and gutters", "won", bob["id"])

    # a deal, in the second stage of a pipeline
    pipeline = _api(
        stack,
        "POST",
        "/v1/pipelines",
        {"name": f"Solar {uuid.uuid4().hex[:4]}", "stages": [{"name": "New"}, {"name": "Quoted"}]},
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deals", exact=True).click()
    expect(page.get_by_role("heading", name="Deals", level=1)).to_be_visible()
    page.get_by_role("button", name="New deal").click()
    form = page.get_by_role("form", name="New deal")
    form.get_by_label("Title", exact=True).fill("Panels")
    form.get_by_label("Person", exact=True).fill(alice["last_name"])
    form.get_by_role("button", name=f"Choose {alice['name']}").click()
    form.get_by_label("Value", exact=True).fill("abc")
    form.get_by_label("Currency", exact=True).fill("EUR")
    form.get_by_label("Pipeline", exact=True).select_option(pipeline["id"])
    form.get_by_label("Stage", exact=True).select_option(pipeline["stages"][1]["id"])
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_label("Value", exact=True)).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Value", exact=True).fill("8000")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    row = rows.locator("tr", has_text="Panels")
    expect(row).to_contain_text(f"{pipeline['name']}: Quoted")
    expect(row).to_contain_text("8000 EUR")
    assert axe_violations(page) == []

    # the deal's own page from the list
    row.get_by_role("link", name="Panels").click()
    expect(page.get_by_role("heading", name="Panels")).to_be_visible()
    page.go_back()

    # delete after confirming: gone from the list and from the API
    (deal,) = [x for x in _api(stack, "GET", "/v1/deals?limit=100")["items"] if x["title"] == "Panels"]
    page.once("dialog", lambda dialog: dialog.dismiss())
    rows.locator("tr", has_text="Panels").get_by_role("button", name="Delete Panels").click()
    expect(rows.locator("tr", has_text="Panels")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    rows.locator("tr", has_text="Panels").get_by_role("button", name="Delete Panels").click()
    expect(page.locator("tr", has_text="Panels")).to_have_count(0)
    assert "Panels" not in [x["title"] for x in _api(stack, "GET", "/v1/deals?limit=100")["items"]]
    try:
        _api(stack, "GET", f"/v1/deals/{deal['id']}")
        raise AssertionError("the deal is still there")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


def test_an_agent_edits_a_deal_but_may_not_delete_it(page: Any, stack: LocalStack) -> None:
    person = _contact(stack, "Carla")
    deal = _api(stack, "POST", "/v1/deals", {"title": f"Boiler {uuid.uuid4().hex[:4]}", "person_id": person["id"]})
    email, password = f"agent-{uuid.uuid4().hex[:8]}@example.com", f"Sd-{secrets.token_urlsafe(12)}-9a"
    users.create_user(email, "Ana", "agent", password=password)
    page.goto("/deals")
    page.locator("#email").fill(email)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()

    row = page.get_by_test_id("crm-items").locator("tr", has_text=deal["title"])
    expect(row).to_contain_text("Default pipeline: Qualified")
    expect(row.get_by_role("button", name=f"Delete {deal['title']}")).to_have_count(0)
    row.get_by_role("button", name=f"Edit {deal['title']}").click()
    form = page.get_by_role("form", name="Edit deal")
    expect(form.get_by_label("Stage", exact=True)).to_have_value(deal["stage_id"])
    form.get_by_label("Stage", exact=True).select_option(label="Proposal made")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    expect(row).to_contain_text("Default pipeline: Proposal made")
    assert _api(stack, "GET", f"/v1/deals/{deal['id']}")["stage_id"] == "stage3"
