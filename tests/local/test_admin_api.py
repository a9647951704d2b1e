"""Users, roles and teams API through the local stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@example.com"


def test_owner_creates_users_with_teams(stack: LocalStack, http: Any) -> None:
    base, h = stack.base_url, auth(stack.token)
    status, _, team = http("POST", f"{base}/v1/teams", headers=h, body={"name": "Support"})
    assert status == 201 and team["name"] == "Support" and team["member_ids"] == []
    status, _, out = http("POST", f"{base}/v1/teams", headers=h, body={"name": "support"})
    assert status == 409 and out["error"]["field"] == "name"

    addr = email()
    status, _, user = http(
        "POST",
        f"{base}/v1/users",
        headers=h,
        body={"email": addr, "name": "Ann", "role": "agent", "team_ids": [team["id"]]},
    )
    assert status == 201, user
    assert user["email"] == addr and user["role"] == "agent" and user["team_ids"] == [team["id"]]
    status, _, got = http("GET", f"{base}/v1/users/{user['user_id']}", headers=h)
    assert status == 200 and got == user
    _, _, page = http("GET", f"{base}/v1/users?limit=100", headers=h)
    assert user["user_id"] in {u["user_id"] for u in page["items"]}
    _, _, t = http("GET", f"{base}/v1/teams/{team['id']}", headers=h)
    assert t["member_ids"] == [user["user_id"]]
    _, _, teams = http("GET", f"{base}/v1/teams", headers=h)
    assert team["id"] in {x["id"] for x in teams["items"]}

    status, _, out = http("POST", f"{base}/v1/users", headers=h, body={"email": addr, "name": "Ann", "role": "agent"})
    assert status == 409 and out["error"]["field"] == "email"
    status, _, out = http("GET", f"{base}/v1/users/nope", headers=h)
    assert status == 404 and out["error"]["field"] == "user_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "name": "X"}, "email"),
        ({"email": "a@example.com", "name": ""}, "name"),
        ({"email": "a@example.com", "name": "X", "role": "root"}, "role"),
        ({"email": "a@example.com", "name": "X", "team_ids": ["nope"]}, "team_ids"),
    ],
)
def test_user_validation_names_the_field(stack: LocalStack, http: Any, body: dict, field: str) -> None:
    status, _, out = http("POST", f"{stack.base_url}/v1/users", headers=auth(stack.token), body=body)
    assert status == 422 and out["error"]["field"] == field, out


def test_roles(stack: LocalStack, http: Any, make_user: Any) -> None:
    base = stack.base_url
    _, agent = make_user("agent")
    _, admin = make_user("admin")
    # agents: no admin writes; may read users and teams
    for method, path, body in [
        ("POST", "/v1/users", {"email": email(), "name": "X", "role": "agent"}),
        ("POST", "/v1/teams", {"name": "Nope"}),
        ("PUT", "/v1/teams/any/members", {"user_ids": []}),
        ("PUT", "/v1/channels/any/teams", {"team_ids": []}),
        ("GET", "/v1/blocklist", None),
        ("GET", "/v1/opt-outs", None),
        ("POST", "/v1/opt-outs", {"number": "+31612345678", "reason": "x"}),
    ]:
        status, _, out = http(method, base + path, headers=auth(agent), body=body)
        assert status == 403 and out["error"]["code"] == "forbidden", (method, path, out)
    assert http("GET", f"{base}/v1/users", headers=auth(agent))[0] == 200
    assert http("GET", f"{base}/v1/teams", headers=auth(agent))[0] == 200
    # admins create agents and teams, but not admins or owners
    status, _, out = http("POST", f"{base}/v1/users", headers=auth(admin), body={"email": email(), "name": "A"})
    assert status == 201 and out["role"] == "agent"
    for role in ("admin", "owner"):
        status, _, out = http(
            "POST", f"{base}/v1/users", headers=auth(admin), body={"email": email(), "name": "A", "role": role}
        )
        assert status == 403 and out["error"]["field"] == "role", out
    status, _, out = http(
        "POST", f"{base}/v1/users", headers=auth(stack.token), body={"email": email(), "name": "A", "role": "admin"}
    )
    assert status == 201 and out["role"] == "admin"


def test_set_members(stack: LocalStack, http: Any, make_user: Any) -> None:
    base, h = stack.base_url, auth(stack.token)
    _, _, team = http("POST", f"{base}/v1/teams", headers=h, body={"name": f"T-{uuid.uuid4().hex[:6]}"})
    a, _ = make_user("agent")
    b, _ = make_user("agent")
    url = f"{base}/v1/teams/{team['id']}/members"
    status, _, out = http("PUT", url, headers=h, body={"user_ids": [a, b]})
    assert status == 200 and sorted(out["member_ids"]) == sorted([a, b])
    status, _, out = http("PUT", url, headers=h, body={"user_ids": [b]})
    assert status == 200 and out["member_ids"] == [b]
    assert http("GET", f"{base}/v1/users/{a}", headers=h)[2]["team_ids"] == []
    assert http("GET", f"{base}/v1/users/{b}", headers=h)[2]["team_ids"] == [team["id"]]
    status, _, out = http("PUT", url, headers=h, body={"user_ids": [b, "ghost"]})
    assert status == 422 and out["error"]["field"] == "user_ids"
    status, _, out = http("PUT", f"{base}/v1/teams/nope/members", headers=h, body={"user_ids": []})
    assert status == 404 and out["error"]["field"] == "team_id"
