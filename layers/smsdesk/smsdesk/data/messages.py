"""Messages, provider-id mappings and early receipts. Keys (docs/data-model.md):

* message: ``PK=MSG#{id} SK=META``; GSI1 ``MSGS#{channel_id}`` / ``{created_at}#{id}`` (sent overview
  per channel, newest first); GSI2 ``MSGTO#{e164}`` / ``{created_at}#{id}`` (by recipient).
* a sent message outside conversations carries no index keys itself: its **charge** (its ledger entry;
  immutable) holds the GSI1/GSI2 keys and ``channel_id`` (:func:`index_attributes`); a message without a
  charge of its own (a campaign's: the campaign's reservation pays) has its own immutable **index
  entry** ``PK=MSG#{id} SK=INDEX`` instead (:func:`index_entry_item`). Neither is in the transaction
  that records the message: the row's INSERT announces its entry (``ob.entry``, :func:`new_items`) and
  the outbox relay writes it, deterministic from the row, with a plain put (a transaction bills each
  item twice); the message is listed once the stream is handled (GSIs are eventually consistent
  anyway). A GSI with ``ALL`` projection is rewritten whenever an item in it changes, so index keys on
  the row made every status change (``sending``, ``sent``, ``delivered``) cost one write unit per GSI
  more; on an immutable item they cost them once. :func:`page` resolves such index entries (any item
  with a ``message_id`` that is not a message row) to their rows (one BatchGetItem per page). Messages
  in a conversation (inbound, agent replies) and rows written before this existed keep the keys on the
  row (``split`` reports which: ``row_index``).
  Besides the :class:`~smsdesk.models.Message` fields the item holds ``version`` (optimistic lock:
  every status write is conditioned on it), ``receipt_ids`` and ``part_status`` (receipt bookkeeping).
* provider id → message: ``PK=PROVIDER#{provider}#{provider_id} SK=MSG``.
* early receipt: ``PK=PROVIDER#{provider}#{provider_id} SK=RECEIPT#{at}#{raw_id hash}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from typing import Any, Literal

from botocore.exceptions import ClientError

from smsdesk import aws, config, outbox
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import Message, Receipt, StatusChange, dump, iso

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")
_EXTRA = ("version", "receipt_ids", "part_status", "send_attempt", "send_lease", outbox.ATTRIBUTE)
#: ``send_lease`` of an attempt that finished without sending (a transient error): never expires, so a
#: duplicate delivery of that attempt's job cannot claim it again; a later attempt still can.
LEASE_DONE = 9_999_999_999
#: An early receipt whose message never gets a provider id is dropped by TTL after a week.
EARLY_RECEIPT_TTL_S = 7 * 86_400


def _item(
    message: Message,
    *,
    version: int,
    receipt_ids: list[str],
    part_status: dict[str, str],
    claim: dict[str, Any] | None = None,
    ob: dict[str, Any] | None = None,
    row_index: bool = True,
) -> dict[str, Any]:
    sort = f"{iso(message.created_at)}#{message.id}"
    item: dict[str, Any] = {
        "PK": f"MSG#{message.id}",
        "SK": "META",
        **(_index_keys(message) if row_index else {}),
        **dump(message),
        "version": version,
        "receipt_ids": receipt_ids or None,
        "part_status": part_status or None,
        **(claim or {}),
        outbox.ATTRIBUTE: ob,
    }
    if message.conversation_id:
        item["GSI3PK"], item["GSI3SK"] = f"CONV#{message.conversation_id}", sort
    return item


def _index_keys(message: Message) -> dict[str, str]:
    sort = f"{iso(message.created_at)}#{message.id}"
    return {"GSI1PK": f"MSGS#{message.channel_id}", "GSI1SK": sort, "GSI2PK": f"MSGTO#{message.to}", "GSI2SK": sort}


def split(item: dict[str, Any]) -> tuple[Message, dict[str, Any]]:
    """A stored item → (message, bookkeeping: version, receipt_ids, part_status)."""
    extra = {
        "version": int(item.get("version", 0)),
        "receipt_ids": list(item.get("receipt_ids") or []),
        "part_status": dict(item.get("part_status") or {}),
        "claim": {k: int(item[k]) for k in ("send_attempt", "send_lease") if item.get(k) is not None},
        "row_index": "GSI1PK" in item,
    }
    data = {k: v for k, v in item.items() if k not in _KEYS and k not in _EXTRA}
    return Message.model_validate(data), extra


def get(message_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(f"MSG#{message_id}", "META", consistent=consistent)


def put_new(message: Message, *, ob: dict[str, Any] | None = None) -> TransactItem:
    """The first write of a message (fails if the id exists); ``ob``: what it announces (``smsdesk.outbox``)."""
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(_item(message, version=1, receipt_ids=[], part_status={}, ob=ob)),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


#: The key in a new row's ``ob`` (``smsdesk.outbox``) naming the immutable entry the outbox relay derives
#: from the row's INSERT (``smsdesk.outbox_relay.derived_entries``): ``charge`` (the charge's ledger entry,
#: ``credits.charge_entry``) or ``index`` (:func:`index_entry_item`).
ENTRY = "entry"
EntryKind = Literal["charge", "index"]


def index_attributes(message: Message) -> dict[str, str] | None:
    """What the message's immutable index entry (its charge's ledger entry, or its own ``INDEX`` item)
    carries so the message is found by channel and by recipient: its GSI1/GSI2 keys and ``channel_id``.
    None for a message in a conversation: its row keeps the keys (the conversation's thread and
    deletion find its messages through GSI3 on the row)."""
    if message.conversation_id:
        return None
    return {**_index_keys(message), "channel_id": message.channel_id}


def new_items(message: Message, *, ob: dict[str, Any] | None = None, entry: EntryKind) -> list[TransactItem]:
    """The transaction item that records a new outbound message (fails if the id exists): the row,
    without index keys when :func:`index_attributes` puts them on an entry, and announcing in its
    ``ob`` (a few bytes) the immutable entry the outbox relay derives from its INSERT: ``entry``
    ``charge`` (its charge's ledger entry, which carries the index keys: a single send) or ``index``
    (its own :func:`index_entry_item`: a message without a charge of its own, e.g. a campaign's; nothing
    to announce for one in a conversation). The entry is not in the transaction: it is derived and
    immutable, and a transaction bills every item twice."""
    attrs = index_attributes(message)
    if entry == "charge" or attrs is not None:
        ob = {**(ob or {"id": uuid.uuid4().hex}), ENTRY: entry}
    row = _item(message, version=1, receipt_ids=[], part_status={}, ob=ob, row_index=attrs is None)
    return [
        {
            "Put": {
                "TableName": config.table_name(),
                "Item": table.serialize(row),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    ]


def index_entry_item(message: Message) -> dict[str, Any] | None:
    """The message's own index entry ``PK=MSG#{id} SK=INDEX``: its GSI1/GSI2 keys, ``channel_id`` and
    ``message_id``; written once (by the outbox relay, from the row's INSERT) and never changed, so the
    row's status writes touch no index (a few bytes: one write unit plus one per index, once). None
    for a message whose row keeps its index keys (:func:`index_attributes`)."""
    attrs = index_attributes(message)
    if attrs is None:
        return None
    return {"PK": f"MSG#{message.id}", "SK": "INDEX", **attrs, "message_id": message.id}


def put_entries(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Put derived, immutable entries (≤ 25, distinct keys) in one ``BatchWriteItem`` (plain puts: the
    same entry again overwrites it with the same content). Returns the (PK, SK) of those DynamoDB
    handed back unprocessed (throttling): the caller retries them."""
    resp = aws.dynamodb().batch_write_item(
        RequestItems={config.table_name(): [{"PutRequest": {"Item": table.serialize(i)}} for i in items]}
    )
    back = (resp.get("UnprocessedItems") or {}).get(config.table_name()) or []
    return [(r["PutRequest"]["Item"]["PK"]["S"], r["PutRequest"]["Item"]["SK"]["S"]) for r in back]


def replace(
    message: Message,
    *,
    version: int,
    receipt_ids: list[str],
    part_status: dict[str, str],
    refund: bool = False,
    claim: dict[str, Any] | None = None,
    ob: dict[str, Any] | None = None,
    row_index: bool = True,
) -> TransactItem:
    """Overwrite the message if nobody wrote it since ``version`` was read (optimistic lock).

    ``refund``: also require ``refunded = false`` as stored, so a refund can be written only once.
    ``claim``: the sender's claim fields as read (``send_attempt``, ``send_lease``), kept as they are.
    ``ob``: what this write announces (``smsdesk.outbox``); without it the item carries none.
    """
    cond = "#v = :v"
    values = {":v": {"N": str(version)}}
    if refund:
        cond += " AND refunded = :f"
        values[":f"] = {"BOOL": False}
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(
                _item(
                    message,
                    version=version + 1,
                    receipt_ids=receipt_ids,
                    part_status=part_status,
                    claim=claim,
                    ob=ob,
                    row_index=row_index,
                )
            ),
            "ConditionExpression": cond,
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": values,
        }
    }


