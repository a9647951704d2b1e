import pytest

from smsdesk.auth import caller_from_claims
from smsdesk.errors import Forbidden, Unauthorized


def test_role_comes_from_cognito_groups_as_a_list():
    c = caller_from_claims({"sub": "u1", "cognito:groups": ["admin"], "username": "a"})
    assert (c.user_id, c.role, c.is_admin) == ("u1", "admin", True)


def test_role_from_api_gateway_flattened_groups_string():
    # The HTTP API JWT authorizer renders array claims as "[owner agent]".
    assert caller_from_claims({"sub": "u1", "cognito:groups": "[agent owner]"}).role == "owner"


def test_no_group_means_least_privilege_agent():
    c = caller_from_claims({"sub": "u1"})
    assert c.role == "agent"
    with pytest.raises(Forbidden):
        c.require_admin()


def test_missing_claims_is_unauthorized():
    with pytest.raises(Unauthorized):
        caller_from_claims(None)
    with pytest.raises(Unauthorized):
        caller_from_claims({"cognito:groups": ["owner"]})


def test_admin_is_not_owner():
    with pytest.raises(Forbidden):
        caller_from_claims({"sub": "u", "cognito:groups": ["admin"]}).require_owner()


def test_the_profile_role_wins_and_is_read_once_only_when_asked():
    looked_up: list[str] = []

    def profile_role(user_id: str) -> str | None:
        looked_up.append(user_id)
        return "agent"

    c = caller_from_claims({"sub": "u1", "cognito:groups": ["admin"]}, resolve_role=profile_role)
    assert looked_up == [] and c.user_id == "u1"  # a request that checks no role costs no lookup
    assert c.role == "agent" and not c.is_admin  # demoted since the token was issued
    with pytest.raises(Forbidden):
        c.require_admin()
    assert looked_up == ["u1"]


def test_without_a_profile_the_token_role_counts():
    c = caller_from_claims({"sub": "u1", "cognito:groups": ["owner"]}, resolve_role=lambda _u: None)
    assert c.role == "owner"
