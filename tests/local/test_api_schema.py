"""The management API against its own OpenAPI document, with schemathesis.

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
from pathlib import Path
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

#: Generated cases per operation (examples + fuzzing, valid and invalid).
MAX_EXAMPLES = 15
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
#: Share of generated ids (path and query) that are the ones made by :func:`known_ids`.
KNOWN_ID_PROBABILITY = 0.7


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
    agent = call(
        "POST", "/v1/users", {"email": "schema-agent@example.com", "name": "A", "team_ids": [team["id"]]}, 201
    )
    call("POST", "/v1/credits/top-ups", {"credits": 1000, "reference": "schema"}, 201)
    started = call("POST", "/v1/conversations", {"channel_id": channel["id"], "to": "+31612345678", "text": "hi"}, 202)
    call("POST", "/v1/opt-outs", {"number": "+31687654321", "reason": "asked"}, 201)
    owner = call("GET", "/v1/me")
    return {
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
    assert run.returncode == 0, f"schemathesis found problems ({took:.0f} s):\n{failures[-25000:]}\n{run.stderr[-3000:]}"
    assert "Tested: " in report, report[-3000:]
