"""Browser tests: the built app (web/dist) on an in-process local stack, driven in Debian's Chromium
through Playwright for Python (launched by path: Playwright's own browser download is not used).

Locally, a missing Chromium or build skips these tests with the command that fixes it; under
``CI=true`` they fail instead, so CI never passes without running them (``make test`` builds the app
and installs Chromium first).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

try:  # a machine without Playwright skips (or, under CI=true, fails) in the fixtures below
    from playwright.sync_api import expect

    # The suite runs next to the local-stack tests on 2 cores: the app's answers can take seconds.
    # Assertions with a stated bound (an inbound within 5 s) keep their own timeout.
    expect.set_options(timeout=10_000)
except ImportError:  # pragma: no cover
    pass

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "web" / "dist"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"


def _chromium() -> str | None:
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else shutil.which("chromium")


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run: {what}", pytrace=False)
    pytest.skip(f"browser tests: {what}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    exe = _chromium()
    if exe is None:
        _missing("no Chromium (make browser, or apt-get install chromium)")
    if not (DIST / "index.html").is_file() or not AXE.is_file():
        _missing("the web app is not built (make web)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (make install)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local_json = tmp_path_factory.mktemp("local") / "local.json"
    # Quick sandbox receipts, so "delivered" shows within a second or two.
    with (
        LocalStack(port=0, local_json=local_json) as s,
        s.configure("sender", SENDER_BACKOFF_BASE_S="0", SANDBOX_RECEIPT_DELAY_S="0.1"),
    ):
        yield s


@pytest.fixture
def page(chromium: Any, stack: LocalStack) -> Iterator[Any]:
    context = chromium.new_context(locale="en-GB", viewport={"width": 1200, "height": 760}, base_url=stack.base_url)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
