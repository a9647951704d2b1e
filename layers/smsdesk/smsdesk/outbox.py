"""The outbox: bus events and queue jobs leave with the write that causes them, through the table's stream.

A write that changes something others must hear about (a message recorded, sent, delivered; a refund)
also sets the attribute ``ob`` on the item it writes::

    ob = {"id": "<fresh uuid>",
          "events": [{"type": "message.sent", "of": "message"},            # built from the item
                     {"type": "credits.refunded", "detail": {...}}],        # carried as is
          "jobs": [{"queue": "outbound", "body": "<json>", "delay_s": 0}]}

No extra item and no extra write: the change and its announcement are one DynamoDB write (or one item
of the same transaction), so an event exists exactly when its change committed, and a message that
was charged and recorded always reaches the outbound queue. The ``outbox`` function consumes the
main table's stream (``NEW_AND_OLD_IMAGES``; the event source mapping's filter passes only records
whose new image carries an ``ob``) and publishes each record's events (batched ``PutEvents``, ≤ 10
entries per call) and jobs (``SendMessageBatch``, ≤ 10 per call), in stream order, reporting the first
record that failed as ``batchItemFailures`` so Lambda retries from there (``handle``).

* A record whose ``ob.id`` equals the old image's is not republished (a later write that kept the
  attribute is not a new change). Writes that announce nothing remove ``ob`` (so the filter drops them).
* Which ``message.<status>`` events a write announces is a deployment setting (``MESSAGE_EVENTS``,
  ``config.message_events``; docs/events.md): :func:`status_event` returns None for a status the
  deployment does not publish and :func:`change` leaves it out, so a write announcing nothing else
  carries no ``ob`` (no outbox invocation, no bus event); a recorded message still carries its job.
* Stream records are delivered at least once and a retried batch re-sends what it sent before its
  first failure: every event's detail carries ``event_id`` (``<ob id>:<n>``, the same on every
  delivery) for consumers to deduplicate (EventBridge does not); a job delivered twice is harmless
  (the sender's claim on the message row sends each attempt once).
* A new message row's ``ob`` may also name ``entry`` (``charge`` or ``index``): the immutable entry the
  relay derives from the row and writes before publishing (``data.messages.new_items``,
  ``outbox_relay.derived_entries``), so it is not an item of the transaction that records the message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from smsdesk import config, manifest

ATTRIBUTE = manifest.OUTBOX_ATTRIBUTE
MAX_ENTRIES_PER_CALL = 10  # PutEvents and SendMessageBatch limits
Event = dict[str, Any]
Job = dict[str, Any]


# -- what a write carries ---------------------------------------------------------------------------


def event(detail_type: str, detail: dict[str, Any]) -> Event:
    """An event published as is (its detail must be JSON-serialisable)."""
    return {"type": detail_type, "detail": detail}


#: The statuses a message ends in: the events ``final`` and ``conversations`` modes publish.
FINAL_STATUSES = ("delivered", "undelivered", "failed")


def depends_on_conversation(entered: str) -> bool:
    """Whether publishing ``message.<entered>`` depends on the message being in a conversation (the
    ``conversations`` mode's final statuses): a writer that does not know must find out."""
    return entered in FINAL_STATUSES and config.message_events() == "conversations"


def status_event(entered: str, *, conversation: bool | None = None) -> Event | None:
    """``message.<entered>``, its detail built from the written message row (docs/events.md), or None
    when the deployment does not publish it (``MESSAGE_EVENTS``): ``all`` publishes every status;
    ``final`` the final ones, and the ``queued`` of a message in a conversation (an agent's, a bot's or
    an auto-reply: CRM transcripts place it when it is sent, whether or not a receipt ever comes);
    ``conversations`` only those of a message in a conversation. ``conversation``: whether the message
    is in one (needed for ``queued``, and where :func:`depends_on_conversation`)."""
    mode = config.message_events()
    if mode != "all" and entered == "queued":
        if conversation is None:
            raise ValueError("message.queued: MESSAGE_EVENTS needs to know the conversation")
        return {"type": "message.queued", "of": "message"} if conversation else None
    if mode != "all" and entered not in FINAL_STATUSES:
        return None
    if mode == "conversations":
        if conversation is None:
            raise ValueError(f"message.{entered}: MESSAGE_EVENTS=conversations needs to know the conversation")
        if not conversation:
            return None
    return {"type": f"message.{entered}", "of": "message"}


def job(queue: manifest.Queue, body: str, *, delay_s: int = 0) -> Job:
    out: Job = {"queue": queue.name, "body": body}
    if delay_s:
        out["delay_s"] = int(delay_s)
    return out


def change(events: Iterable[Event | None] = (), jobs: Iterable[Job] = ()) -> dict[str, Any] | None:
    """The ``ob`` attribute of a write announcing ``events`` and ``jobs`` (None: nothing to announce;
    a None event, a status the deployment does not publish, is left out)."""
    evs, jbs = [e for e in events if e is not None], list(jobs)
    if not evs and not jbs:
        return None
    out: dict[str, Any] = {"id": uuid.uuid4().hex}
    if evs:
        out["events"] = evs
    if jbs:
        out["jobs"] = jbs
    return out


def message_detail(msg: Any, entered: str, previous: str | None) -> dict[str, Any]:
    """The ``detail`` of a ``message.<status>`` event (docs/events.md)."""
    from smsdesk.models import iso

    return {
        "message_id": msg.id,
        "status": entered,
        "previous_status": previous,
        "at": iso(msg.history[-1].at) if msg.history else None,
        "channel_id": msg.channel_id,
        "direction": msg.direction,
        "to": msg.to,
        "country": msg.country,
        "segments": msg.segments,
        "credits": msg.credits,
        "provider": msg.provider,
        "provider_id": msg.provider_id,
        "parts_total": msg.parts_total,
        "parts_delivered": msg.parts_delivered,
        "error": msg.error.model_dump() if msg.error else None,
        "refunded": msg.refunded,
        "created_by": msg.created_by,
        "conversation_id": msg.conversation_id,
        "campaign_id": msg.campaign_id,
    }
