"""Publishing smsdesk's domain events to the EventBridge bus (integrations subscribe with rules).

Every event has ``source = "smsdesk"`` and ``detail-type`` such as ``message.sent``; the shapes are
documented in docs/events.md.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from smsdesk import aws, config, manifest

if TYPE_CHECKING:
    from smsdesk.models import Conversation

MAX_ENTRIES_PER_CALL = 10  # PutEvents limit


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    publish_many([(detail_type, detail)])


def publish_many(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish in as few PutEvents calls as the API allows; raise if any entry failed (so SQS retries)."""
    bus = config.event_bus_name()
    for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
        chunk = events[start : start + MAX_ENTRIES_PER_CALL]
        entries = [
            {
                "Source": manifest.EVENT_BUS.source,
                "DetailType": dt,
                "Detail": json.dumps(detail, default=str, separators=(",", ":")),
                "EventBusName": bus,
            }
            for dt, detail in chunk
        ]
        resp = aws.events().put_events(Entries=entries)
        if resp.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge rejected {resp['FailedEntryCount']} of {len(entries)} events")


def conversation_detail(conv: Conversation, *, at: dt.datetime, by: str | None, **extra: Any) -> dict[str, Any]:
    """The ``detail`` of every ``conversation.*`` event (docs/events.md)."""
    from smsdesk.models import iso

    return {
        "conversation_id": conv.id,
        "channel_id": conv.channel_id,
        "contact_id": conv.contact_id,
        "number": conv.number,
        "status": conv.status,
        "assignee_id": conv.assignee_id,
        "reopened_count": conv.reopened_count,
        "last_activity_at": iso(conv.last_activity_at),
        "at": iso(at),
        "by": by,
        **extra,
    }
