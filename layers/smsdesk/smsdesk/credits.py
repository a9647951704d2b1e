"""Credits: the balance, admin top-ups and the ledger of every change.

Invariant: the sum of all ledger amounts equals the balance. Every balance change is written in one
DynamoDB transaction with its ledger entry (and, for a refund, with the message write), so the
invariant holds whatever fails or runs concurrently; except a send's charge: the balance debit is
written in ONE transaction with the message row (charged once in the transaction that records the
message), and its ledger entry, immutable and derived from the row alone (:func:`charge_entry`), is
written by the outbox relay from the row's INSERT, so it holds once the table's stream is handled.
Amounts are signed: top-ups and refunds positive, charges negative.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import ids, outbox
from smsdesk.auth import Caller
from smsdesk.data import credits as repo
from smsdesk.models import Message, iso, utcnow

EntryKind = Literal["top_up", "charge", "refund"]


class TopUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    credits: int = Field(
        gt=0, le=100_000_000, strict=True, description='Credits to add: a whole number (not "5", 5.0 or true)'
    )
    reference: str = Field(min_length=1, max_length=200, description="Invoice or payment reference")


class LedgerEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    kind: EntryKind
    amount: int = Field(description="Signed change of the balance: + top-up/refund, - charge")
    at: dt.datetime
    message_id: str | None = None
    reference: str | None = None
    reason: str | None = None
    by: str | None = Field(default=None, description="user id (top-ups, charges by a user)")
    campaign_id: str | None = Field(default=None, description="The campaign reserved for, or refunded to")


class Balance(BaseModel):
    model_config = ConfigDict(defer_build=True)
    balance: int


class LedgerPage(BaseModel):
    model_config = ConfigDict(defer_build=True)
    items: list[LedgerEntry]
    cursor: str | None = None
    balance: int


def _entry(kind: EntryKind, amount: int, **fields: Any) -> dict[str, Any]:
    now = utcnow()
    return {"id": ids.new_id(), "kind": kind, "amount": amount, "at": iso(now), **fields}


def balance() -> int:
    return int(repo.get_balance().get("balance", 0))


def top_up(caller: Caller, credits: int, reference: str) -> LedgerEntry:
    """Add credits (owner/admin only; 403 otherwise); the ledger entry announces ``credits.topped_up``."""
    caller.require_admin()
    entry = _entry("top_up", credits, reference=reference, by=caller.user_id)
    out = LedgerEntry.model_validate(entry)
    detail = {**out.model_dump(mode="json"), "at": entry["at"], "credits": credits}
    ob = outbox.change([outbox.event("credits.topped_up", detail)])
    repo.transact([repo.credit(credits, entry["at"]), repo.ledger_put(entry, ob=ob)])
    return out


def charge_items(message: Message) -> list[repo.TransactItem]:
    """The balance debit of a send, to commit with the message put (in this order). Its ledger entry
    (:func:`charge_entry`) is not in the transaction: the message row's INSERT announces it and the
    outbox relay writes it (``data.messages.new_items(..., entry="charge")``)."""
    return [repo.debit(message.credits)]


def charge_entry(message: Message) -> dict[str, Any]:
    """The stored ledger entry of ``message``'s charge, derived from the message alone (deterministic
    id and ``at``: a redelivered stream record rewrites the same item). It also carries the message's
    index keys (``data.messages.index_attributes``), so the message's own row, whose status changes,
    is in no GSI."""
    from smsdesk.data import messages as messages_repo

    entry = {
        "id": ids.stable_id("charge", message.id),
        "kind": "charge",
        "amount": -message.credits,
        "at": iso(message.created_at),
        "message_id": message.id,
        "by": message.created_by,
    }
    return repo.ledger_item({**entry, **(messages_repo.index_attributes(message) or {})})


def refund_items(message: Message, reason: str) -> list[repo.TransactItem]:
    """The balance credit and ledger entry of a refund, to commit with the message's ``refunded`` flag;
    the entry announces ``credits.refunded`` (through the outbox, so exactly when the refund commits)."""
    extra = {"campaign_id": message.campaign_id} if message.campaign_id else {}
    entry = _entry("refund", message.credits, message_id=message.id, reason=reason, **extra)
    detail = {**LedgerEntry.model_validate(entry).model_dump(mode="json"), "credits": entry["amount"]}
    ob = outbox.change([outbox.event("credits.refunded", detail)])
    return [repo.credit(message.credits, entry["at"]), repo.ledger_put(entry, ob=ob)]


def ledger(*, limit: int = 50, cursor: str | None = None) -> LedgerPage:
    items, nxt = repo.list_ledger(limit=limit, cursor=cursor, now_month=iso(utcnow())[:7])
    return LedgerPage(items=[LedgerEntry.model_validate(i) for i in items], cursor=nxt, balance=balance())
