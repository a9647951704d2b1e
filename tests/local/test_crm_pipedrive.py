"""The Pipedrive connector on the local stack (issue 16 item 4), against a local fake of Pipedrive's API
that checks each request as Pipedrive documents it: ``api_token`` in the query, JSON bodies,
``POST /v1/notes`` with ``content`` and exactly one of ``deal_id`` (integer), ``person_id`` (integer) or
``lead_id`` (string), ``PUT /v1/notes/{id}``, ``GET /v1/notes/{id}``, ``GET /v1/{persons|deals|leads}/search``
with ``term`` (≥ 2 characters); answers ``{"success": true, "data": ...}``. It also answers 429 to the
first note request, as Pipedrive's rate limit does."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from queue_helpers import auth
from test_crm_links import T0, inbound, number

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
TOKEN = "pd-token-123"


class FakePipedrive:
    def __init__(self) -> None:
        self.notes: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.errors: list[str] = []
        self.throttle = 1  # the next N note writes answer 429
        self.down = 0  # the next N note writes answer 503
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                body = None
                if method in ("POST", "PUT"):
                    if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                        fake.errors.append(f"{method} {url.path}: not JSON")
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with fake.lock:
                    fake.requests.append((method, url.path, body))
                    status, out, headers = fake.route(method, url.path, query, body)
                self._answer(status, out, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str] | None]:
        if query.get("api_token") != TOKEN:
            return 401, {"success": False, "error": "unauthorized access"}, None
        parts = path.strip("/").split("/")
        if parts[0] != "v1":
            return 404, {"success": False}, None
        if method == "GET" and len(parts) == 3 and parts[2] == "search" and parts[1] in ("persons", "deals", "leads"):
            if len(query.get("term", "")) < 2:
                self.errors.append("search term too short")
                return 400, {"success": False}, None
            key = "name" if parts[1] == "persons" else "title"
            item = {"id": 42 if parts[1] != "leads" else "adf21080-0e10-11eb-879b-05d71fb426ec", key: "Acme solar"}
            return 200, {"success": True, "data": {"items": [{"result_score": 1, "item": item}]}}, None
        if parts[1] != "notes":
            return 404, {"success": False}, None
        if method in ("POST", "PUT") and self.down > 0:
            self.down -= 1
            return 503, {"success": False, "error": "Service unavailable"}, {"Retry-After": "0"}
        if method in ("POST", "PUT") and self.throttle > 0:
            self.throttle -= 1
            return 429, {"success": False, "error": "Too many requests"}, {"Retry-After": "0"}
        if method == "POST" and len(parts) == 2:
            targets = {k: body.get(k) for k in ("deal_id", "person_id", "lead_id", "org_id") if body.get(k) is not None}
            if not body.get("content") or len(targets) != 1:
                self.errors.append(f"POST /v1/notes: bad body {body}")
                return 400, {"success": False}, None
            ((k, v),) = targets.items()
            if (k == "lead_id") != isinstance(v, str) or (k != "lead_id" and not isinstance(v, int)):
                self.errors.append(f"POST /v1/notes: {k} has the wrong type")
            nid = len(self.notes) + 1
            self.notes[nid] = {"id": nid, "content": body["content"], "active_flag": True, **targets}
            return 201, {"success": True, "data": self.notes[nid]}, None
        if len(parts) == 3 and parts[2].isdigit():
            note = self.notes.get(int(parts[2]))
            if note is None or not note["active_flag"]:
                return 404, {"success": False, "error": "Note not found"}, None
            if method == "GET":
                return 200, {"success": True, "data": note}, None
            if method == "PUT":
                note["content"] = body["content"]
                return 200, {"success": True, "data": note}, None
        return 404, {"success": False}, None

    def user_edits(self, nid: int, content: str) -> None:
        with self.lock:
            self.notes[nid]["content"] = content

    def __enter__(self) -> FakePipedrive:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pipedrive() -> Iterator[FakePipedrive]:
    with FakePipedrive() as fake:
        yield fake


def wait(pred: Callable[[], bool], timeout: float = 8) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def lines(html: str) -> list[str]:
    return [line.rsplit(": ", 1)[1] for line in html.split("<br>")[3:]]


def test_notes_are_created_and_updated_in_pipedrive(
    stack: LocalStack, http: Http, pipedrive: FakePipedrive, make_user: Any
) -> None:
    base, h = stack.base_url, auth(stack.token)
    body = {"name": f"pd-{uuid.uuid4().hex[:8]}", "type": "two_way", "sender": f"+3165{uuid.uuid4().int % 10**7:07d}"}
    s, _, ch = http("POST", f"{base}/v1/channels", headers=h, body={**body, "provider": "sandbox"})
    assert s == 201, ch
    num = number()
    conv_id, _ = inbound(ch["id"], num, "hello pd", T0)

    s, _, err = http(
        "POST",
        f"{base}/v1/conversations/{conv_id}/links",
        headers=h,
        body={"kind": "deal", "item_id": "42", "provider": "pipedrive"},
    )
    assert s == 422 and err["error"]["field"] == "provider"  # not enabled yet
    _, agent = make_user("agent")
    s, _, _ = http("PATCH", f"{base}/v1/crm/settings", headers=auth(agent), body={"pipedrive_enabled": True})
    assert s == 403
    s, _, settings = http(
        "PATCH",
        f"{base}/v1/crm/settings",
        headers=h,
        body={
            "pipedrive_api_url": pipedrive.url,
            "pipedrive_api_token": TOKEN,
            "pipedrive_enabled": True,
            "web_url": "https://desk.example.com",
        },
    )
    assert s == 200 and settings["pipedrive_enabled"] and settings["pipedrive_token_set"], settings
    assert TOKEN not in json.dumps(settings)

    s, _, found = http("GET", f"{base}/v1/crm/pipedrive/search?kind=deal&term=Acme", headers=h)
    assert s == 200 and found["items"] == [{"id": "42", "title": "Acme solar"}], found
    s, _, lk = http(
        "POST",
        f"{base}/v1/conversations/{conv_id}/links",
        headers=h,
        body={"kind": "deal", "item_id": "42", "provider": "pipedrive", "title": "Acme solar"},
    )
    assert s == 201, lk

    # the first note (after one 429), with the history, on deal 42
    assert wait(lambda: len(pipedrive.notes) == 1), pipedrive.requests
    note = pipedrive.notes[1]
    assert note["deal_id"] == 42 and lines(note["content"]) == ["hello pd"]
    assert f"https://desk.example.com/inbox/{conv_id}" in note["content"]
    assert ("POST", "/v1/notes") in [(m, p) for m, p, _ in pipedrive.requests]

    # within 24 h: the same Pipedrive note, updated
    inbound(ch["id"], num, "second", T0 + dt.timedelta(hours=2))
    assert wait(lambda: lines(pipedrive.notes[1]["content"]) == ["hello pd", "second"]), pipedrive.notes
    # 25 h later: a second note
    inbound(ch["id"], num, "next day", T0 + dt.timedelta(hours=25))
    assert wait(lambda: len(pipedrive.notes) == 2), pipedrive.notes
    assert lines(pipedrive.notes[2]["content"]) == ["next day"]

    # a user edits the second note in Pipedrive: the next message opens a new one, the edit stays
    pipedrive.user_edits(2, "<p>called them, all good</p>")
    inbound(ch["id"], num, "thanks", T0 + dt.timedelta(hours=26))
    assert wait(lambda: len(pipedrive.notes) == 3), pipedrive.notes
    assert pipedrive.notes[2]["content"] == "<p>called them, all good</p>"
    assert lines(pipedrive.notes[3]["content"]) == ["thanks"]
    assert lines(pipedrive.notes[1]["content"]) == ["hello pd", "second"]
    # deleted in Pipedrive: the next message opens a new note there too
    with pipedrive.lock:
        pipedrive.notes[3]["active_flag"] = False
    inbound(ch["id"], num, "bye", T0 + dt.timedelta(hours=27))
    assert wait(lambda: len(pipedrive.notes) == 4), pipedrive.notes
    assert lines(pipedrive.notes[4]["content"]) == ["bye"]
    assert pipedrive.errors == []
    assert all(m in ("GET", "POST", "PUT") for m, _, _ in pipedrive.requests)


def test_pipedrive_down_for_longer_than_the_retries_then_back(
    stack: LocalStack, http: Http, pipedrive: FakePipedrive
) -> None:
    """Pipedrive answers 503 to more attempts than one invocation makes: the event fails, the bus
    redelivers it, and the redelivery (nothing new to place) pushes the pending note: one note, not two."""
    base, h = stack.base_url, auth(stack.token)
    body = {"pipedrive_api_url": pipedrive.url, "pipedrive_api_token": TOKEN, "pipedrive_enabled": True}
    assert http("PATCH", f"{base}/v1/crm/settings", headers=h, body=body)[0] == 200
    body = {"name": f"pd-{uuid.uuid4().hex[:8]}", "type": "two_way", "sender": f"+3165{uuid.uuid4().int % 10**7:07d}"}
    s, _, ch = http("POST", f"{base}/v1/channels", headers=h, body={**body, "provider": "sandbox"})
    assert s == 201, ch
    conv_id, _ = inbound(ch["id"], number(), "are you there?", T0)
    with pipedrive.lock:
        before = len(pipedrive.notes)
        pipedrive.down = 6  # > pipedrive.ATTEMPTS
    link_body = {"kind": "contact", "item_id": "7", "provider": "pipedrive", "title": "Ann"}
    s, _, lk = http("POST", f"{base}/v1/conversations/{conv_id}/links", headers=h, body=link_body)
    assert s == 201, lk
    assert wait(lambda: len(pipedrive.notes) == before + 1, timeout=20), pipedrive.requests[-8:]
    time.sleep(1)
    new = [n for i, n in pipedrive.notes.items() if i > before]
    assert len(new) == 1 and new[0]["person_id"] == 7 and lines(new[0]["content"]) == ["are you there?"]
    assert pipedrive.down == 0 and pipedrive.errors == []
