"""Bus events -> per-user notifications (feed + ``notification.created`` on the bus).

``message.received`` notifies the users who may use the channel, by their preferences and whether
the conversation was theirs, a colleague's or unassigned when the message arrived (the event says); ``conversation.assigned`` and
``conversation.transferred`` notify the new assignee. Other events are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from smsdesk import channels
from smsdesk.data import teams as teams_repo
from smsdesk.data import users as users_repo
from smsdesk.inbox import notifications
from smsdesk.observability import logger


class EventBridgeEvent:
    """An EventBridge event as Lambda receives it: the part of Powertools' ``EventBridgeEvent`` (same
    names) used here, without loading every Powertools event data class at cold start."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.raw_event = data

    @property
    def get_id(self) -> str:
        return self.raw_event["id"]

    @property
    def detail_type(self) -> str:
        return self.raw_event["detail-type"]

    @property
    def time(self) -> str:
        return self.raw_event["time"]

    @property
    def detail(self) -> dict[str, Any]:
        return self.raw_event["detail"]


def _candidates() -> list[notifications.Candidate]:
    """Every user with their teams and preferences (a contact center has tens, not thousands)."""
    out: list[notifications.Candidate] = []
    cursor: str | None = None
    while True:
        profiles, cursor = users_repo.list_profiles(limit=100, cursor=cursor)
        for p in profiles:
            uid = p["user_id"]
            out.append(
                notifications.Candidate(
                    uid,
                    p.get("role", "agent"),
                    frozenset(teams_repo.user_team_ids(uid)),
                    notifications.get_preferences(uid),
                )
            )
        if not cursor:
            return out


def _event_time(event: EventBridgeEvent) -> dt.datetime:
    """The detail's own ``at`` (milliseconds; the envelope's ``time`` has whole seconds only, which
    would not order two events of one second), else the envelope's time."""
    for value in (event.detail.get("at"), event.time):
        try:
            return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except (TypeError, ValueError):
            continue
    return dt.datetime.now(dt.UTC)


def handle_event(event: EventBridgeEvent) -> None:
    detail, kind = event.detail, event.detail_type
    at = _event_time(event)
    if kind == "message.received" and detail.get("conversation_id"):
        channel = channels.get_channel(detail["channel_id"])
        # whose conversation it was once the inbound was routed: the event says (no re-read, no race)
        assignee_id = detail.get("assignee_id")
        recipients = notifications.recipients_of_message(assignee_id, channel.team_ids, _candidates())
        message_id, by = detail.get("message_id"), None
    elif kind in ("conversation.assigned", "conversation.transferred") and detail.get("assignee_id"):
        assignee = detail["assignee_id"]
        recipients = notifications.recipients_of_assignment(
            assignee, detail.get("by"), notifications.get_preferences(assignee)
        )
        message_id, by = None, detail.get("by")
    else:
        return
    # The outbox may deliver an event twice (at-least-once stream): its own event_id is the same on
    # every delivery, the envelope's id is not.
    event_id = str(detail.get("event_id") or event.get_id)
    created = notifications.deliver(
        event_id,
        recipients,
        conversation_id=detail["conversation_id"],
        channel_id=detail["channel_id"],
        message_id=message_id,
        by=by,
        at=at,
    )
    logger.info(
        "notifications", extra={"detail_type": kind, "event_id": event_id, "notifications_created": len(created)}
    )
