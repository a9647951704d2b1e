"""The management API's contract through the local stack: bad input is a 4xx naming the field, and
every operation answers as its OpenAPI document says (schemathesis).

The targeted tests come first; the schemathesis run, last, changes this module's stack at random.

The schemathesis run:

schemathesis (its CLI: its pytest plugin does not run on this pytest) generates requests for every
operation of the running local stack's ``/openapi.json`` -- valid and invalid ones, a bounded number
per operation, deterministically -- sent with the stack's owner token. Path and query ids are, most of
the time, those of a channel, team, users, conversation and message made here, so the requests reach
the code behind the 404s. Every response must:

* not be a 5xx;
* have a status code the document lists for that operation;
* have the documented content type, and a body matching the documented schema (every error:
  ``{"error": {"code", "message", "field"}}``).

The run takes about a minute (about 45 operations x ``MAX_EXAMPLES``). It changes this module's own
stack only (each test module has its own).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

#: Generated cases per operation (examples + fuzzing, valid and invalid).
MAX_EXAMPLES = 12
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
#: Share of generated ids (path and query) that are the ones made by :func:`known_ids`.
KNOWN_ID_PROBABILITY = 0.7


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


LISTS = (
    "/v1/users",
    "/v1/teams",
    "/v1/channels",
    "/v1/blocklist",
    "/v1/opt-outs",
    "/v1/notifications",
    "/v1/credits/ledger",
    "/v1/messages",
    "/v1/conversations",
    "/v1/conversations?view=mine",
    "/v1/opt-outs/%2B31612345678/history",
    "/v1/contacts",
    "/v1/contacts?q=a",
    "/v1/groups",
)


def _cursor(stack: LocalStack, http: Any, path: str) -> str:
    sep = "&" if "?" in path else "?"
    status, _, page = http("GET", f"{stack.base_url}{path}{sep}limit=1", headers=auth(stack.token))
    assert status == 200, page
    cursor = page.get("next_cursor") or page.get("cursor")
    assert cursor, (path, page)
    return cursor


def test_a_cursor_from_another_list_is_422_naming_the_cursor(stack: LocalStack, http: Any) -> None:
    base, h = stack.base_url, auth(stack.token)
    for name in ("Cursor A", "Cursor B"):
        assert http("POST", f"{base}/v1/teams", headers=h, body={"name": name})[0] == 201
    for n in ("+31612345001", "+31612345002"):
        assert http("POST", f"{base}/v1/opt-outs", headers=h, body={"number": n, "reason": "r"})[0] == 201
    for ref in ("a", "b"):
        assert http("POST", f"{base}/v1/credits/top-ups", headers=h, body={"credits": 5, "reference": ref})[0] == 201
    cursors = {path: _cursor(stack, http, path) for path in ("/v1/teams", "/v1/opt-outs", "/v1/credits/ledger")}
    for path in LISTS:
        sep = "&" if "?" in path else "?"
        for source, cursor in cursors.items():
            if source == path:
                continue
            status, _, body = http("GET", f"{base}{path}{sep}cursor={cursor}", headers=h)
            assert status == 422 and body["error"]["field"] == "cursor", (path, source, status, body)
        status, _, body = http("GET", f"{base}{path}{sep}cursor={cursors['/v1/teams'][:-4]}", headers=h)
        assert status == 422 and body["error"]["field"] == "cursor", (path, status, body)
    # a list's own cursor still pages
    status, _, page = http("GET", f"{base}/v1/teams?limit=1&cursor={cursors['/v1/teams']}", headers=h)
    assert status == 200 and len(page["items"]) == 1


def test_an_email_cognito_refuses_is_422_naming_the_email(stack: LocalStack, http: Any) -> None:
    body = {"email": "ann@exämple.com", "name": "Ann"}
    status, _, out = http("POST", f"{stack.base_url}/v1/users", headers=auth(stack.token), body=body)
    assert status == 422 and out["error"]["field"] == "email", out
    status, _, page = http("GET", f"{stack.base_url}/v1/users?limit=100", headers=auth(stack.token))
    assert "ann@exämple.com" not in {u["email"] for u in page["items"]}


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"queue": {"max_in_queue": 10**40}}, "queue.max_in_queue"),
        ({"queue": {"max_in_queue": 100_001}}, "queue.max_in_queue"),
        ({"queue": {"max_transfer_s": 10**12}}, "queue.max_transfer_s"),
        ({"queue": {"max_queue_time_s": 31 * 86_400}}, "queue.max_queue_time_s"),
        ({"default_region": "XX"}, "default_region"),
        ({"default_region": "zz"}, "default_region"),
    ],
)
def test_settings_out_of_bounds_are_422_naming_the_field(
    stack: LocalStack, http: Any, settings: dict[str, Any], field: str
) -> None:
    base, h = stack.base_url, auth(stack.token)
    channel = {
        "name": "Bounds",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
    }
    status, _, out = http("POST", f"{base}/v1/channels", headers=h, body={**channel, **settings})
    assert status == 422 and out["error"]["field"] == field, out
    status, _, ch = http(
        "POST", f"{base}/v1/channels", headers=h, body={**channel, "sender": f"+3165{uuid.uuid4().int % 10**7:07d}"}
    )
    assert status == 201, ch
    status, _, out = http("PATCH", f"{base}/v1/channels/{ch['id']}", headers=h, body=settings)
    assert status == 422 and out["error"]["field"] == field, out
    status, _, out = http("POST", f"{base}/v1/messages/preview", headers=h, body={"text": "hi", "channel_id": ch["id"]})
    assert status == 200, out
    http("PATCH", f"{base}/v1/channels/{ch['id']}", headers=h, body={"enabled": False})


def test_a_known_region_is_accepted_in_any_case(stack: LocalStack, http: Any) -> None:
    channel = {"name": "Region", "type": "one_way", "sender": "Shop", "provider": "sandbox", "default_region": "be"}
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=channel)
    assert status == 201 and ch["default_region"] == "BE", ch
    q = {"max_in_queue": 100_000, "max_transfer_s": 30 * 86_400, "max_queue_time_s": 30 * 86_400}
    status, _, ch = http(
        "PATCH", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token), body={"queue": q}
    )
    assert status == 200 and ch["queue"]["max_in_queue"] == 100_000, ch


def known_ids(stack: LocalStack, http: Any) -> dict[str, list[str]]:
    """A team, a channel granted to it, an agent in it, a conversation with a message, an opt-out."""
    base, h = stack.base_url, {"authorization": f"Bearer {stack.token}"}

    def call(method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, _, out = http(method, f"{base}{path}", headers=h, body=body)
        assert status == expect, (method, path, status, out)
        return out

    team = call("POST", "/v1/teams", {"name": "Schema"}, 201)
    channel = call(
        "POST",
        "/v1/channels",
        {"name": "Schema", "type": "two_way", "sender": "+31650000001", "provider": "sandbox"},
        201,
    )
    call("PUT", f"/v1/channels/{channel['id']}/teams", {"team_ids": [team["id"]]})
    agent = call("POST", "/v1/users", {"email": "schema-agent@example.com", "name": "A", "team_ids": [team["id"]]}, 201)
    call("POST", "/v1/credits/top-ups", {"credits": 1000, "reference": "schema"}, 201)
    started = call("POST", "/v1/conversations", {"channel_id": channel["id"], "to": "+31612345678", "text": "hi"}, 202)
    call("POST", "/v1/opt-outs", {"number": "+31687654321", "reason": "asked"}, 201)
    owner = call("GET", "/v1/me")
    call("POST", "/v1/contact-fields", {"key": "city", "label": "City", "type": "text"}, 201)
    manager = call("POST", "/v1/contacts", {"first_name": "Mum", "mobile": "+31611111111"}, 201)
    contact = call("POST", "/v1/contacts", {"first_name": "Kid", "manager_ids": [manager["id"]]}, 201)
    group = call("POST", "/v1/groups", {"name": "Schema"}, 201)
    call("POST", f"/v1/groups/{group['id']}/members", {"contact_ids": [contact["id"]]})
    dynamic = call(
        "POST",
        "/v1/groups",
        {"name": "Dyn", "kind": "dynamic", "rule": {"field": "city", "op": "equals", "value": "Lyon"}},
        201,
    )
    # CRM (issue 16): a lead, a deal in a pipeline, a link with its note
    lead = call("POST", "/v1/leads", {"title": "Schema", "person_id": contact["id"]}, 201)
    pipeline = call("POST", "/v1/pipelines", {"name": "Schema", "stages": [{"name": "One"}]}, 201)
    deal = call(
        "POST", "/v1/deals", {"title": "Schema", "person_id": contact["id"], "pipeline_id": pipeline["id"]}, 201
    )
    link = call(
        "POST", f"/v1/conversations/{started['conversation']['id']}/links", {"kind": "deal", "item_id": deal["id"]}, 201
    )
    return {
        "lead": [lead["id"]],
        "deal": [deal["id"]],
        "pipeline": [pipeline["id"], "default"],
        "item": [contact["id"], lead["id"], deal["id"]],
        "link": [link["id"]],
        "contact": [contact["id"], manager["id"]],
        "group": [group["id"], dynamic["id"]],
        "field": ["city"],
        "channel": [channel["id"]],
        "team": [team["id"]],
        "user": [owner["user_id"], agent["user_id"]],
        "conversation": [started["conversation"]["id"]],
        "message": [started["message"]["id"]],
        "number": ["+31612345678", "+31687654321"],
    }


def config_file(path: Path, ids: dict[str, list[str]]) -> Path:
    bindings = {
        "path.channel_id": "channel",
        "query.channel_id": "channel",
        "path.team_id": "team",
        "path.user_id": "user",
        "path.conversation_id": "conversation",
        "path.message_id": "message",
        "path.number": "number",
        "path.contact_id": "contact",
        "path.group_id": "group",
        "path.key": "field",
        "path.lead_id": "lead",
        "path.deal_id": "deal",
        "path.pipeline_id": "pipeline",
        "path.item_id": "item",
        "path.link_id": "link",
    }
    lines = ["[dictionaries]"]
    lines += [f"{name} = {{ values = {json.dumps(values)} }}" for name, values in ids.items()]
    lines += ["", "[parameters]"]
    lines += [
        f'"{key}" = {{ dictionary = "{name}", probability = {KNOWN_ID_PROBABILITY} }}' for key, name in bindings.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_operation_answers_as_documented(stack: LocalStack, http: Any, tmp_path: Path) -> None:
    config = config_file(tmp_path / "schemathesis.toml", known_ids(stack, http))
    cmd = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color"),
        *("run", f"{stack.base_url}/openapi.json"),
        *("--checks", CHECKS),
        *("--phases", "examples,fuzzing", "--mode", "all"),
        *("--max-examples", str(MAX_EXAMPLES), "--generation-deterministic"),
        *("--workers", "1", "--continue-on-failure"),
        *("--header", f"authorization: Bearer {stack.token}"),
    ]
    t0 = time.monotonic()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    took = time.monotonic() - t0
    report = run.stdout
    failures = report[report.find("=== FAILURES ===") :] if "=== FAILURES ===" in report else report
    assert run.returncode == 0, (
        f"schemathesis found problems ({took:.0f} s):\n{failures[-25000:]}\n{run.stderr[-3000:]}"
    )
    assert "Tested: " in report, report[-3000:]
