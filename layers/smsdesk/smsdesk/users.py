"""Users: identity in Cognito (groups = roles), profile in DynamoDB."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from smsdesk import aws, config
from smsdesk.auth import ROLES, Caller, Role
from smsdesk.data import users as repo
from smsdesk.data.channels import ConditionFailed
from smsdesk.errors import Conflict, Forbidden, NotFound, ValidationError

#: Cognito's answers to a user it will not create as given: the e-mail (or the name) is the problem.
_REFUSED_INPUT = frozenset(
    {"InvalidParameterException", "CodeDeliveryFailureException", "UserLambdaValidationException"}
)


#: The web app's languages; a profile without one follows the browser.
Language = Literal["en", "nl", "es", "fr"]


class User(BaseModel):
    """A user as the API shows it (the profile; never the password)."""

    user_id: str
    email: str
    name: str
    role: Role
    available: bool = False
    capacity: int = Field(default=0, ge=0, description="Max open conversations from the queue; 0 = no limit")
    open_count: int = Field(default=0, description="Open conversations assigned now (kept by the queue)")
    created_at: dt.datetime
    team_ids: list[str] = Field(default_factory=list)
    language: Language | None = Field(default=None, description="The app's language; null = the browser's")


def create_user(email: str, name: str, role: Role, *, password: str | None = None) -> dict[str, Any]:
    """Create the Cognito user, put it in its role's group and store its profile.

    With ``password`` the password is set permanent (local seeding, tests); without, Cognito e-mails
    a temporary password. An existing e-mail is a 409 ``conflict`` on ``email``; an e-mail (or name)
    Cognito refuses, or cannot deliver the invitation to, a 422 on that field. If a later step
    fails, the Cognito user is deleted again, so no half-created user remains.
    """
    idp = aws.cognito()
    pool = config.user_pool_id()
    kwargs: dict[str, Any] = {
        "UserPoolId": pool,
        "Username": email,
        "UserAttributes": [
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": name},
        ],
    }
    if password:
        kwargs["MessageAction"] = "SUPPRESS"
    try:
        resp = idp.admin_create_user(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "UsernameExistsException":
            raise Conflict(f"a user with e-mail {email} already exists", field="email") from exc
        if error.get("Code") in _REFUSED_INPUT:
            field = "name" if "name" in error.get("Message", "").lower().replace("username", "") else "email"
            raise ValidationError(f"Cognito refused the {field}: {error.get('Message', '')}", field=field) from exc
        raise
    try:
        attrs = {a["Name"]: a["Value"] for a in resp["User"].get("Attributes", [])}
        user_id = attrs["sub"]
        if password:
            idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)
        idp.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=role)
        profile = {
            "user_id": user_id,
            "email": email,
            "name": name,
            "role": role,
            "available": False,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        repo.put_profile(profile)
    except BaseException:
        idp.admin_delete_user(UserPoolId=pool, Username=email)
        raise
    return profile


def check_may_create(caller: Caller, role: Role) -> None:
    """Admins manage agents; only the owner may create admins and owners (no self-promotion path)."""
    caller.require_admin()
    if role in ("owner", "admin") and caller.role != "owner":
        raise Forbidden(f"only the owner may create {role} users", field="role")


def check_may_change_role(caller: Caller, target: User, role: Role) -> None:
    """The rules of :func:`check_may_create` for a change: admins manage agents (so they change no
    roles but an agent's to agent), only the owner makes or unmakes admins and owners, and nobody
    changes their own role (so an owner is only ever demoted by another owner)."""
    caller.require_admin()
    if target.user_id == caller.user_id:
        raise Forbidden("you cannot change your own role", field="role")
    if caller.role != "owner" and (role != "agent" or target.role != "agent"):
        raise Forbidden("only the owner may make or change admins and owners", field="role")


def role_groups_sync(email: str, role: Role) -> None:
    """Put the Cognito user in ``role``'s group and out of the other roles' groups (added first, so
    the user is never without a group; removing a user from a group they are not in is no error)."""
    idp, pool = aws.cognito(), config.user_pool_id()
    idp.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=role)
    for other in ROLES:
        if other != role:
            idp.admin_remove_user_from_group(UserPoolId=pool, Username=email, GroupName=other)


def change_role(caller: Caller, user_id: str, role: Role) -> User:
    """Change a user's role: the Cognito group first, then the profile in a transaction that holds
    only while the user still has the role read here and the caller still has theirs (which keeps
    an owner: see :func:`smsdesk.data.users.change_role`). If the profile write fails, the Cognito
    groups are put back to the profile's role. The profile is what the API reads the caller's role
    from (``smsdesk.api.identity``), so the change takes effect on the user's next request.

    403 ``forbidden`` on ``role`` (the rules above, or the caller's own role changed meanwhile),
    409 ``conflict`` on ``role`` if the user's role changed meanwhile, 404 for an unknown user."""
    user = get_user(user_id)
    check_may_change_role(caller, user, role)
    if user.role == role:
        return user
    role_groups_sync(user.email, role)
    try:
        repo.change_role(user_id, user.role, role, by_user_id=caller.user_id, by_role=caller.role)
    except BaseException as exc:
        current = repo.get_role(user_id)
        role_groups_sync(user.email, current if current in ROLES else user.role)  # type: ignore[arg-type]
        if isinstance(exc, ConditionFailed):
            if exc.reasons[1:2] == ["ConditionalCheckFailed"]:
                raise Forbidden("your own role changed meanwhile", field="role") from exc
            raise Conflict(
                f"the user's role changed meanwhile (now {current}); reload and retry", field="role"
            ) from exc
        raise
    return get_user(user_id)


def set_language(user_id: str, language: Language | None) -> dict[str, Any]:
    """Keep the user's language in their profile (None: follow the browser)."""
    profile = repo.set_language(user_id, language)
    if profile is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    return profile


def to_user(profile: dict[str, Any]) -> User:
    extra = {"open_count": max(0, int(profile.get("open_count") or 0))}
    return User(**{**profile, **extra, "team_ids": sorted(profile.get("team_ids") or [])})


def get_user(user_id: str) -> User:
    profile = repo.get_profile(user_id)
    if profile is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    return to_user(profile)


def list_users(*, limit: int = 50, cursor: str | None = None) -> tuple[list[User], str | None]:
    """A page of users ordered by e-mail."""
    items, nxt = repo.list_profiles(limit=limit, cursor=cursor)
    return [to_user(p) for p in items], nxt


def set_availability(user_id: str, available: bool | None, capacity: int | None = None) -> User:
    """Switch a user's availability and/or capacity (only available users can be assigned
    conversations; the queue routes to them). One UpdateItem of those fields, so concurrent profile
    changes are kept. Becoming available (or more capacity) offers them waiting conversations."""
    profile = repo.set_available(user_id, available, capacity)
    if profile is None:
        raise NotFound(f"user {user_id} not found", field="user_id")
    if profile.get("available"):
        from smsdesk.inbox import queueing  # late: queueing reads users' data, not the other way round

        queueing.on_agent_freed(user_id, now=dt.datetime.now(dt.UTC))
    return to_user(profile)
