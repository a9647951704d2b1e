"""Roles changed in the Users screen, and the language kept in the user's profile (its own stack)."""

from __future__ import annotations

import json
import secrets
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

from browser.webapp import axe_violations
from playwright.sync_api import expect

from smsdesk import aws, config, users
from smsdesk.data import users as users_repo
from smsdesk.local.stack import LocalStack


def make_user(role: str, name: str) -> tuple[str, str, str]:
    """A user with a known password: ``(user_id, email, password)``."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    password = f"Sd-{secrets.token_urlsafe(12)}-9a"
    profile = users.create_user(email, name, role, password=password)  # type: ignore[arg-type]
    return profile["user_id"], email, password


def sign_in_as(page: Any, email: str, password: str, path: str = "/", *, button: str = "Sign in") -> None:
    page.goto(path)
    page.locator("#email").fill(email)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name=button).click()
    page.locator("#user-menu-button").wait_for()


def cognito_groups(email: str) -> list[str]:
    out = aws.cognito().admin_list_groups_for_user(UserPoolId=config.user_pool_id(), Username=email)
    return sorted(g["GroupName"] for g in out["Groups"])


def test_owner_changes_a_role_in_the_users_screen(page: Any, stack: LocalStack) -> None:
    owner_id, owner_email, owner_pw = make_user("owner", "Olga")
    agent_id, agent_email, _ = make_user("agent", "Xavi")
    sign_in_as(page, owner_email, owner_pw, "/admin/users")
    xavi = page.get_by_label("Role of Xavi")
    expect(xavi).to_have_value("agent")
    expect(page.get_by_label("Role of Olga")).to_have_count(0)  # nobody changes their own role
    xavi.select_option("admin")
    expect(page.get_by_text("Saved.")).to_be_visible()
    assert users_repo.get_profile(agent_id)["role"] == "admin"
    assert cognito_groups(agent_email) == ["admin"]
    page.reload()
    expect(page.get_by_label("Role of Xavi")).to_have_value("admin")
    assert not axe_violations(page)

    # Olga is made an admin by another owner while her screen is open: her next change is refused,
    # the API's message under Xavi's role, and the select shows the role he still has.
    status = stack_patch(stack, owner_id, {"role": "admin"})
    assert status == 200
    page.get_by_label("Role of Xavi").select_option("owner")
    error = page.locator('[data-field="role"]')
    expect(error).to_be_visible()
    expect(error).to_contain_text("owner")
    expect(page.get_by_label("Role of Xavi")).to_have_value("admin")
    assert users_repo.get_profile(agent_id)["role"] == "admin" and cognito_groups(agent_email) == ["admin"]
    # as an admin, she sees roles but may change none (admins manage agents only)
    page.reload()
    expect(page.get_by_role("cell", name="Admin").first).to_be_visible()
    expect(page.get_by_label("Role of Xavi")).to_have_count(0)


def stack_patch(stack: LocalStack, user_id: str, body: dict[str, Any]) -> int:
    """PATCH /v1/users/{id} as the seeded owner."""
    req = urllib.request.Request(
        f"{stack.base_url}/v1/users/{user_id}",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(resp.status)


def wait_for_profile(page: Any, user_id: str, ok: Callable[[dict[str, Any]], bool]) -> None:
    """The switcher saves in the background: wait (up to 5 s) until the stored profile satisfies ``ok``."""
    for _ in range(50):
        if ok(users_repo.get_profile(user_id) or {}):
            return
        page.wait_for_timeout(100)
    raise AssertionError(users_repo.get_profile(user_id))


def test_the_language_chosen_follows_the_user_to_another_browser(chromium: Any, stack: LocalStack) -> None:
    user_id, email, password = make_user("agent", "Lena")
    first = chromium.new_context(locale="en-GB", base_url=stack.base_url)
    try:
        pg = first.new_page()
        sign_in_as(pg, email, password)
        expect(pg.get_by_role("link", name="Unassigned")).to_be_visible()
        pg.get_by_label("Language").select_option("fr")
        expect(pg.get_by_role("link", name="Non attribuées")).to_be_visible()
        expect(pg.get_by_label("Langue")).to_have_value("fr")
        wait_for_profile(pg, user_id, lambda p: p.get("language") == "fr")
        pg.locator("#user-menu-button").click()
        pg.get_by_role("button", name="Se déconnecter").click()
        expect(pg.get_by_role("button", name="Se connecter")).to_be_visible()  # this browser remembers
    finally:
        first.close()

    # Another browser, in Dutch, that never saw the choice: Dutch until she signs in, then French.
    second = chromium.new_context(locale="nl-NL", base_url=stack.base_url)
    try:
        pg = second.new_page()
        pg.goto("/")
        expect(pg.get_by_role("button", name="Aanmelden")).to_be_visible()
        sign_in_as(pg, email, password, button="Aanmelden")
        expect(pg.get_by_role("link", name="Non attribuées")).to_be_visible()
        assert pg.evaluate("() => document.documentElement.lang") == "fr"
        # back to the browser's language: Dutch, and the profile forgets the choice
        pg.get_by_label("Langue").select_option("")
        expect(pg.get_by_role("link", name="Niet toegewezen")).to_be_visible()
        wait_for_profile(pg, user_id, lambda p: "language" not in p)
        assert not axe_violations(pg)
    finally:
        second.close()
