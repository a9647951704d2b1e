"""Who is calling: the identity API Gateway's JWT authorizer has already verified.

In AWS, the HTTP API's Cognito JWT authorizer rejects missing/invalid/expired tokens with 401 before
the Lambda runs and passes the claims in ``requestContext.authorizer.jwt.claims``. The local stack
does the same check (``smsdesk.local.auth``). Handlers only read the claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from smsdesk.errors import Forbidden, Unauthorized

Role = Literal["owner", "admin", "agent"]
ROLES: tuple[Role, ...] = ("owner", "admin", "agent")


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: Role
    username: str

    @property
    def is_admin(self) -> bool:
        return self.role in ("owner", "admin")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action needs the admin or owner role")

    def require_owner(self) -> None:
        if self.role != "owner":
            raise Forbidden("this action needs the owner role")


def _groups(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("cognito:groups") or []
    if isinstance(raw, str):
        # API Gateway flattens array claims into "[a b]" strings.
        raw = raw.strip("[]").replace(",", " ").split()
    return list(raw)


def caller_from_claims(claims: dict[str, Any] | None) -> Caller:
    if not claims or not claims.get("sub"):
        raise Unauthorized("missing or invalid bearer token")
    groups = _groups(claims)
    role: Role = next((r for r in ROLES if r in groups), "agent")
    return Caller(
        user_id=claims["sub"],
        role=role,
        username=claims.get("username") or claims.get("cognito:username", ""),
    )
