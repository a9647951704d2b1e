"""Changing a user's role (`PATCH /v1/users/{id}` with `role`) and a user's language (`PATCH /v1/me`),
through the local stack's HTTP API, with the Cognito group checked in moto's Cognito."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from smsdesk import aws, config, users
from smsdesk.auth import Caller
from smsdesk.errors import Forbidden
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def email() -> str:
    return f"r-{uuid.uuid4().hex[:10]}@example.com"


def groups(stack: LocalStack, http: Any, user_id: str) -> list[str]:
    """The user's Cognito groups, read from Cognito itself."""
    _, _, user = http("GET", f"{stack.base_url}/v1/users/{user_id}", headers=auth(stack.token))
    out = aws.cognito().admin_list_groups_for_user(UserPoolId=config.user_pool_id(), Username=user["email"])
    return sorted(g["GroupName"] for g in out["Groups"])


def patch_role(stack: LocalStack, http: Any, token: str, user_id: str, role: Any) -> tuple[int, Any]:
    status, _, out = http("PATCH", f"{stack.base_url}/v1/users/{user_id}", headers=auth(token), body={"role": role})
    return status, out


def test_owner_promotes_and_demotes_and_it_takes_effect_at_once(stack: LocalStack, http: Any, make_user: Any) -> None:
    base = stack.base_url
    uid, token = make_user("agent")
    new_agent = {"email": email(), "name": "N", "role": "agent"}
    status, _, out = http("POST", f"{base}/v1/users", headers=auth(token), body=new_agent)
    assert status == 403, out

    status, user = patch_role(stack, http, stack.token, uid, "admin")
    assert status == 200 and user["role"] == "admin", user
    assert groups(stack, http, uid) == ["admin"]
    assert http("GET", f"{base}/v1/users/{uid}", headers=auth(token))[2]["role"] == "admin"
    # the token the user already holds (issued while they were an agent) acts as admin now
    assert http("GET", f"{base}/v1/me", headers=auth(token))[2]["role"] == "admin"
    status, _, out = http("POST", f"{base}/v1/users", headers=auth(token), body=new_agent)
    assert status == 201, out

    status, user = patch_role(stack, http, stack.token, uid, "agent")
    assert status == 200 and user["role"] == "agent", user
    assert groups(stack, http, uid) == ["agent"]
    # a demotion does not wait for the token to expire
    status, _, out = http("POST", f"{base}/v1/users", headers=auth(token), body={**new_agent, "email": email()})
    assert status == 403, out

    status, user = patch_role(stack, http, stack.token, uid, "owner")
    assert status == 200 and user["role"] == "owner" and groups(stack, http, uid) == ["owner"]
    # the capacity is still changed alone, and a role change keeps it
    status, _, user = http("PATCH", f"{base}/v1/users/{uid}", headers=auth(stack.token), body={"capacity": 3})
    assert status == 200 and (user["capacity"], user["role"]) == (3, "owner"), user
    status, user = patch_role(stack, http, stack.token, uid, "agent")
    assert status == 200 and (user["capacity"], user["role"]) == (3, "agent"), user


def test_who_may_change_which_role(stack: LocalStack, http: Any, make_user: Any) -> None:
    agent_id, agent = make_user("agent")
    other_agent_id, _ = make_user("agent")
    admin_id, admin = make_user("admin")
    other_admin_id, _ = make_user("admin")
    owner_id = stack.tokens.user_id

    # agents change no roles
    status, out = patch_role(stack, http, agent, other_agent_id, "agent")
    assert status == 403 and out["error"]["code"] == "forbidden", out
    # admins manage agents, but make no admins or owners and demote none
    for target, role in [(agent_id, "admin"), (agent_id, "owner"), (other_admin_id, "agent"), (owner_id, "agent")]:
        status, out = patch_role(stack, http, admin, target, role)
        assert status == 403 and out["error"]["field"] == "role", (target, role, out)
    status, out = patch_role(stack, http, admin, agent_id, "agent")
    assert status == 200 and out["role"] == "agent"
    # nobody changes their own role, the owner included
    for token, me in [(admin, admin_id), (stack.token, owner_id)]:
        status, out = patch_role(stack, http, token, me, "agent")
        assert status == 403 and out["error"]["field"] == "role", out
    assert http("GET", f"{stack.base_url}/v1/me", headers=auth(stack.token))[2]["role"] == "owner"
    assert groups(stack, http, admin_id) == ["admin"] and groups(stack, http, agent_id) == ["agent"]
    # input errors name the field
    status, out = patch_role(stack, http, stack.token, agent_id, "root")
    assert status == 422 and out["error"]["field"] == "role", out
    for body, field in [({"role": None}, "role"), ({"capacity": None}, "capacity"), ({"name": "X"}, "name")]:
        status, _, out = http("PATCH", f"{stack.base_url}/v1/users/{agent_id}", headers=auth(stack.token), body=body)
        assert status == 422 and out["error"]["field"] == field, out
    status, out = patch_role(stack, http, stack.token, "nope", "admin")
    assert status == 404 and out["error"]["field"] == "user_id", out


