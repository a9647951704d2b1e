"""Notifications: per-user preferences, the feed with read marks, and who is notified of what.

Kinds: ``new_message_mine`` / ``new_message_others`` / ``new_message_unassigned`` (an inbound SMS in
a conversation assigned to me / to a colleague / to nobody; only on channels I may use) and
``assigned_to_me`` (a conversation was assigned or transferred to me by someone else). Each
notification is stored in the user's feed and published as ``notification.created`` so e-mail or
chat integrations can subscribe on the bus.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import access, events, ids
from smsdesk.data import notifications as repo
from smsdesk.errors import NotFound
from smsdesk.models import iso, utcnow

Kind = Literal["new_message_mine", "new_message_others", "new_message_unassigned", "assigned_to_me"]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    new_message_mine: bool = Field(default=True, description="New message in conversations assigned to me")
    new_message_others: bool = Field(default=False, description="New message in colleagues' conversations")
    new_message_unassigned: bool = Field(default=True, description="New message in unassigned conversations")
    assigned_to_me: bool = Field(default=True, description="A conversation was assigned or transferred to me")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    new_message_mine: bool | None = None
    new_message_others: bool | None = None
    new_message_unassigned: bool | None = None
    assigned_to_me: bool | None = None


class Notification(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    kind: Kind
    conversation_id: str
    channel_id: str
    message_id: str | None = None
    by: str | None = None
    created_at: dt.datetime
    read_at: dt.datetime | None = None


class NotificationPage(BaseModel):
    model_config = ConfigDict(defer_build=True)
    items: list[Notification]
    next_cursor: str | None = None


def get_preferences(user_id: str) -> Preferences:
    return Preferences.model_validate(repo.get_preferences(user_id) or {})


def update_preferences(user_id: str, update: PreferencesUpdate) -> Preferences:
    prefs = get_preferences(user_id).model_copy(update=update.model_dump(exclude_none=True))
    repo.put_preferences(user_id, prefs.model_dump())
    return prefs


def feed(user_id: str, *, limit: int = 50, cursor: str | None = None) -> NotificationPage:
    items, nxt = repo.page(user_id, limit=limit, cursor=cursor)
    return NotificationPage(items=[Notification.model_validate(i) for i in items], next_cursor=nxt)


def mark_read(user_id: str, notification_id: str, *, now: dt.datetime | None = None) -> None:
    if not repo.mark_read(user_id, notification_id, iso(now or utcnow())):
        raise NotFound(f"notification {notification_id} not found", field="notification_id")


# -- who is notified (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    user_id: str
    role: str
    team_ids: frozenset[str]
    prefs: Preferences


def message_kind(assignee_id: str | None, user_id: str) -> Kind:
    if assignee_id is None:
        return "new_message_unassigned"
    return "new_message_mine" if assignee_id == user_id else "new_message_others"


def recipients_of_message(
    assignee_id: str | None, channel_team_ids: list[str], candidates: list[Candidate]
) -> list[tuple[str, Kind]]:
    """Users to notify of an inbound message: those who may use the channel and want this kind."""
    out: list[tuple[str, Kind]] = []
    for c in candidates:
        if not access.may_use(c.role, set(c.team_ids), channel_team_ids):
            continue
        kind = message_kind(assignee_id, c.user_id)
        if getattr(c.prefs, kind):
            out.append((c.user_id, kind))
    return out


def recipients_of_assignment(assignee_id: str | None, by: str | None, prefs: Preferences) -> list[tuple[str, Kind]]:
    """The new assignee, unless they assigned it to themselves or opted out."""
    if assignee_id is None or assignee_id == by or not prefs.assigned_to_me:
        return []
    return [(assignee_id, "assigned_to_me")]


def notification_id(event_id: str, user_id: str, at: dt.datetime) -> str:
    """Time-ordered (the event's time) and the same for a redelivered event: 10 chars of milliseconds,
    16 of a hash of (event, user)."""
    return ids.new_id(at_ms=int(at.timestamp() * 1000))[:10] + ids.stable_id(event_id, user_id)[10:]


def deliver(
    event_id: str,
    recipients: list[tuple[str, Kind]],
    *,
    conversation_id: str,
    channel_id: str,
    message_id: str | None,
    by: str | None,
    at: dt.datetime,
) -> list[tuple[str, Notification]]:
    """Store one feed item per recipient (idempotent per event) and publish ``notification.created``."""
    created: list[tuple[str, Notification]] = []
    for user_id, kind in recipients:
        n = Notification(
            id=notification_id(event_id, user_id, at),
            kind=kind,
            conversation_id=conversation_id,
            channel_id=channel_id,
            message_id=message_id,
            by=by,
            created_at=at,
        )
        if repo.add(user_id, n.model_dump(mode="json", exclude_none=True)):
            created.append((user_id, n))
    if created:
        events.publish_many([("notification.created", {"user_id": u, **n.model_dump(mode="json")}) for u, n in created])
    return created
