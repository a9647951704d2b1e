"""The authenticated caller of the request a router is serving."""

from __future__ import annotations

from typing import Any

from smsdesk.auth import Caller, caller_from_claims


def caller(router: Any) -> Caller:
    """Claims set by API Gateway's JWT authorizer (or the local gateway) → :class:`Caller`; 401 if none."""
    ctx = router.current_event.request_context
    claims = ctx.authorizer.jwt_claim if ctx.authorizer else None
    return caller_from_claims(claims)
