"""Credit balance and ledger. Keys (docs/data-model.md):

* balance: ``PK=CREDITS SK=BALANCE`` — ``balance`` and ``first_month`` (the oldest ledger partition);
* ledger entry: ``PK=LEDGER#{yyyy-mm} SK={at}#{entry_id}``.

Every balance change is a ``TransactWriteItems`` of the balance update and its ledger entry (plus,
for refunds, the message write from ``smsdesk.data.messages``), so the ledger always sums to the
balance; except a send's charge: its transaction is the balance debit and the message row, and the
charge's ledger entry (immutable, derived from the row) is written by the outbox relay from the row's
INSERT (``smsdesk.outbox_relay.derived_entries``), so the ledger sums to the balance once the stream is
handled (the relay retries until it is written). Charges are conditioned on ``balance >= :cost``
instead of a read-compare loop: concurrent sends never serialise on a version number and the balance
can never go negative.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config, manifest
from smsdesk.data import table
from smsdesk.errors import ValidationError

#: A ledger month partition, as ledger cursors carry it.
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

BALANCE_PK, BALANCE_SK = "CREDITS", "BALANCE"

TransactItem = dict[str, Any]


class TransactionCanceled(Exception):
    """A transaction was cancelled; ``reasons`` are the per-item cancellation codes, in order."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def month_of(at: str) -> str:
    return at[:7]


def ledger_pk(at: str) -> str:
    return f"LEDGER#{month_of(at)}"


def get_balance(*, consistent: bool = True) -> dict[str, Any]:
    item = table.get(BALANCE_PK, BALANCE_SK, consistent=consistent)
    return item or {"balance": 0}


def ledger_item(entry: dict[str, Any], *, ob: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored item of a ledger entry (keys from its ``at`` and ``id``); ``ob``: what it announces."""
    return {"PK": ledger_pk(entry["at"]), "SK": f"{entry['at']}#{entry['id']}", **entry, manifest.OUTBOX_ATTRIBUTE: ob}


def ledger_put(entry: dict[str, Any], *, ob: dict[str, Any] | None = None) -> TransactItem:
    """A new ledger entry; ``ob``: what it announces (``smsdesk.outbox``)."""
    item = ledger_item(entry, ob=ob)
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(item),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def debit(amount: int) -> TransactItem:
    """Balance minus ``amount``, only if the balance covers it (fails on a missing balance item too)."""
    return {
        "Update": {
            "TableName": config.table_name(),
            "Key": table.key(BALANCE_PK, BALANCE_SK),
            "UpdateExpression": "SET balance = balance - :a",
            "ConditionExpression": "attribute_exists(balance) AND balance >= :a",
            "ExpressionAttributeValues": {":a": {"N": str(amount)}},
        }
    }


def credit(amount: int, at: str) -> TransactItem:
    """Balance plus ``amount`` (creating the balance item on the first top-up)."""
    return {
        "Update": {
            "TableName": config.table_name(),
            "Key": table.key(BALANCE_PK, BALANCE_SK),
            "UpdateExpression": "SET balance = if_not_exists(balance, :zero) + :a, "
            "first_month = if_not_exists(first_month, :m)",
            "ExpressionAttributeValues": {
                ":a": {"N": str(amount)},
                ":zero": {"N": "0"},
                ":m": {"S": month_of(at)},
            },
        }
    }


def transact(items: list[TransactItem]) -> None:
    """Run a transaction; a cancellation raises :class:`TransactionCanceled` with the reasons."""
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if not reasons:
            # Some endpoints put the reasons only in the message: "... [ConditionalCheckFailed, None]".
            msg = exc.response.get("Error", {}).get("Message", "")
            if "[" in msg:
                reasons = [r.strip() for r in msg[msg.rindex("[") + 1 : msg.rindex("]")].split(",")]
        raise TransactionCanceled(reasons) from exc


def list_ledger(*, limit: int, cursor: str | None, now_month: str) -> tuple[list[dict[str, Any]], str | None]:
    """Ledger entries newest first across month partitions; cursor = (month, last key) as base64 JSON."""
    pos: dict[str, Any] = {"m": now_month, "k": None}
    if cursor:
        pos = table.decode_cursor(cursor)
        if not (
            isinstance(pos, dict)
            and set(pos) == {"m", "k"}
            and isinstance(pos["m"], str)
            and _MONTH.fullmatch(pos["m"])
            and pos["m"] <= now_month
            and (pos["k"] is None or isinstance(pos["k"], dict))
        ):
            raise ValidationError(
                "cursor is not valid: pass the cursor a response of this same list returned", field="cursor"
            )
    first = get_balance(consistent=False).get("first_month")
    if not first:
        return [], None
    month, start = str(pos["m"]), pos.get("k")
    out: list[dict[str, Any]] = []
    while month >= first and len(out) < limit:
        items, next_cur = table.query(
            f"LEDGER#{month}", limit=limit - len(out), newest_first=True, cursor=table.encode_cursor(start)
        )
        out.extend(items)
        if next_cur:
            start = table.decode_cursor(next_cur)
            if len(out) >= limit:
                break
        else:
            month, start = _previous_month(month), None
    if month < first:
        return out, None
    token = base64.urlsafe_b64encode(json.dumps({"m": month, "k": start}).encode()).decode()
    return out, token


def _previous_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return f"{y:04d}-{m:02d}"