def put_provider_mapping(provider: str, provider_id: str, message_id: str) -> TransactItem:
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(
                {"PK": f"PROVIDER#{provider}#{provider_id}", "SK": "MSG", "message_id": message_id}
            ),
        }
    }


def message_id_for(provider: str, provider_id: str) -> str | None:
    item = table.get(f"PROVIDER#{provider}#{provider_id}", "MSG", consistent=True)
    return item["message_id"] if item else None


def _receipt_sk(receipt: Receipt) -> str:
    digest = hashlib.sha256(receipt.raw_id.encode()).hexdigest()[:24]
    return f"RECEIPT#{iso(receipt.at)}#{digest}"


def put_early_receipt(receipt: Receipt) -> None:
    """Keep a receipt whose provider id is not mapped yet (same receipt twice: one item)."""
    pk = f"PROVIDER#{receipt.provider}#{receipt.provider_id}"
    expires = int(time.time()) + EARLY_RECEIPT_TTL_S
    table.put({"PK": pk, "SK": _receipt_sk(receipt), "receipt": dump(receipt), "expires_at": expires})


def early_receipts(provider: str, provider_id: str) -> list[Receipt]:
    pk = f"PROVIDER#{provider}#{provider_id}"
    out: list[Receipt] = []
    cursor: str | None = None
    while True:
        items, cursor = _query_consistent(pk, "RECEIPT#", cursor)
        out.extend(Receipt.model_validate(i["receipt"]) for i in items)
        if not cursor:
            return out


