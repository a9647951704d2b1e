"""The sandbox provider: outcome rules, its signature, and the signed receipts it posts back (only the
final one per part by default; ``provider_settings.receipts = "all"``: ``sent`` first, as before)."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smsdesk.connectors import sandbox
from smsdesk.connectors.base import PermanentError, SignatureError, TransientError, WebhookRequest
from smsdesk.connectors.settings import SettingsError, check_settings
from smsdesk.models import Channel, Message, StatusChange

KEY = "ab" * 32
NOW = dt.datetime.now(dt.UTC)


def channel(**provider_settings: str) -> Channel:
    return Channel(
        id="CH1",
        name="Sandbox",
        type="one_way",
        sender="Acme",
        provider="sandbox",
        created_at=NOW,
        updated_at=NOW,
        webhook_urls={"status": "http://127.0.0.1:9/webhooks/sandbox/CH1/status"},
        provider_settings=provider_settings,
    )


def message(to: str, *, segments: int = 1, mid: str = "MSG1") -> Message:
    return Message(
        id=mid,
        channel_id="CH1",
        to=to,
        sender="Acme",
        text="x" * (153 * segments),
        encoding="GSM-7",
        segments=segments,
        credits=segments,
        status="sending",
        history=[StatusChange(status="queued", at=NOW)],
        created_at=NOW,
        provider="sandbox",
    )


def request(body: bytes, signature: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-sandbox-signature"] = signature
    return WebhookRequest(url="http://127.0.0.1/webhooks/sandbox/CH1/status", method="POST", headers=headers, body=body)


@pytest.mark.parametrize(
    "to,attempts",
    [
        ("+31612340000", ["permanent", "permanent", "permanent"]),
        ("+31612340001", ["transient", "transient", "accepted", "accepted"]),
        ("+31612345678", ["accepted"]),
        ("+31612340010", ["accepted"]),
    ],
)
def test_outcome_rules(to: str, attempts: list[str]) -> None:
    assert [sandbox.outcome(to, i) for i in range(1, len(attempts) + 1)] == attempts


def test_signature_roundtrip_and_rejections() -> None:
    body = b'{"id":"EV1","message_id":"SB1","status":"delivered","at":"2026-01-01T00:00:00.000Z"}'
    c = sandbox.SandboxConnector()
    c.verify(request(body, sandbox.sign(body, KEY)), {"signing_key": KEY})
    rejected = [
        request(body + b" ", sandbox.sign(body, KEY)),  # tampered body
        request(body, sandbox.sign(body, "cd" * 32)),  # another key
        request(body, None),  # missing
        request(body, "v1=" + sandbox.sign(body, KEY).rpartition("v1=")[2]),  # no timestamp
        request(body, sandbox.sign(body, KEY, timestamp=int(time.time()) - 301)),  # replayed later
        request(body, sandbox.sign(body, KEY, timestamp=int(time.time()) + 301)),  # from the future
    ]
    for req in rejected:
        with pytest.raises(SignatureError):
            c.verify(req, {"signing_key": KEY})
    with pytest.raises(SignatureError):
        c.verify(request(body, sandbox.sign(body, KEY)), {})  # no key configured


def test_receipt_events_are_the_final_receipt_per_part_by_default() -> None:
    """What a channel without ``receipts`` gets: no ``sent`` callback (it would change nothing and cost
    a webhook request), one ``delivered`` per part."""
    events = sandbox.receipt_events("SB1", 3, "MSG1")
    assert [(e["status"], e.get("part"), e["parts"], e["client_ref"]) for e in events] == [
        ("delivered", 1, 3, "MSG1"),
        ("delivered", 2, 3, "MSG1"),
        ("delivered", 3, 3, "MSG1"),
    ]
    (single,) = sandbox.receipt_events("SB2", 1, "MSG2")
    assert single["status"] == "delivered" and "part" not in single and single["client_ref"] == "MSG2"
    assert [e["status"] for e in sandbox.receipt_events("SB3", 1, receipts="final")] == ["delivered"]
    assert [e["status"] for e in sandbox.receipt_events("SB4", 2, receipts="all")] == ["sent", "delivered", "delivered"]


def test_the_receipts_setting_is_final_or_all() -> None:
    assert check_settings("sandbox", {}) == {}
    assert check_settings("sandbox", {"receipts": "all"}) == {"receipts": "all"}
    assert check_settings("sandbox", {"receipts": "final"}) == {"receipts": "final"}
    for bad in ("some", "ALL", ""):
        with pytest.raises(SettingsError) as exc:
            check_settings("sandbox", {"receipts": bad})
        assert exc.value.key == "receipts"
    with pytest.raises(SettingsError) as exc:
        check_settings("aws_sms", {"receipts": "all"})  # the sandbox's setting only
    assert exc.value.key == "receipts"
    assert sandbox.receipts_mode(channel()) == "final"
    assert sandbox.receipts_mode(channel(receipts="all")) == "all"


def test_receipt_events_parse_into_receipts() -> None:
    events = sandbox.receipt_events("SB1", 3, receipts="all")
    assert [e["status"] for e in events] == ["sent", "delivered", "delivered", "delivered"]
    receipts = [
        r for e in events for r in sandbox.SandboxConnector().parse_receipts(request(json.dumps(e).encode(), ""))
    ]
    assert [(r.status, r.part, r.parts) for r in receipts] == [
        ("sent", None, 3),
        ("delivered", 1, 3),
        ("delivered", 2, 3),
        ("delivered", 3, 3),
    ]
    assert len({r.raw_id for r in receipts}) == 4 and all(r.provider_id == "SB1" for r in receipts)
    (single,) = sandbox.receipt_events("SB2", 1, receipts="all")[1:]
    assert "part" not in single


class Receiver:
    """Stands in for the webhook route: collects what the sandbox posts."""

    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[dict[str, str], bytes, str]] = queue.Queue()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                rx.posts.put(({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, n: int, timeout: float = 3.0) -> list[tuple[dict[str, str], bytes, str]]:
        return [self.posts.get(timeout=timeout) for _ in range(n)]

    def assert_silent(self, wait_s: float = 0.3) -> None:
        """Nothing more is posted (the receipts are posted one after another by one timer)."""
        with pytest.raises(queue.Empty):
            self.posts.get(timeout=wait_s)


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[dict[str, Any]], Receiver]]:
    """The sandbox with its DynamoDB state in memory and receipts going to a local receiver."""
    entries: list[dict[str, Any]] = []
    attempts: dict[str, int] = {}

    def next_attempt(message_id: str) -> int:
        attempts[message_id] = attempts.get(message_id, 0) + 1
        return attempts[message_id]

    monkeypatch.setattr(sandbox.sandbox_repo, "next_attempt", next_attempt)
    monkeypatch.setattr(sandbox.sandbox_repo, "record", lambda entry, **_: entries.append(entry))
    rx = Receiver()
    monkeypatch.setenv("SANDBOX_CALLBACK_BASE", rx.base)
    monkeypatch.setenv("SANDBOX_RECEIPT_DELAY_S", "0.05")
    yield entries, rx
    rx.server.shutdown()
    rx.server.server_close()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, [("delivered", 1), ("delivered", 2)]),  # the default: final receipts only
        ({"receipts": "final"}, [("delivered", 1), ("delivered", 2)]),
        ({"receipts": "all"}, [("sent", None), ("delivered", 1), ("delivered", 2)]),
    ],
)
def test_accepted_send_records_and_posts_signed_receipts(
    outbox: tuple[list[dict[str, Any]], Receiver], settings: dict[str, str], expected: list[tuple[str, int | None]]
) -> None:
    entries, rx = outbox
    c = sandbox.SandboxConnector()
    result = c.send(channel(**settings), message("+31612345678", segments=2), {"signing_key": KEY})
    assert result.provider_id.startswith("SB") and result.parts == 2
    assert entries[-1]["outcome"] == "accepted" and entries[-1]["provider_id"] == result.provider_id
    posts = rx.take(len(expected))
    assert {p[2] for p in posts} == {"/webhooks/sandbox/CH1/status"}
    statuses = []
    for headers, body, _ in posts:
        c.verify(request(body, headers["x-sandbox-signature"]), {"signing_key": KEY})  # signed like a real carrier
        statuses += [(r.status, r.part) for r in c.parse_receipts(request(body, ""))]
    assert statuses == expected
    assert all(r.message_id == "MSG1" for _, body, _ in posts for r in c.parse_receipts(request(body, "")))
    rx.assert_silent()


def test_failures_follow_the_rules_and_are_recorded(outbox: tuple[list[dict[str, Any]], Receiver]) -> None:
    entries, rx = outbox
    c = sandbox.SandboxConnector()
    with pytest.raises(PermanentError, match="sandbox_rejected"):
        c.send(channel(), message("+31612340000", mid="M0"), {"signing_key": KEY})
    for _ in range(2):
        with pytest.raises(TransientError, match="sandbox_unavailable"):
            c.send(channel(), message("+31612340001", mid="M1"), {"signing_key": KEY})
    assert c.send(channel(), message("+31612340001", mid="M1"), {"signing_key": KEY}).provider_id
    assert [(e["message_id"], e["attempt"], e["outcome"]) for e in entries] == [
        ("M0", 1, "permanent"),
        ("M1", 1, "transient"),
        ("M1", 2, "transient"),
        ("M1", 3, "accepted"),
    ]
    (post,) = rx.take(1)  # receipts only for the accepted one: its final receipt
    assert [r.status for r in c.parse_receipts(request(post[1], ""))] == ["delivered"]
    rx.assert_silent()
    with pytest.raises(PermanentError, match="sandbox_not_configured"):
        c.send(channel(), message("+31612345678"), {})
