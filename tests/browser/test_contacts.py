"""The contact book in Chromium: custom fields, contacts created, searched and edited (the API's 422
under the custom field it names), a dynamic group built in the rule editor with its live count (and a
rule error on the condition it names), a static group's members added and removed, and a contact's
consent after its number is opted out.

The tests of this module share one stack and run in order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser.webapp import api as _api
from browser.webapp import axe_violations, screenshot, sign_in
from playwright.sync_api import expect

from smsdesk.local.stack import LocalStack

ALICE = "+33612345601"


def test_custom_fields_contacts_search_and_an_edit_refused(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    sign_in(page, stack, "/admin/contact-fields")
    form = page.get_by_role("form", name="New contact field")
    for label, key, kind in (("City", "city", "text"), ("Age", "age", "number")):
        form.get_by_label("Label", exact=True).fill(label)
        form.get_by_label("Key", exact=True).fill(key)
        form.get_by_label("Type", exact=True).select_option(kind)
        form.get_by_role("button", name="Create field").click()
        expect(page.locator(f'tr[data-field-key="{key}"]')).to_be_visible()
    form.get_by_label("Type", exact=True).select_option("choice")
    form.get_by_label("Label", exact=True).fill("Member")
    form.get_by_label("Key", exact=True).fill("member")
    form.get_by_label("Options", exact=True).fill("junior\nsenior")
    form.get_by_role("button", name="Create field").click()
    expect(page.locator('tr[data-field-key="member"]')).to_contain_text("junior, senior")

    for first, city, age, mobile in (
        ("Bob", "Lyon", 15, "+33612345602"),
        ("Chloé", "Paris", 40, "+33612345603"),
        ("Dan", "lyon", 18, "+33612345604"),
    ):
        _api(
            stack,
            "POST",
            "/v1/contacts",
            {"first_name": first, "last_name": "Martin", "mobile": mobile, "custom_fields": {"city": city, "age": age}},
        )

    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="New contact").click()
    details = page.get_by_role("form", name="Contact details")
    details.get_by_label("First name", exact=True).fill("Alice")
    details.get_by_label("Last name", exact=True).fill("Durand")
    details.get_by_label("Mobile", exact=True).fill(ALICE)
    details.get_by_label("City", exact=True).fill("Lyon")
    details.get_by_label("Age", exact=True).fill("30")
    details.get_by_label("Member", exact=True).select_option("senior")
    details.get_by_label("Tags", exact=True).fill("volunteer, board")
    details.get_by_role("button", name="Create contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/[^/]+$"))
    expect(page.get_by_role("heading", name="Alice Durand")).to_be_visible()

    page.get_by_role("link", name="All contacts").click()
    rows = page.get_by_test_id("contacts").locator("tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_label("Search contacts").fill("mart")  # debounced search
    expect(rows).to_have_count(3)
    page.get_by_label("Search contacts").fill("dur ali")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("volunteer")
    assert not axe_violations(page)
    screenshot(page, "contacts", tmp_path)

    rows.first.get_by_role("link").click()
    details.get_by_label("Age", exact=True).fill("1e16")  # beyond what a number field takes
    details.get_by_role("button", name="Save").click()
    error = details.locator('[data-field="custom_fields.age"]')
    expect(error).to_contain_text("custom_fields.age")
    details.get_by_label("Age", exact=True).fill("31")
    details.get_by_role("button", name="Save").click()
    expect(details.get_by_role("status")).to_have_text("Saved.")
    expect(error).to_be_hidden()
    assert not axe_violations(page)


def test_a_dynamic_group_with_its_live_count(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    sign_in(page, stack, "/groups")
    page.get_by_role("link", name="New dynamic group").click()
    page.get_by_label("Name", exact=True).fill("Adults in Lyon")
    first = page.locator('.rule-cond[data-path="rule.all.0"]')
    first.get_by_label("Field", exact=True).select_option("city")
    first.get_by_label("Value", exact=True).fill("Lyon")
    count = page.get_by_test_id("rule-count")
    expect(count).to_have_text("3 contacts match")  # Alice, Bob, Dan ("lyon": case ignored)
    page.get_by_role("button", name="Add condition").click()
    second = page.locator('.rule-cond[data-path="rule.all.1"]')
    second.get_by_label("Field", exact=True).select_option("age")
    second.get_by_label("Operator", exact=True).select_option("greater")
    second.get_by_label("Value", exact=True).fill("17")
    expect(count).to_have_text("2 contacts match")  # Alice (31), Dan (18)
    expect(page.get_by_test_id("rule-first")).to_contain_text("Dan Martin")

    first.get_by_label("Operator", exact=True).select_option("greater")  # city is text: the API names rule.all.0.op
    expect(first.locator('[data-field="rule.all.0.op"]')).to_be_visible()
    expect(second.locator(".field-error")).to_have_count(0)
    first.get_by_label("Operator", exact=True).select_option("equals")
    expect(count).to_have_text("2 contacts match")
    assert not axe_violations(page)
    screenshot(page, "group-rule", tmp_path)

    page.get_by_role("button", name="Create dynamic group").click()
    expect(page.get_by_role("heading", name="Adults in Lyon")).to_be_visible()
    expect(page.get_by_test_id("rule-count")).to_have_text("2 contacts match")
    page.get_by_role("link", name="All groups").click()
    expect(page.locator('tr[data-group="Adults in Lyon"]')).to_contain_text("Dynamic")


def test_a_static_group_add_and_remove(page: Any, stack: LocalStack) -> None:
    sign_in(page, stack, "/groups")
    page.get_by_label("Group name").fill("Volunteers")
    page.get_by_role("button", name="Create static group").click()
    expect(page.get_by_role("heading", name="Volunteers")).to_be_visible()
    add = page.get_by_role("form", name="Add members")
    add.get_by_label("Search contacts").fill("martin")
    add.get_by_label("Bob Martin").check()
    add.get_by_label("Dan Martin").check()
    add.get_by_role("button", name="Add selected (2)").click()
    members = page.get_by_test_id("members").locator("tbody tr")
    expect(members).to_have_count(2)
    expect(page.get_by_test_id("member-count")).to_have_text("(2)")
    page.get_by_role("button", name="Remove Bob Martin from the group").click()
    expect(members).to_have_count(1)
    page.get_by_label("Select Dan Martin").check()
    page.get_by_role("button", name="Remove selected (1)").click()
    expect(page.get_by_text("No members yet.")).to_be_visible()
    assert not axe_violations(page)


def test_a_contacts_consent_after_an_opt_out(page: Any, stack: LocalStack) -> None:
    _api(stack, "POST", "/v1/opt-outs", {"number": ALICE, "reason": "Asked by phone", "source": "support"})
    sign_in(page, stack, "/contacts")
    row = page.get_by_test_id("contacts").locator("tbody tr", has_text="Alice Durand")
    expect(row).to_contain_text("Opted out")
    row.get_by_role("link").click()
    consent = page.get_by_test_id("consent")
    expect(consent.get_by_test_id("consent-state")).to_contain_text("Opted out")
    expect(consent.get_by_test_id("consent-state")).to_contain_text("All channels")
    expect(consent.get_by_test_id("consent-history")).to_contain_text("Asked by phone")
    assert not axe_violations(page)


def test_a_contacts_conversations_and_dynamic_groups(page: Any, stack: LocalStack) -> None:
    """The contact's page lists its conversations (any channel, any state) with a link to each, and the
    dynamic groups whose rule it matches next to its static ones."""
    import datetime as dt
    import uuid

    from smsdesk import channels
    from smsdesk.inbox import conversations
    from smsdesk.models import InboundSms

    ch = _api(
        stack,
        "POST",
        "/v1/channels",
        {"name": "Club desk", "type": "two_way", "sender": "+33698765432", "provider": "sandbox"},
    )
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": ALICE},
        to=ch["sender"],
        text="Is training on tonight?",
        received_at=dt.datetime.now(dt.UTC),
    )
    conv = conversations.record_inbound(channels.get_channel(ch["id"]), sms).conversation
    sign_in(page, stack, "/contacts")
    page.get_by_test_id("contacts").locator("tbody tr", has_text="Alice Durand").get_by_role("link").click()
    groups = page.get_by_test_id("contact-groups")
    expect(groups).to_contain_text("Adults in Lyon")  # dynamic: city Lyon, age 30
    expect(groups.locator("li", has_text="Adults in Lyon")).to_contain_text("Dynamic")
    listed = page.get_by_test_id("contact-conversations").locator(f'li[data-conversation="{conv.id}"]')
    expect(listed).to_contain_text("Is training on tonight?")
    expect(listed).to_contain_text("Open")
    assert not axe_violations(page)
    listed.get_by_role("link", name="Club desk").click()
    expect(page).to_have_url(re.compile(rf"[?&]c={conv.id}"))


def _wait_for(page: Any, held: list[Any]) -> None:
    """Until the page has asked for what the test holds back (route handlers run while Playwright waits)."""
    for _ in range(200):
        if held:
            return
        page.wait_for_timeout(50)
    raise AssertionError("the page never asked for it")


def test_forms_wait_for_the_data_they_edit(page: Any, stack: LocalStack) -> None:
    """A slow answer must not swap a form under the user's cursor: the rule editor is not shown
    disabled before the profile (the role) arrives, nor a contact's form empty before the contact
    (what was typed there would be overwritten, what was focused lost)."""
    sign_in(page, stack, "/contacts")
    held: list[Any] = []
    page.route(re.compile(r"/v1/me$"), lambda route: held.append(route))
    page.goto("/groups/new")
    _wait_for(page, held)
    expect(page.get_by_text("Loading…")).to_be_visible()
    expect(page.get_by_role("form", name="Rule")).to_have_count(0)
    for route in held:
        route.continue_()
    page.unroute(re.compile(r"/v1/me$"))
    value = page.locator('.rule-cond[data-path="rule.all.0"]').get_by_label("Value", exact=True)
    expect(value).to_be_enabled()

    alice = _api(stack, "GET", "/v1/contacts?q=alice")["items"][0]
    held.clear()
    page.route(re.compile(rf"/v1/contacts/{alice['id']}$"), lambda route: held.append(route))
    page.goto(f"/contacts/{alice['id']}")
    _wait_for(page, held)
    expect(page.get_by_role("heading", name="Loading…")).to_be_visible()
    expect(page.get_by_role("form", name="Contact details")).to_have_count(0)
    for route in held:
        route.continue_()
    page.unroute(re.compile(rf"/v1/contacts/{alice['id']}$"))
    expect(page.get_by_role("form", name="Contact details").get_by_label("First name", exact=True)).to_have_value(
        "Alice"
    )


def test_contact_screens_at_phone_width(page: Any, stack: LocalStack) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, stack, "/contacts")
    wide = "() => document.documentElement.scrollWidth <= window.innerWidth"
    page.get_by_test_id("contacts").locator("tbody tr").first.wait_for()
    assert page.evaluate(wide), "the contact list is wider than the phone"
    page.get_by_role("link", name="Alice Durand").click()
    page.get_by_test_id("consent-history").wait_for()
    assert page.evaluate(wide), "the contact page is wider than the phone"
    page.goto("/groups/new")
    expect(page.get_by_test_id("rule-count")).to_have_text(re.compile("match|valid"))
    assert page.evaluate(wide), "the rule editor is wider than the phone"
    # keyboard: from the rule's first value, Tab reaches the next control (nothing traps focus)
    page.locator('.rule-cond[data-path="rule.all.0"]').get_by_label("Value", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Remove item 1")).to_be_focused()
    assert not axe_violations(page)


def test_a_csv_import_into_a_static_group_and_the_export(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    group = _api(stack, "POST", "/v1/groups", {"name": "Imported club", "kind": "static"})
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "first_name,last_name,mobile\n"
        "Iris,Import,+33612345701\n"  # line 2
        "Bad,Row,not a number\n"  # line 3: mobile refused
        "Jules,Import,+33612345703\n"  # line 4
    )
    sign_in(page, stack, "/contacts")
    page.get_by_role("link", name="Import / export").click()
    form = page.get_by_role("form", name="Import contacts")
    form.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    form.get_by_label("Add to static group", exact=True).select_option(label="Imported club")
    form.get_by_role("button", name="Upload and import").click()
    report = page.get_by_test_id("import-report")
    expect(report).to_have_attribute("data-status", "done", timeout=20_000)
    expect(report.get_by_role("status")).to_have_text("Import finished.")
    expect(report.locator('[data-count="created"]')).to_have_text("2")
    expect(report.locator('[data-count="failed"]')).to_have_text("1")
    expect(report.locator('[data-count="rows"]')).to_have_text("3 / 3")
    bad = page.get_by_test_id("import-errors").locator("tbody tr")
    expect(bad).to_have_count(1)
    expect(bad.first).to_have_attribute("data-line", "3")
    expect(bad.first.locator("td").nth(1)).to_have_text("mobile")
    expect(bad.first.locator("td").nth(2)).to_have_text("mobile")
    members = _api(stack, "GET", f"/v1/groups/{group['id']}/members")["items"]
    assert sorted(m["first_name"] for m in members) == ["Iris", "Jules"]
    assert not axe_violations(page)

    with page.expect_download() as info:
        form.get_by_role("button", name="Export this group (CSV)").click()
    download = info.value
    assert download.suggested_filename == f"contacts-{group['id']}.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "Iris" in text and "+33612345703" in text and "Alice" not in text


def test_an_import_with_its_columns_mapped_and_the_past_imports(page: Any, stack: LocalStack, tmp_path: Path) -> None:
    """The mapping editor shows what each column of the chosen file fills (from its header) and lets the
    user change it; past imports are listed newest first, each with its report."""
    csv_file = tmp_path / "leden.csv"
    csv_file.write_bytes("Prénom;Tel;Ville;Notes\nKees;+33612345801;Lyon;likes jazz\n".encode("utf-16"))
    sign_in(page, stack, "/contacts/import")
    form = page.get_by_role("form", name="Import contacts")
    form.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    mapping = page.get_by_test_id("import-mapping")
    expect(mapping.get_by_label("Prénom", exact=True)).to_have_value("first_name")
    expect(mapping.get_by_label("Tel", exact=True)).to_have_value("mobile")
    expect(mapping.get_by_label("Ville", exact=True)).to_have_value("")  # not a known header: not imported
    expect(mapping.get_by_label("Notes", exact=True)).to_have_value("")
    mapping.get_by_label("Ville", exact=True).select_option(label="City")
    assert not axe_violations(page)
    form.get_by_role("button", name="Upload and import").click()
    report = page.get_by_test_id("import-report")
    expect(report).to_have_attribute("data-status", "done", timeout=20_000)
    expect(report.locator('[data-count="created"]')).to_have_text("1")
    kees = _api(stack, "GET", "/v1/contacts?q=kees")["items"]
    assert [(c["mobile"], c["custom_fields"].get("city")) for c in kees] == [("+33612345801", "Lyon")]

    past = page.get_by_test_id("past-imports").locator("tbody tr")
    expect(past.first).to_contain_text("leden.csv")
    expect(past.nth(1)).to_contain_text("members.csv")
    past.nth(1).get_by_role("button", name="Import report – members.csv").click()
    expect(report.locator('[data-count="created"]')).to_have_text("2")
    expect(report.locator('[data-count="failed"]')).to_have_text("1")


def test_an_export_too_large_for_one_answer_downloads_the_file(page: Any, stack: LocalStack) -> None:
    with stack.configure("api", EXPORT_INLINE_MAX_CONTACTS="1"):
        sign_in(page, stack, "/contacts/import")
        form = page.get_by_role("form", name="Import contacts")
        with page.expect_download() as info:
            form.get_by_role("button", name="Export contacts (CSV)").click()
        download = info.value
        assert download.suggested_filename == "contacts.csv"
        text = Path(download.path()).read_text(encoding="utf-8-sig")
        assert "Alice" in text and "Kees" in text