def _query_consistent(pk: str, prefix: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":sk": {"S": prefix}},
        "ConsistentRead": True,
    }
    start = table.decode_cursor(cursor)
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = aws.dynamodb().query(**kwargs)
    return [table.deserialize(i) for i in resp.get("Items", [])], table.encode_cursor(resp.get("LastEvaluatedKey"))


def delete_early_receipt(receipt: Receipt) -> None:
    pk = f"PROVIDER#{receipt.provider}#{receipt.provider_id}"
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(pk, _receipt_sk(receipt)))


def send_reads(e164: str, channel_id: str, user_id: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """What accepting a send reads, in ONE consistent BatchGetItem: the number's blocklist and opt-out
    entries (account-wide and the channel's) and, with ``user_id``, the caller's profile (its role and
    ``team_ids``, consistent as ``data.users.get_role`` and ``data.teams.user_team_ids`` read them: a
    demoted admin or a removed member loses the rights at once). Returns (list entries, profile or
    None)."""
    from smsdesk.data import lists as lists_repo

    keys = lists_repo.keys_for(e164, channel_id, ("block", "optout"))
    profile = (f"USER#{user_id}", "PROFILE")
    items = table.batch_get([*keys, profile] if user_id else keys, consistent=True)
    found = next((i for i in items if (i["PK"], i["SK"]) == profile), None)
    return [i for i in items if (i["PK"], i["SK"]) != profile], found


# -- sent overview ----------------------------------------------------------------------------------


def page(
    *,
    index: str,
    pk: str,
    limit: int,
    start: dict[str, Any] | None,
    since: str | None,
    status: str | None,
    channel_ids: set[str] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` message rows of one index partition, newest first, after ``start`` (a raw key).

    Filters (status, allowed channels) are filter expressions, so a query can come back short;
    it is repeated until the page is full or the partition is exhausted. Index entries (a message's charge,
    :func:`index_attributes`) are resolved to their rows (one BatchGetItem per query) and filtered by status here (the entry
    does not hold the status, which changes). Each row returned carries the index keys it was found
    by (so :func:`raw_key` of it resumes after it). Returns the rows and the raw key to resume after
    (None when the partition is exhausted).
    """
    expr = "#pk = :pk"
    names = {"#pk": f"{index}PK"}
    values: dict[str, Any] = {":pk": {"S": pk}}
    if since:
        expr += " AND #sk >= :since"
        names["#sk"] = f"{index}SK"
        values[":since"] = {"S": since}
    filters = []
    if status:
        filters.append("(attribute_not_exists(#st) OR #st = :st)")  # index entries have no status
        names["#st"] = "status"
        values[":st"] = {"S": status}
    if channel_ids is not None:
        filters.append(table.in_filter("channel_id", channel_ids, values))
    out: list[dict[str, Any]] = []
    last = start
    while True:
        items, last = table.index_page(
            index=index,
            key_condition=expr,
            names=names,
            values=values,
            filters=filters,
            limit=limit - len(out),
            start=last,
        )
        out.extend(r for r in _resolve(items, index) if status is None or r.get("status") == status)
        if last is None or len(out) >= limit:
            return out, last


def _is_entry(item: dict[str, Any]) -> bool:
    """An index entry (a charge carrying the message's index keys, or the message's own ``INDEX``
    item), not a message row."""
    row = str(item.get("PK", "")).startswith("MSG#") and item.get("SK") == "META"
    return not row and bool(item.get("message_id"))


def _resolve(items: list[dict[str, Any]], index: str) -> list[dict[str, Any]]:
    """Index entries replaced by their message rows (with the entry's keys), in order; an entry whose
    row is gone is dropped."""
    wanted = [f"MSG#{i['message_id']}" for i in items if _is_entry(i)]
    if not wanted:
        return items
    rows = {r["PK"]: r for r in table.batch_get([(pk, "META") for pk in wanted])}
    keys = ("PK", "SK", f"{index}PK", f"{index}SK")
    out = []
    for i in items:
        if not _is_entry(i):
            out.append(i)
        elif f"MSG#{i['message_id']}" in rows:
            out.append({**rows[f"MSG#{i['message_id']}"], **{k: i[k] for k in keys}})
    return out


raw_key = table.raw_key


# -- single conditional writes (the send path: no read-then-write) -----------------------------------------


class ConditionFailed(Exception):
    """A conditional update did not apply; ``item`` is the message as it was (None: no such message)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


def _update(
    message_id: str,
    update: str,
    condition: str,
    values: dict[str, Any],
    names: dict[str, str] | None = None,
    *,
    ob: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One conditional UpdateItem of the message (``version`` is bumped, so optimistic writers see it).
    ``ob``: what the write announces (``smsdesk.outbox``); without it the attribute is removed, so the
    stream consumer is not invoked for this write. Returns the item as written; raises
    :class:`ConditionFailed` with the item as it was (DynamoDB returns it with the failure, so finding
    out why costs no extra read)."""
    update = f"{update}, version = version + :one_"
    if ob is not None:
        update, values = f"{update}, {outbox.ATTRIBUTE} = :ob_", {**values, ":ob_": ob}
    else:
        update = f"{update} REMOVE {outbox.ATTRIBUTE}"
    try:
        resp = aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(f"MSG#{message_id}", "META"),
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(PK) AND ({condition})",
            ExpressionAttributeNames={"#s": "status", **(names or {})},
            ExpressionAttributeValues=table.serialize({**values, ":one_": 1}),
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        old = exc.response.get("Item")
        raise ConditionFailed(table.deserialize(old) if old else None) from exc
    return table.deserialize(resp["Attributes"])


def _change(status: str, at: dt.datetime, detail: str | None) -> list[dict[str, Any]]:
    return [dump(StatusChange(status=status, at=at, detail=detail))]  # type: ignore[arg-type]


def claim(message_id: str, *, attempt: int, now: dt.datetime, lease_s: int, from_queued: bool) -> dict[str, Any]:
    """Claim send attempt ``attempt`` for ``lease_s`` seconds, in one conditional write.

    ``from_queued``: the message is ``queued`` (→ ``sending``, history appended). Otherwise it is already
    ``sending`` (an earlier attempt failed transiently) and the claim is taken if it belongs to an earlier
    attempt, or to this attempt but its lease expired (the invocation that took it died).
    The claim announces nothing (no ``ob``: the stream filter drops its record, no outbox invocation):
    ``queued → sending`` is the sender's own at-most-once bookkeeping, not news for the bus.
    """
    values: dict[str, Any] = {":n": attempt, ":lease": int(now.timestamp()) + lease_s}
    if from_queued:
        values |= {":queued": "queued", ":sending": "sending", ":h": _change("sending", now, None)}
        return _update(
            message_id,
            "SET #s = :sending, history = list_append(history, :h), send_attempt = :n, send_lease = :lease",
            "#s = :queued",
            values,
        )
    values |= {":sending": "sending", ":now": int(now.timestamp())}
    return _update(
        message_id,
        "SET send_attempt = :n, send_lease = :lease",
        "#s = :sending AND (attribute_not_exists(send_attempt) OR send_attempt < :n"
        " OR (send_attempt = :n AND send_lease < :now))",
        values,
    )


def release(message_id: str, *, attempt: int, then: outbox.Job | None = None) -> bool:
    """Attempt ``attempt`` ended without sending (transient error): its claim never expires, so a duplicate
    of its job cannot send; the next attempt can claim. ``then``: the next attempt's job, queued by the
    outbox with this very write (so a crash right after it cannot strand the message in ``sending``).
    False if the claim had moved on (nothing released, nothing queued)."""
    try:
        _update(
            message_id,
            "SET send_lease = :done",
            "#s = :sending AND send_attempt = :n",
            {":sending": "sending", ":n": attempt, ":done": LEASE_DONE},
            ob=outbox.change(jobs=[then] if then else []),
        )
    except ConditionFailed:
        return False
    return True


def mark_sent(
    message_id: str, *, attempt: int, provider_id: str, parts: int | None, now: dt.datetime
) -> dict[str, Any]:
    """``sending`` → ``sent`` with the provider's id, for the attempt that holds the claim (one write)."""
    values: dict[str, Any] = {
        ":sending": "sending",
        ":sent": "sent",
        ":n": attempt,
        ":pid": provider_id,
        ":done": LEASE_DONE,
        ":h": _change("sent", now, None),
    }
    update = "SET #s = :sent, history = list_append(history, :h), provider_id = :pid, send_lease = :done"
    if parts:
        update += ", parts_total = :parts"
        values[":parts"] = parts
    ob = outbox.change([outbox.status_event("sent")])
    return _update(message_id, update, "#s = :sending AND send_attempt = :n", values, ob=ob)


def apply_whole_receipt(
    message_id: str, receipt: Receipt, *, lower: list[str], max_seen: int, conversation: bool | None = None
) -> dict[str, Any]:
    """A receipt about the whole (single-part) message, as one conditional write: applied if the message
    is in one of the ``lower`` statuses, has not seen this receipt, has no per-part state and no other
    provider id. (Anything else raises :class:`ConditionFailed` and is decided by the rules.)
    ``conversation``: also only if the message is (True) or is not (False) in a conversation, for a
    status whose event is announced only then (``outbox.depends_on_conversation``)."""
    values: dict[str, Any] = {
        ":target": receipt.status,
        ":rid": receipt.raw_id,
        ":ridl": [receipt.raw_id],
        ":empty": [],
        ":pid": receipt.provider_id,
        ":max": max_seen - 1,
        ":one": 1,
        ":h": _change(receipt.status, receipt.at, receipt.error_code),
        **{f":l{i}": s for i, s in enumerate(lower)},
    }
    update = (
        "SET #s = :target, history = list_append(history, :h), provider_id = :pid,"
        " receipt_ids = list_append(if_not_exists(receipt_ids, :empty), :ridl)"
    )
    if receipt.status == "delivered":
        update += ", parts_delivered = :one"
    if receipt.parts == 1:
        update += ", parts_total = :one"
    if receipt.status in ("failed", "undelivered") and (receipt.error_code or receipt.error_message):
        code = receipt.error_code or receipt.status
        values[":err"] = {"code": code, "message": receipt.error_message or code}
        update += ", #e = :err"
    condition = (
        f"#s IN ({', '.join(f':l{i}' for i in range(len(lower)))})"
        " AND NOT contains(receipt_ids, :rid) AND attribute_not_exists(part_status)"
        " AND (attribute_not_exists(provider_id) OR provider_id = :pid)"
        " AND (attribute_not_exists(receipt_ids) OR size(receipt_ids) < :max)"
        " AND (attribute_not_exists(parts_total) OR parts_total <= :one)"
    )
    if conversation is not None:
        condition += f" AND attribute_{'exists' if conversation else 'not_exists'}(conversation_id)"
    names = {"#e": "error"} if ":err" in values else None
    ob = outbox.change([outbox.status_event(receipt.status, conversation=conversation)])
    return _update(message_id, update, condition, values, names, ob=ob)
