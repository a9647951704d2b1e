"""User profiles (the Cognito user is the identity; the profile holds smsdesk's own fields).

Keys: ``PK=USER#{user_id} SK=PROFILE``; list by ``GSI1PK=USERS GSI1SK={email}``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table
from smsdesk.data.channels import transact


def put_profile(profile: dict[str, Any]) -> None:
    item = {
        "PK": f"USER#{profile['user_id']}",
        "SK": "PROFILE",
        "GSI1PK": "USERS",
        "GSI1SK": profile["email"].lower(),
        "type": "user",
        **profile,
    }
    table.put(item)


def get_profile(user_id: str) -> dict[str, Any] | None:
    item = table.get(f"USER#{user_id}", "PROFILE")
    return _strip(item) if item else None


def get_profiles(user_ids: list[str]) -> list[dict[str, Any]]:
    """The existing profiles of ``user_ids`` (BatchGetItem: one call per 100), in no particular order."""
    return [_strip(i) for i in table.batch_get([(f"USER#{u}", "PROFILE") for u in user_ids])]


def list_profiles(*, limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query("USERS", index="GSI1", limit=limit, cursor=cursor)
    return [_strip(i) for i in items], nxt


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in {"PK", "SK", "GSI1PK", "GSI1SK", "type"}}


def set_available(user_id: str, available: bool | None, capacity: int | None = None) -> dict[str, Any] | None:
    """Set only ``available`` and/or ``capacity`` (an UpdateItem: the rest of the profile, e.g. the
    queue's ``open_count``, is left as it is); None if the profile does not exist."""
    sets, values = [], {}
    if available is not None:
        sets.append("available = :a")
        values[":a"] = {"BOOL": available}
    if capacity is not None:
        sets.append("#cap = :c")
        values[":c"] = {"N": str(capacity)}
    if not sets:
        return get_profile(user_id)
    return _update_profile(
        user_id,
        UpdateExpression="SET " + ", ".join(sets),
        ExpressionAttributeValues=values,
        **({"ExpressionAttributeNames": {"#cap": "capacity"}} if capacity is not None else {}),
    )


def _update_profile(user_id: str, **update: Any) -> dict[str, Any] | None:
    """One UpdateItem on an existing profile; the profile after it, or None if there is none."""
    try:
        resp = aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(f"USER#{user_id}", "PROFILE"),
            ConditionExpression="attribute_exists(PK)",
            ReturnValues="ALL_NEW",
            **update,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return _strip(table.deserialize(resp["Attributes"]))


def require_available(user_id: str, *, below_capacity: bool = False) -> dict[str, Any]:
    """A transaction item that holds only while the user exists and is available (assignments), and
    with ``below_capacity`` while their ``open_count`` is below their ``capacity`` (0/absent = no limit)."""
    check: dict[str, Any] = {
        "TableName": config.table_name(),
        "Key": table.key(f"USER#{user_id}", "PROFILE"),
        "ConditionExpression": "available = :t",
        "ExpressionAttributeValues": {":t": {"BOOL": True}},
    }
    if below_capacity:
        check["ConditionExpression"] += (
            " AND (attribute_not_exists(#cap) OR #cap = :zero OR attribute_not_exists(open_count) OR open_count < #cap)"
        )
        check["ExpressionAttributeNames"] = {"#cap": "capacity"}
        check["ExpressionAttributeValues"][":zero"] = {"N": "0"}
    return {"ConditionCheck": check}


def get_role(user_id: str) -> str | None:
    """The role in the user's profile (one consistent GetItem of that attribute); None without a profile."""
    resp = aws.dynamodb().get_item(
        TableName=config.table_name(),
        Key=table.key(f"USER#{user_id}", "PROFILE"),
        ProjectionExpression="#r",
        ExpressionAttributeNames={"#r": "role"},
        ConsistentRead=True,
    )
    role = resp.get("Item", {}).get("role", {})
    return role.get("S")


def change_role(user_id: str, old: str, new: str, *, by_user_id: str, by_role: str) -> None:
    """Set the user's role from ``old`` to ``new`` in one transaction that holds only while the user
    still has ``old`` and its author (another user) still has ``by_role`` (or has no profile). Raises
    :class:`smsdesk.data.channels.ConditionFailed` with the reasons ``[user, author]`` otherwise.

    Requiring the author's role at the moment of the write is what keeps an owner: nobody changes
    their own role, so an owner is demoted only by another owner, who is checked to still be one.
    Two owners demoting each other at once cannot both succeed."""
    transact(
        [
            {
                "Update": {
                    "Key": (f"USER#{user_id}", "PROFILE"),
                    "UpdateExpression": "SET #r = :new",
                    "ConditionExpression": "#r = :old",
                    "ExpressionAttributeNames": {"#r": "role"},
                    "ExpressionAttributeValues": {":new": new, ":old": old},
                }
            },
            {
                "ConditionCheck": {
                    "Key": (f"USER#{by_user_id}", "PROFILE"),
                    # A caller without a profile (the first owner, created with the AWS CLI) has the
                    # role of their token; the API cannot change it, so there is nothing to hold.
                    "ConditionExpression": "attribute_not_exists(PK) OR #r = :by",
                    "ExpressionAttributeNames": {"#r": "role"},
                    "ExpressionAttributeValues": {":by": by_role},
                }
            },
        ]
    )


def set_language(user_id: str, language: str | None) -> dict[str, Any] | None:
    """Set (or with None remove) the profile's ``language``; None if the profile does not exist."""
    if language is None:
        return _update_profile(user_id, UpdateExpression="REMOVE #l", ExpressionAttributeNames={"#l": "language"})
    return _update_profile(
        user_id,
        UpdateExpression="SET #l = :l",
        ExpressionAttributeNames={"#l": "language"},
        ExpressionAttributeValues={":l": {"S": language}},
    )
