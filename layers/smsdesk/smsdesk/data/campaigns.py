"""Campaigns and their recipients. Keys (docs/data-model.md):

* campaign: ``PK=CAMPAIGN#{id} SK=META``; GSI1 ``CAMPAIGNS`` / ``{created_at}#{id}`` (newest first).
  Besides the :class:`~smsdesk.campaigns.model.Campaign` fields: ``version`` (every state change is
  conditioned on it), ``pump_seq`` (the one live fan-out chain), ``expanded_run``, ``fingerprint``,
  ``schedule_version`` (the version its Scheduler schedule's fires carry: an older fire is stale) and
  ``expanding`` (``{run, by, until}``: the copy of the expand job writing the run's rows, until when).
  ``reserved_left`` is moved by the same transaction as each recipient's message.
* recipient: ``PK=CAMPAIGN#{id} SK=R#{run:05d}#{e164}``: one row per number and run, so a redelivered
  batch finds its rows (and their messages) instead of making new ones.
* duplicate guard: ``PK=CAMPGUARD#{fingerprint} SK=GUARD`` (TTL 10 minutes after the launch).
* deleting: the campaign item gets ``deleted_at`` and ``purge_seq`` and leaves GSI1 (so it is neither
  listed nor read); the ``fanout`` function then deletes the partition's other items in pages and
  the campaign item last (:func:`purge_page`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import dump, iso

_KEYS = (
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "version",
    "pump_seq",
    "expanded_run",
    "fingerprint",
    "ob",
    "deleted_at",
    "purge_seq",
    "schedule_version",
    "expanding",
)


class ConditionFailed(Exception):
    pass


def _pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def row_sk(run: int, number: str) -> str:
    return f"R#{run:05d}#{number}"


def item(campaign: Any, *, version: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "PK": _pk(campaign.id),
        "SK": "META",
        "GSI1PK": "CAMPAIGNS",
        "GSI1SK": f"{iso(campaign.created_at)}#{campaign.id}",
        **dump(campaign),
        "version": version,
        **(extra or {}),
    }


def split(it: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model fields, bookkeeping)."""
    data = {k: v for k, v in it.items() if k not in _KEYS}
    extra = {
        k: it.get(k) for k in ("version", "pump_seq", "expanded_run", "fingerprint", "purge_seq", "schedule_version")
    }
    extra["version"] = int(extra["version"] or 0)
    extra["purge_seq"] = int(extra["purge_seq"] or 0)
    extra["pump_seq"] = int(extra["pump_seq"] or 0)
    extra["expanded_run"] = int(extra["expanded_run"] or 0)
    if extra["schedule_version"] is not None:
        extra["schedule_version"] = int(extra["schedule_version"])
    extra["expanding"] = it.get("expanding")  # the expand's lease (``fanout.expand``), if one was taken
    return data, extra


def get(campaign_id: str) -> dict[str, Any] | None:
    return table.get(_pk(campaign_id), "META", consistent=True)


def put_new(campaign: Any) -> None:
    table.put(item(campaign, version=1), condition="attribute_not_exists(PK)")


def replace(
    campaign: Any, *, version: int, extra: dict[str, Any] | None = None, ob: dict[str, Any] | None = None
) -> TransactItem:
    """Overwrite the campaign if nobody wrote it since ``version``; ``ob``: what it announces."""
    it = item(campaign, version=version + 1, extra=extra)
    if ob is not None:
        it["ob"] = ob
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(it),
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(version)}},
        }
    }


def update(
    campaign_id: str,
    expr: str,
    condition: str,
    values: dict[str, Any],
    names: dict[str, str] | None = None,
    *,
    ob: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
) -> TransactItem:
    """A conditional UpdateItem of the campaign as a transaction item (``version`` is bumped)."""
    expr = f"{expr}, version = version + :one_"
    values = {**values, ":one_": 1}
    removed = list(remove)
    if ob is not None:
        expr += ", ob = :ob_"
        values[":ob_"] = ob
    else:
        removed.append("ob")  # announces nothing: the stream's filter keeps it from the outbox function
    if removed:
        expr += " REMOVE " + ", ".join(removed)
    out: dict[str, Any] = {
        "TableName": config.table_name(),
        "Key": table.key(_pk(campaign_id), "META"),
        "UpdateExpression": expr,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": table.serialize(values),
    }
    if names:
        out["ExpressionAttributeNames"] = names
    return {"Update": out}


