"""Who may use which channel.

Owner and admins may use every channel. An agent may use a channel only when they are a member of
at least one team the channel is granted to. Membership is read from the caller's profile
(``team_ids``, one consistent GetItem) and intersected with the channel's ``team_ids`` (kept on the
channel item): an access check costs two GetItems, one of which the caller needs anyway.
"""

from __future__ import annotations

from smsdesk import channels
from smsdesk.auth import Caller
from smsdesk.data import channels as channels_repo
from smsdesk.data import teams as teams_repo
from smsdesk.errors import Forbidden
from smsdesk.models import Channel


def may_use(role: str, user_teams: set[str], channel_teams: list[str] | set[str]) -> bool:
    """The rule itself (pure): admins/owner always; agents through a shared team."""
    if role in ("owner", "admin"):
        return True
    return bool(user_teams & set(channel_teams))


def require_channel(
    caller: Caller, channel_id: str, *, cached: bool = False, user_team_ids: set[str] | None = None
) -> Channel:
    """The channel if ``caller`` may use it; 404 ``not_found`` if it does not exist, 403 ``forbidden``
    if it exists but the caller is an agent outside all its teams. ``cached``: the channel as this
    container read it up to ``channels.CHANNEL_CACHE_S`` seconds ago (the send path: the sender checks
    again and fails, refunding, a message whose channel was disabled or deleted meanwhile).
    ``user_team_ids``: the caller's teams as already read from their profile (consistently)."""
    channel = channels.get_channel_cached(channel_id) if cached else channels.get_channel(channel_id)
    if caller.is_admin:
        return channel
    teams = teams_repo.user_team_ids(caller.user_id) if user_team_ids is None else user_team_ids
    if not may_use(caller.role, teams, channel.team_ids):
        raise Forbidden(f"you are not in a team that may use channel {channel_id}", field="channel_id")
    return channel


def usable_channel_ids(caller: Caller) -> set[str] | None:
    """The ids of the channels ``caller`` may use; ``None`` means all (owner/admin)."""
    if caller.is_admin:
        return None
    out: set[str] = set()
    for team_id in sorted(teams_repo.user_team_ids(caller.user_id)):
        out.update(channels_repo.channel_ids_for_team(team_id))
    return out
