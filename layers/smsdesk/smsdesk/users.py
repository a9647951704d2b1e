"""Users: identity in Cognito (groups = roles), profile in DynamoDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

from smsdesk import aws, config
from smsdesk.auth import Role
from smsdesk.data import users as repo


def create_user(email: str, name: str, role: Role, *, password: str | None = None) -> dict[str, Any]:
    """Create the Cognito user, put it in its role's group and store its profile.

    With ``password`` the password is set permanent (local seeding, tests); without, Cognito e-mails
    a temporary password.
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
    resp = idp.admin_create_user(**kwargs)
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
    return profile
