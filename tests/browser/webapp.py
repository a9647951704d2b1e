"""Helpers of the browser tests: sign in, the API as the stack's owner, screenshots for docs/, axe-core."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from smsdesk.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"


def sign_in(page: Any, stack: LocalStack, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("E-mail").fill("admin@smsdesk.local")
    page.get_by_label("Password").fill(stack.tokens.password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#user-menu-button").wait_for()


def sign_out(page: Any) -> None:
    page.locator("#user-menu-button").click()
    page.get_by_role("button", name="Sign out").click()


def screenshot(page: Any, name: str, tmp_path: Path, *, full_page: bool = False) -> Path:
    """docs/screenshots/<name>.png when it is missing (or SMSDESK_UPDATE_SCREENSHOTS=1), else tmp_path:
    the committed pictures change only when someone asks."""
    target = SCREENSHOTS / f"{name}.png"
    if target.exists() and os.environ.get("SMSDESK_UPDATE_SCREENSHOTS") != "1":
        target = tmp_path / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=full_page)
    return target


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )
    return list(result)


def api(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    """Call the stack's API as its owner (test setup: data the screens then show); the parsed answer."""
    req = urllib.request.Request(
        f"{stack.base_url}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)
