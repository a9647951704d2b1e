"""`make bench`'s web section measures the app as served: every script and stylesheet of the first
load is counted, and the inbox sets the mark the timing waits for."""

from __future__ import annotations

from typing import Any

import pytest

from bench import bench_web
from smsdesk.local.stack import LocalStack


def test_first_load_counts_index_scripts_and_styles(stack: LocalStack) -> None:
    if not (bench_web.DIST / "index.html").is_file():
        pytest.skip("the web app is not built (make web)")
    rows = bench_web.first_load(stack.base_url)
    names = [name for name, _, _ in rows]
    assert names[0] == "index.html"
    assert any(n.startswith("assets/") and n.endswith(".js") for n in names), names
    assert any(n.startswith("assets/") and n.endswith(".css") for n in names), names
    served = {name: (bench_web.DIST / name).stat().st_size for name in names}
    assert all(size == served[name] and 0 < zipped < size for name, size, zipped in rows)


def test_the_inbox_sets_the_ready_mark(page: Any, stack: LocalStack) -> None:
    from browser.webapp import sign_in

    sign_in(page, stack)
    assert bench_web._ready_ms(page) > 0
