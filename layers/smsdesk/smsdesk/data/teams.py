"""Teams and memberships (see docs/data-model.md).

Keys:
* team ``PK=TEAM#{id} SK=META``; ``GSI1 TEAMS/{name lower}#{id}`` (list by name).
* team name guard ``PK=TEAMNAME#{name lower} SK=LOCK`` (team names are unique, case-insensitively).
* membership ``PK=TEAM#{id} SK=MEMBER#{user_id}``; ``GSI2 USER#{user_id}/TEAM#{id}`` (a user's teams).

The user's profile (``USER#{id}/PROFILE``) also carries ``team_ids``, changed in the same transaction
as the membership items: an access check reads it with one consistent GetItem.
"""

from __future__ import annotations

from typing import Any

from smsdesk.data import table
from smsdesk.data.channels import strip, transact


def create_team(team: dict[str, Any]) -> None:
    """Create a team; raises ``ConditionFailed`` if the name is taken."""
    name_key = team["name"].lower()
    transact(
        [
            {
                "Put": {
                    "Item": {
                        "PK": f"TEAM#{team['id']}",
                        "SK": "META",
                        "GSI1PK": "TEAMS",
                        "GSI1SK": f"{name_key}#{team['id']}",
                        "entity": "team",
                        **team,
                    },
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Put": {
                    "Item": {"PK": f"TEAMNAME#{name_key}", "SK": "LOCK", "entity": "team_name", "team_id": team["id"]},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
    )


def get_team(team_id: str) -> dict[str, Any] | None:
    item = table.get(f"TEAM#{team_id}", "META")
    return strip(item) if item else None


def get_teams(team_ids: list[str]) -> list[dict[str, Any]]:
    return [strip(i) for i in table.batch_get([(f"TEAM#{t}", "META") for t in team_ids])]


def list_teams(*, limit: int = 100, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query("TEAMS", index="GSI1", limit=limit, cursor=cursor)
    return [strip(i) for i in items], nxt


def member_ids(team_id: str) -> list[str]:
    out: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = table.query(f"TEAM#{team_id}", sk_prefix="MEMBER#", limit=500, cursor=cursor)
        out.extend(i["user_id"] for i in items)
        if not cursor:
            return out


def user_team_ids(user_id: str) -> set[str]:
    """The teams of a user, from their profile (one consistent GetItem)."""
    item = table.get(f"USER#{user_id}", "PROFILE", consistent=True)
    return set((item or {}).get("team_ids") or ())


def change_members(team_id: str, add: set[str], remove: set[str]) -> None:
    """Add/remove members of a team: membership items and each profile's ``team_ids`` in one
    transaction (so ≤ 49 changes per call; the API limits the request accordingly). Each profile
    must exist (``ConditionFailed`` otherwise)."""
    ops: list[dict[str, Any]] = []
    for uid in sorted(add):
        ops.append(
            {
                "Put": {
                    "Item": {
                        "PK": f"TEAM#{team_id}",
                        "SK": f"MEMBER#{uid}",
                        "GSI2PK": f"USER#{uid}",
                        "GSI2SK": f"TEAM#{team_id}",
                        "entity": "membership",
                        "team_id": team_id,
                        "user_id": uid,
                    }
                }
            }
        )
        ops.append(
            {
                "Update": {
                    "Key": (f"USER#{uid}", "PROFILE"),
                    "UpdateExpression": "ADD team_ids :t",
                    "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": {":t": {team_id}},
                }
            }
        )
    for uid in sorted(remove):
        ops.append({"Delete": {"Key": (f"TEAM#{team_id}", f"MEMBER#{uid}")}})
        ops.append(
            {
                "Update": {
                    "Key": (f"USER#{uid}", "PROFILE"),
                    "UpdateExpression": "DELETE team_ids :t",
                    "ExpressionAttributeValues": {":t": {team_id}},
                }
            }
        )
    ops.append({"ConditionCheck": {"Key": (f"TEAM#{team_id}", "META"), "ConditionExpression": "attribute_exists(PK)"}})
    transact(ops)
