"""The authenticated caller of the request a router is serving."""

from __future__ import annotations

from typing import Any

from smsdesk.auth import Caller, caller_from_claims
from smsdesk.data import users as users_repo


def caller(router: Any) -> Caller:
    """Claims set by API Gateway's JWT authorizer (or the local gateway) → :class:`Caller`; 401 if none.

    The role is the one in the caller's profile (one consistent GetItem, made only when the request
    checks a role), not the token's ``cognito:groups``: an ID token keeps the groups it was issued
    with until it expires (an hour), and a demoted admin must not keep admin rights that long. The
    token's groups count only for a user without a profile."""
    ctx = router.current_event.request_context
    claims = ctx.authorizer.jwt_claim if ctx.authorizer else None
    return caller_from_claims(claims, resolve_role=users_repo.get_role)
