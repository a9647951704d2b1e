"""Teams: named groups of users; a channel granted to a team is usable by its members."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from smsdesk import ids
from smsdesk.data import channels as channels_repo
from smsdesk.data import teams as repo
from smsdesk.data import users as users_repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import iso, utcnow

#: Membership changes of one request are one transaction (2 writes per change, ≤ 100 per transaction).
MAX_CHANGES = 49


class Team(BaseModel):
    id: str
    name: str
    created_at: dt.datetime
    member_ids: list[str] = Field(default_factory=list)
    channel_ids: list[str] = Field(default_factory=list, description="Channels granted to the team")


def create_team(name: str) -> Team:
    name = name.strip()
    if not name:
        raise ValidationError("name must not be empty", field="name")
    team = Team(id=ids.new_id(), name=name, created_at=utcnow())
    try:
        repo.create_team({"id": team.id, "name": team.name, "created_at": iso(team.created_at)})
    except channels_repo.ConditionFailed as exc:
        raise Conflict(f"a team named {name!r} already exists", field="name") from exc
    return team


def get_team(team_id: str) -> Team:
    item = repo.get_team(team_id)
    if item is None:
        raise NotFound(f"team {team_id} not found", field="team_id")
    return Team(
        **item,
        member_ids=sorted(repo.member_ids(team_id)),
        channel_ids=sorted(channels_repo.channel_ids_for_team(team_id)),
    )


def list_teams(*, limit: int = 100, cursor: str | None = None) -> tuple[list[Team], str | None]:
    """Teams by name (without members/channels: GET one team for those)."""
    items, nxt = repo.list_teams(limit=limit, cursor=cursor)
    return [Team(**i) for i in items], nxt


def set_members(team_id: str, user_ids: list[str]) -> Team:
    """Make the team's members exactly ``user_ids`` (each must be an existing user)."""
    if repo.get_team(team_id) is None:
        raise NotFound(f"team {team_id} not found", field="team_id")
    wanted = set(user_ids)
    current = set(repo.member_ids(team_id))
    add, remove = wanted - current, current - wanted
    _check_users(sorted(add), field="user_ids")
    if len(add) + len(remove) > MAX_CHANGES:
        raise ValidationError(f"at most {MAX_CHANGES} membership changes per request", field="user_ids")
    if add or remove:
        try:
            repo.change_members(team_id, add, remove)
        except channels_repo.ConditionFailed as exc:
            raise Conflict("a user or the team was removed concurrently; retry", field="user_ids") from exc
    return get_team(team_id)


def add_user_to_teams(user_id: str, team_ids: list[str]) -> None:
    for team_id in dict.fromkeys(team_ids):
        repo.change_members(team_id, {user_id}, set())


def check_teams(team_ids: list[str], *, field: str = "team_ids") -> None:
    """422 naming ``field`` unless every team exists."""
    wanted = list(dict.fromkeys(team_ids))
    if not wanted:
        return
    found = {t["id"] for t in repo.get_teams(wanted)}
    missing = [t for t in wanted if t not in found]
    if missing:
        raise ValidationError(f"unknown team(s): {', '.join(missing)}", field=field)


def _check_users(user_ids: list[str], *, field: str) -> None:
    missing = [u for u in user_ids if users_repo.get_profile(u) is None]
    if missing:
        raise ValidationError(f"unknown user(s): {', '.join(missing)}", field=field)
