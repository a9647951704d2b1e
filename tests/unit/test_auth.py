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
