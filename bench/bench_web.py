"""The web app: what a first load transfers (gzip) and the time to an interactive inbox (local stack).

* **Transferred size**: ``index.html`` as the local stack serves it for ``/``, then every script and
  stylesheet it references (``<script src>``, ``<link href>``), each fetched as served and compressed
  with gzip (level 6, what CloudFront's and most servers' gzip gives; CloudFront may send Brotli,
  which is smaller). ``config.json`` (fetched by the app at start) is listed apart.
* **Time to an interactive inbox**: Debian's Chromium driven by Playwright against an in-process local
  stack; "interactive" is the app's ``smsdesk:inbox-ready`` performance mark (the inbox's first lists
  rendered: views with counts, the conversation list). Three ways in, median of ``runs`` each:
  a first visit with a stored session (empty cache, the refresh token in ``sessionStorage``: from
  navigation start), a reload with a warm cache (from navigation start), and a sign-in (from the
  click on *Sign in*: Cognito's ``InitiateAuth`` on moto, ``/v1/me``, the first lists).

Run alone: ``python bench/bench_web.py`` (needs ``make web`` and ``/usr/bin/chromium``).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "web" / "dist"
HEADING = "## The web app: first-load size and time to an interactive inbox (`bench/bench_web.py`)"
READY_MARK = "smsdesk:inbox-ready"  # web/src/pages/Inbox.tsx
SESSION_KEY = "smsdesk.session"  # web/src/auth.ts
ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="(/[^"]+)\"""")


def _get(url: str, accept: str = "*/*") -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"accept": accept}), timeout=10) as resp:
        return bytes(resp.read())


def first_load(base_url: str) -> list[tuple[str, int, int]]:
    """(path, bytes, gzip bytes) of index.html and every script/stylesheet it references."""
    html = _get(base_url + "/", "text/html")
    rows = [("index.html", len(html), len(gzip.compress(html, 6, mtime=0)))]
    for path in dict.fromkeys(ASSET.findall(html.decode())):
        body = _get(base_url + path)
        rows.append((path.lstrip("/"), len(body), len(gzip.compress(body, 6, mtime=0))))
    return rows


def _chromium() -> str | None:
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else shutil.which("chromium")


def _ready_ms(page: Any) -> float:
    page.wait_for_function(f"() => performance.getEntriesByName({READY_MARK!r}).length > 0", timeout=30_000)
    return float(page.evaluate(f"() => performance.getEntriesByName({READY_MARK!r})[0].startTime"))


def time_to_inbox(stack: Any, exe: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from smsdesk.local.seed import ADMIN_EMAIL

    out: dict[str, list[float]] = {"first visit, stored session": [], "reload, warm cache": [], "sign-in": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            for _ in range(runs):
                ctx = browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 760})
                page = ctx.new_page()
                page.goto(stack.base_url + "/")
                page.get_by_label("E-mail").fill(ADMIN_EMAIL)
                page.get_by_label("Password").fill(stack.tokens.password)
                t0 = float(page.evaluate("() => performance.now()"))
                page.get_by_role("button", name="Sign in").click()
                out["sign-in"].append(_ready_ms(page) - t0)
                session = page.evaluate(f"() => sessionStorage.getItem({SESSION_KEY!r})")
                page.reload()
                out["reload, warm cache"].append(_ready_ms(page))
                ctx.close()

                # A new context: empty cache, the session the tab kept, as a returning tab would have it.
                ctx = browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 760})
                ctx.add_init_script(f"sessionStorage.setItem({SESSION_KEY!r}, {session!r})")
                page = ctx.new_page()
                page.goto(stack.base_url + "/")
                out["first visit, stored session"].append(_ready_ms(page))
                ctx.close()
        finally:
            browser.close()
    return out


def run(runs: int = 5) -> list[str]:
    """The section's Markdown lines (heading included)."""
    lines = [HEADING, ""]
    if not (DIST / "index.html").is_file():
        return [*lines, "Skipped: the app is not built (`make web`).", ""]
    from smsdesk.local.stack import LocalStack

    exe = _chromium()
    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        rows = first_load(stack.base_url)
        config = _get(stack.base_url + "/config.json")
        times = time_to_inbox(stack, exe, runs) if exe else None
    raw, gz = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines += [
        "First load as served (`index.html` + the scripts and stylesheets it references), gzip level 6:\n",
        "| file | bytes | gzip bytes |",
        "|---|---:|---:|",
        *(f"| {name} | {size:,} | {zipped:,} |" for name, size, zipped in rows),
        f"| **total** | **{raw:,}** | **{gz:,}** |",
        f"| (`config.json`, fetched at start) | {len(config):,} | {len(gzip.compress(config, 6, mtime=0)):,} |",
        "",
    ]
    if times is None:
        return [*lines, "Time to an interactive inbox: skipped (no Chromium: `make browser`).", ""]
    lines += [
        f"Time to an interactive inbox (Chromium, local stack on this machine; {runs} runs each):\n",
        "| way in | median ms | min ms | max ms |",
        "|---|---:|---:|---:|",
        *(f"| {way} | {statistics.median(ms):.0f} | {min(ms):.0f} | {max(ms):.0f} |" for way, ms in times.items()),
        "",
        "From navigation start (first visit, reload) or from the click on *Sign in* to the app's"
        f" `{READY_MARK}` mark: the inbox's views with counts and its conversation list on screen. The"
        " local stack runs every Lambda handler in one process against moto (in a second process), so the API part is slower than in AWS;"
        " the split between the ways in is what carries over.",
        "",
    ]
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "layers" / "smsdesk"))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print("\n".join(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)))
