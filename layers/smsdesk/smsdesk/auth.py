"""Who is calling: the identity API Gateway's JWT authorizer has already verified.

In AWS, the HTTP API's Cognito JWT authorizer rejects missing/invalid/expired tokens with 401 before
the Lambda runs and passes the claims in ``requestContext.authorizer.jwt.claims``. The local stack
does the same check (``smsdesk.local.auth``). Handlers only read the claims.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from smsdesk.errors import Forbidden, Unauthorized

Role = Literal["owner", "admin", "agent"]
ROLES: tuple[Role, ...] = ("owner", "admin", "agent")


class Caller:
    """The signed-in user of a request.

    ``role`` is the token's role unless ``resolve_role`` is given: then it is looked up once, the
    first time the role is asked for (``resolve_role(user_id)``; None = keep the token's), so a
    request that never checks a role costs no lookup."""

    __slots__ = ("_resolve", "_role", "user_id", "username")

    def __init__(
        self, user_id: str, role: Role, username: str, *, resolve_role: Callable[[str], str | None] | None = None
    ) -> None:
        self.user_id = user_id
        self.username = username
        self._role: Role = role
        self._resolve = resolve_role

    @property
    def role(self) -> Role:
        if self._resolve is not None:
            current, self._resolve = self._resolve(self.user_id), None
            if current in ROLES:
                self._role = current  # type: ignore[assignment]
        return self._role

    def __repr__(self) -> str:
        return f"Caller(user_id={self.user_id!r}, role={self.role!r}, username={self.username!r})"

    @property
    def is_admin(self) -> bool:
        return self.role in ("owner", "admin")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action needs the admin or owner role")

    def require_owner(self) -> None:
        if self.role != "owner":
            raise Forbidden("this action needs the owner role")

    @property
    def role_pending(self) -> bool:
        """Whether the role is still to be looked up (its read can then ride along with another)."""
        return self._resolve is not None

    def prime_role(self, role: str | None) -> None:
        """The profile's role, read along with something else (one BatchGetItem for the send's reads):
        ``role`` then needs no lookup of its own. None (no profile): the token's role stays."""
        if self._resolve is not None:
            self._resolve = None
            if role in ROLES:
                self._role = role  # type: ignore[assignment]


def _groups(claims: dict[str, Any]) -> list[str]:
    raw = claims.get("cognito:groups") or []
    if isinstance(raw, str):
        # API Gateway flattens array claims into "[a b]" strings.
        raw = raw.strip("[]").replace(",", " ").split()
    return list(raw)


def caller_from_claims(
    claims: dict[str, Any] | None, *, resolve_role: Callable[[str], str | None] | None = None
) -> Caller:
    if not claims or not claims.get("sub"):
        raise Unauthorized("missing or invalid bearer token")
    groups = _groups(claims)
    role: Role = next((r for r in ROLES if r in groups), "agent")
    return Caller(
        user_id=claims["sub"],
        role=role,
        username=claims.get("username") or claims.get("cognito:username", ""),
        resolve_role=resolve_role,
    )
