"""Message status rules: pure functions, no AWS (unit-tested in tests/unit/test_status_rules.py).

Why pure: receipts arrive out of order, duplicated and concurrently. ``smsdesk.sending.messages`` reads the
item, asks these functions for the next state and writes it back conditionally on the item's
version, retrying on a conflict; so the rules below are the only place where "what happens next"
is decided, and they can be tested exhaustively without DynamoDB.

Rules
-----
* Monotonic: a status only moves to a higher :data:`~smsdesk.models.STATUS_RANK`
  (``queued 0 → sending 1 → sent 2 → delivered | undelivered | failed 3``). A late ``sent`` never
  overwrites ``delivered``; a final status never changes (the first final status wins).
* Every change appends ``StatusChange(status, at, detail)`` to the history.
* Duplicates (a receipt whose ``raw_id`` was already applied) change nothing.
* Multi-part: a receipt that names a ``part`` of a message with more than one part only updates
  that part (monotonic per part). The message is ``delivered`` when every part is delivered; as
  soon as one part ends ``failed`` or ``undelivered`` the message ends in that status (``failed``
  wins over ``undelivered``), because the recipient can no longer get the whole text; otherwise
  the message is ``sent`` once any part is. A receipt without a ``part`` is about the whole message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from smsdesk.models import FINAL_STATUSES, STATUS_RANK, Message, MessageError, Receipt, StatusChange

#: How many applied receipt ids an item remembers for de-duplication (10 parts x 4 statuses fits).
MAX_SEEN = 64


@dataclass(frozen=True)
class ReceiptState:
    """Receipt bookkeeping stored on the message item next to the :class:`Message` fields."""

    seen: tuple[str, ...] = ()
    parts: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The next state after applying something; ``entered`` is the status entered, if any."""

    message: Message
    state: ReceiptState
    entered: str | None


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def advance(message: Message, status: str, at: dt.datetime, detail: str | None = None) -> Message | None:
    """``message`` moved to ``status`` (history appended), or None if that would not move it forward."""
    if STATUS_RANK[status] <= STATUS_RANK[message.status]:
        return None
    history = [*message.history, StatusChange(status=status, at=at, detail=detail)]  # type: ignore[arg-type]
    return message.model_copy(update={"status": status, "history": history})


def combine_parts(parts: dict[int, str], total: int) -> str | None:
    """The message status implied by its parts' statuses (None: nothing reported yet)."""
    values = list(parts.values())
    if "failed" in values:
        return "failed"
    if "undelivered" in values:
        return "undelivered"
    if total > 0 and sum(1 for v in values if v == "delivered") >= total:
        return "delivered"
    if any(v in ("sent", "delivered") for v in values):
        return "sent"
    return None


def apply_receipt(message: Message, state: ReceiptState, receipt: Receipt) -> Outcome | None:
    """Apply one receipt; None when it changes nothing (duplicate, late, or final message)."""
    if receipt.raw_id in state.seen or is_final(message.status):
        return None
    total = max(receipt.parts or 0, message.parts_total or 0)
    parts = dict(state.parts)
    if receipt.part is not None and total > 1:
        current = parts.get(receipt.part)
        if current is not None and STATUS_RANK[current] >= STATUS_RANK[receipt.status]:
            return None
        parts[receipt.part] = receipt.status
        target = combine_parts(parts, total)
    else:
        target = receipt.status
    seen = (*state.seen, receipt.raw_id)[-MAX_SEEN:]
    new_state = ReceiptState(seen=seen, parts=parts)
    updates: dict[str, object] = {}
    if total and total != message.parts_total:
        updates["parts_total"] = total
    per_part = receipt.part is not None and total > 1
    delivered_parts = sum(1 for v in parts.values() if v == "delivered")
    if target == "delivered" and not per_part:
        delivered_parts = total or 1
    if delivered_parts != message.parts_delivered:
        updates["parts_delivered"] = delivered_parts
    base = message.model_copy(update=updates) if updates else message
    moved = advance(base, target, receipt.at, receipt.error_code) if target else None
    if moved is not None and target in ("failed", "undelivered") and (receipt.error_code or receipt.error_message):
        moved = moved.model_copy(
            update={
                "error": MessageError(
                    code=receipt.error_code or target, message=receipt.error_message or receipt.error_code or target
                )
            }
        )
    if moved is None and not updates and parts == state.parts:
        return None
    return Outcome(message=moved or base, state=new_state, entered=target if moved is not None else None)