def test_two_owners_demoting_each_other_leave_one_owner(stack: LocalStack, http: Any, make_user: Any) -> None:
    """The last owner is kept even under a race: a demotion holds only while its author is still an owner."""
    for _ in range(3):
        a_id, a = make_user("owner")
        b_id, b = make_user("owner")
        results: dict[str, tuple[int, Any]] = {}
        start = threading.Barrier(2)

        def demote(
            name: str, token: str, target: str, start: threading.Barrier = start, results: dict = results
        ) -> None:
            start.wait()
            results[name] = patch_role(stack, http, token, target, "agent")

        threads = [
            threading.Thread(target=demote, args=("a", a, b_id)),
            threading.Thread(target=demote, args=("b", b, a_id)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for s, _ in results.values())
        assert statuses in ([200, 403], [200, 409]), results
        roles = {
            uid: http("GET", f"{stack.base_url}/v1/users/{uid}", headers=auth(stack.token))[2]["role"]
            for uid in (a_id, b_id)
        }
        assert sorted(roles.values()) == ["agent", "owner"], (roles, results)
        for uid, role in roles.items():
            assert groups(stack, http, uid) == [role]
        # the one demoted cannot demote back
        (loser,) = [uid for uid, role in roles.items() if role == "agent"]
        (winner,) = [uid for uid in roles if uid != loser]
        status, out = patch_role(stack, http, a if loser == a_id else b, winner, "agent")
        assert status == 403, out


def test_a_demotion_read_before_its_author_was_demoted_is_refused(stack: LocalStack, http: Any, make_user: Any) -> None:
    """The race's window, made deterministic: B read their own role (owner) before A demoted them,
    then demotes A. Without the check of B's role at the write, the account would have no owner left
    among the two."""
    a_id, a = make_user("owner")
    b_id, _ = make_user("owner")
    b_as_read_before = Caller(user_id=b_id, role="owner", username="b")
    assert patch_role(stack, http, a, b_id, "agent")[0] == 200
    with pytest.raises(Forbidden) as refused:
        users.change_role(b_as_read_before, a_id, "agent")
    assert refused.value.field == "role"
    got = http("GET", f"{stack.base_url}/v1/users/{a_id}", headers=auth(stack.token))[2]
    assert got["role"] == "owner" and groups(stack, http, a_id) == ["owner"]
    assert groups(stack, http, b_id) == ["agent"]


def test_language_in_my_profile(stack: LocalStack, http: Any, make_user: Any) -> None:
    base = stack.base_url
    _, token = make_user("agent")
    status, _, me = http("GET", f"{base}/v1/me", headers=auth(token))
    assert status == 200 and me["language"] is None, me
    for language in ("nl", "es", "fr", "en"):
        status, _, me = http("PATCH", f"{base}/v1/me", headers=auth(token), body={"language": language})
        assert status == 200 and me["language"] == language, me
        assert http("GET", f"{base}/v1/me", headers=auth(token))[2]["language"] == language
    status, _, out = http("PATCH", f"{base}/v1/me", headers=auth(token), body={"language": "de"})
    assert status == 422 and out["error"]["field"] == "language", out
    status, _, out = http("PATCH", f"{base}/v1/me", headers=auth(token), body={"role": "owner"})
    assert status == 422 and out["error"]["field"] == "role", out
    assert http("GET", f"{base}/v1/me", headers=auth(token))[2] | {"language": "en"} == me
    status, _, me = http("PATCH", f"{base}/v1/me", headers=auth(token), body={"language": None})
    assert status == 200 and me["language"] is None
    assert http("GET", f"{base}/v1/me", headers=auth(token))[2]["language"] is None
    # another user's language is their own
    _, other = make_user("agent")
    assert http("GET", f"{base}/v1/me", headers=auth(other))[2]["language"] is None


def test_an_owner_created_in_cognito_only_changes_roles(stack: LocalStack, http: Any, make_user: Any) -> None:
    """The first owner of a deployment is created with the AWS CLI (docs/deploy.md): a Cognito user in
    the `owner` group without a profile. Their role comes from the token, and they may change roles."""
    idp, pool, addr = aws.cognito(), config.user_pool_id(), email()
    password = f"Sd-{uuid.uuid4().hex[:12]}-9a"
    idp.admin_create_user(UserPoolId=pool, Username=addr, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=addr, Password=password, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool, Username=addr, GroupName="owner")
    token = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=config.user_pool_client_id(),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": addr, "PASSWORD": password},
    )["AuthenticationResult"]["IdToken"]
    assert http("GET", f"{stack.base_url}/v1/me", headers=auth(token))[2]["role"] == "owner"
    agent_id, _ = make_user("agent")
    status, out = patch_role(stack, http, token, agent_id, "admin")
    assert status == 200 and out["role"] == "admin", out
    assert groups(stack, http, agent_id) == ["admin"]