def run_update(item_: TransactItem) -> bool:
    """Run one update (from :func:`update`) alone; False if its condition failed."""
    try:
        aws.dynamodb().update_item(**item_["Update"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_deleted(campaign_id: str, *, version: int, at: str, seq: int, ob: dict[str, Any]) -> bool:
    """Mark the campaign deleted if unchanged since ``version``: off the list (GSI1 keys removed), read
    as not found; ``ob`` carries the purge job. False if it changed meanwhile."""
    return run_update(
        update(
            campaign_id,
            "SET deleted_at = :at, purge_seq = :seq",
            "version = :v AND attribute_not_exists(deleted_at)",
            {":at": at, ":seq": seq, ":v": version},
            ob=ob,
            remove=("GSI1PK", "GSI1SK"),
        )
    )


def purge_page(campaign_id: str, *, limit: int) -> tuple[int, bool]:
    """Delete up to ``limit`` of the deleted campaign's items other than the campaign item (recipient
    rows, outcome markers, counts: BatchWriteItem, 25 per call). Returns (deleted, more left)."""
    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": _pk(campaign_id)}},
        ProjectionExpression="PK, SK",
        ConsistentRead=True,
        Limit=limit + 1,  # the campaign item ("META") sorts among them
    )
    found = [k for k in resp.get("Items", []) if k["SK"]["S"] != "META"]
    keys = found[:limit]
    name = config.table_name()
    for start in range(0, len(keys), 25):
        request = {name: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
        while request:
            request = aws.dynamodb().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    more = len(found) > len(keys) or bool(resp.get("LastEvaluatedKey"))
    return len(keys), more


def delete_purged(campaign_id: str) -> bool:
    """Delete the campaign item last, once its other items are gone (only a campaign marked deleted)."""
    try:
        aws.dynamodb().delete_item(
            TableName=config.table_name(),
            Key=table.key(_pk(campaign_id), "META"),
            ConditionExpression="attribute_exists(deleted_at)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def live_check(campaign_id: str) -> TransactItem:
    """A transaction item that fails unless the campaign exists and is not being deleted."""
    return {
        "ConditionCheck": {
            "TableName": config.table_name(),
            "Key": table.key(_pk(campaign_id), "META"),
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(deleted_at)",
        }
    }


def list_page(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return table.query("CAMPAIGNS", index="GSI1", limit=limit, newest_first=True, cursor=cursor)


# -- recipients ---------------------------------------------------------------------------------------


def put_rows(campaign_id: str, rows: list[dict[str, Any]]) -> None:
    """Write recipient rows (BatchWriteItem, 25 per call; unprocessed items retried)."""
    name = config.table_name()
    for start in range(0, len(rows), 25):
        request = {
            name: [
                {
                    "PutRequest": {
                        "Item": table.serialize({"PK": _pk(campaign_id), "SK": row_sk(r["run"], r["number"]), **r})
                    }
                }
                for r in rows[start : start + 25]
            ]
        }
        while request:
            resp = aws.dynamodb().batch_write_item(RequestItems=request)
            request = resp.get("UnprocessedItems") or {}


def rows(
    campaign_id: str,
    run: int,
    *,
    statuses: tuple[str, ...] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The run's rows in number order after the sort key ``after``, only ``statuses`` if given."""
    values: dict[str, Any] = {":pk": {"S": _pk(campaign_id)}, ":sk": {"S": f"R#{run:05d}#"}}
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }
    if statuses:
        kwargs["FilterExpression"] = f"#st IN ({', '.join(f':s{i}' for i in range(len(statuses)))})"
        kwargs["ExpressionAttributeNames"] = {"#st": "status"}
        values.update({f":s{i}": {"S": s} for i, s in enumerate(statuses)})
    if limit:
        kwargs["Limit"] = limit
    if after:
        kwargs["ExclusiveStartKey"] = {"PK": {"S": _pk(campaign_id)}, "SK": {"S": after}}
    for page in table.query_pages(**kwargs):
        for it in page.get("Items", []):
            yield table.deserialize(it)


def rows_page(
    campaign_id: str, *, prefix: str, status: str | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    values: dict[str, Any] = {":pk": {"S": _pk(campaign_id)}, ":sk": {"S": prefix}}
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
        "ExpressionAttributeValues": values,
    }
    if status:
        kwargs["FilterExpression"] = "#st = :st"
        kwargs["ExpressionAttributeNames"] = {"#st": "status"}
        values[":st"] = {"S": status}
    out: list[dict[str, Any]] = []
    last = start
    while len(out) < limit:
        kwargs["Limit"] = max(limit - len(out), 25)
        if last:
            kwargs["ExclusiveStartKey"] = last
        resp = aws.dynamodb().query(**kwargs)
        items = [table.deserialize(i) for i in resp.get("Items", [])]
        room = limit - len(out)
        if len(items) > room:
            out.extend(items[:room])
            return out, {"PK": {"S": out[-1]["PK"]}, "SK": {"S": out[-1]["SK"]}}
        out.extend(items)
        last = resp.get("LastEvaluatedKey")
        if not last:
            return out, None
    return out, last


def row_update(campaign_id: str, sk: str, expr: str, condition: str, values: dict[str, Any]) -> TransactItem:
    return {
        "Update": {
            "TableName": config.table_name(),
            "Key": table.key(_pk(campaign_id), sk),
            "UpdateExpression": expr,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": table.serialize(values),
        }
    }


# -- duplicate guard ----------------------------------------------------------------------------------


def guard(fingerprint: str) -> dict[str, Any] | None:
    return table.get(f"CAMPGUARD#{fingerprint}", "GUARD", consistent=True)


def guard_put(fingerprint: str, campaign_id: str, at: str, expires_at: int) -> TransactItem:
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(
                {
                    "PK": f"CAMPGUARD#{fingerprint}",
                    "SK": "GUARD",
                    "campaign_id": campaign_id,
                    "at": at,
                    "expires_at": expires_at,
                }
            ),
        }
    }


# -- message outcomes (campaigns/results.py) ------------------------------------------------------------


def outcome_marker(campaign_id: str, message_id: str, counter: str) -> TransactItem:
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize({"PK": _pk(campaign_id), "SK": f"O#{message_id}#{counter}"}),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def stats_add(campaign_id: str, counts: Mapping[str, int], *, existing: bool = False) -> TransactItem:
    """Add ``counts`` (counter → how many) to the campaign's ``STATS`` item (one update); ``existing``:
    only if the item exists (:func:`ensure_stats` made it; the purge deletes it first), so it never
    creates one."""
    wanted = [(c, n) for c, n in counts.items() if n]
    update: dict[str, Any] = {
        "TableName": config.table_name(),
        "Key": table.key(_pk(campaign_id), "STATS"),
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :n{i}" for i in range(len(wanted))),
        "ExpressionAttributeNames": {f"#c{i}": c for i, (c, _) in enumerate(wanted)},
        "ExpressionAttributeValues": {f":n{i}": {"N": str(int(n))} for i, (_, n) in enumerate(wanted)},
    }
    if existing:
        update["ConditionExpression"] = "attribute_exists(PK)"
    return {"Update": update}


def ensure_stats(campaign_id: str) -> None:
    """Create the campaign's ``STATS`` item (zero counts) if it does not exist; a no-op otherwise."""
    aws.dynamodb().update_item(
        TableName=config.table_name(),
        Key=table.key(_pk(campaign_id), "STATS"),
        UpdateExpression="ADD sent :zero, delivered :zero, failed :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )


def delete_stats(campaign_id: str) -> None:
    """Delete the campaign's ``STATS`` item (a deleted campaign's purge, first: no outcome counts after it)."""
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(_pk(campaign_id), "STATS"))


def stats(campaign_ids: list[str]) -> dict[str, dict[str, int]]:
    """Each campaign's outcome counts (one BatchGetItem per 100 campaigns)."""
    items = table.batch_get([(_pk(c), "STATS") for c in campaign_ids], consistent=True) if campaign_ids else []
    return {
        i["PK"].removeprefix("CAMPAIGN#"): {k: int(i.get(k, 0)) for k in ("sent", "delivered", "failed")} for i in items
    }
