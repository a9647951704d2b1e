"""Bots, their runs and CSAT counters (issue 15).

Keys:
* bot ``PK=BOT#{id} SK=META`` (``version``); GSI1 ``BOTS`` / ``{name}#{id}`` (the list, by name);
* run ``PK=BOTRUNS#{conversation_id} SK=RUN#{run_id}`` (``version``: every advance is conditioned on
  it): the flow's state, the transcript, the last event keys it handled (``seen``), the outcome;
* CSAT counters per UTC day ``PK=CSAT#{channel_id} SK=DAY#{YYYY-MM-DD}#ALL`` and
  ``SK=DAY#{YYYY-MM-DD}#AGENT#{user_id}``: ``asked``, ``answered``, ``total`` (the sum of ratings),
  moved with ``ADD``; a period sums its days (:mod:`smsdesk.inbox.stats`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table

_KEYS = frozenset({"PK", "SK", "GSI1PK", "GSI1SK", "version"})


class Conflict(Exception):
    """The item changed (or exists) since it was read."""


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


# -- bots -------------------------------------------------------------------------------------------


def put_bot(bot: dict[str, Any], *, version: int | None) -> None:
    item = {
        "PK": f"BOT#{bot['id']}",
        "SK": "META",
        "GSI1PK": "BOTS",
        "GSI1SK": f"{bot['name'].casefold()}#{bot['id']}",
        **bot,
        "version": (version or 0) + 1,
    }
    kwargs: dict[str, Any] = {"TableName": config.table_name(), "Item": table.serialize(item)}
    if version is None:
        kwargs["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        kwargs["ConditionExpression"] = "#v = :v"
        kwargs["ExpressionAttributeNames"] = {"#v": "version"}
        kwargs["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    _conditional(lambda: aws.dynamodb().put_item(**kwargs))


def get_bot(bot_id: str, *, consistent: bool = False) -> tuple[dict[str, Any], int] | None:
    item = table.get(f"BOT#{bot_id}", "META", consistent=consistent)
    return (_strip(item), int(item.get("version", 0))) if item else None


def delete_bot(bot_id: str) -> bool:
    resp = aws.dynamodb().delete_item(
        TableName=config.table_name(), Key=table.key(f"BOT#{bot_id}", "META"), ReturnValues="ALL_OLD"
    )
    return bool(resp.get("Attributes"))


def list_bots(*, limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query("BOTS", index="GSI1", limit=limit, cursor=cursor)
    return [_strip(i) for i in items], nxt


# -- runs -------------------------------------------------------------------------------------------


def _run_key(conversation_id: str, run_id: str) -> tuple[str, str]:
    return f"BOTRUNS#{conversation_id}", f"RUN#{run_id}"


def get_run(conversation_id: str, run_id: str) -> tuple[dict[str, Any], int] | None:
    item = table.get(*_run_key(conversation_id, run_id), consistent=True)
    return (_strip(item), int(item.get("version", 0))) if item else None


def put_run(run: dict[str, Any], *, version: int | None) -> None:
    """Create (``version`` None: only if absent) or replace the run read at ``version``; raises
    :class:`Conflict` otherwise (someone else handled that event or created the run)."""
    pk, sk = _run_key(run["conversation_id"], run["id"])
    item = {"PK": pk, "SK": sk, **run, "version": (version or 0) + 1}
    kwargs: dict[str, Any] = {"TableName": config.table_name(), "Item": table.serialize(item)}
    if version is None:
        kwargs["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        kwargs["ConditionExpression"] = "#v = :v"
        kwargs["ExpressionAttributeNames"] = {"#v": "version"}
        kwargs["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    _conditional(lambda: aws.dynamodb().put_item(**kwargs))


def runs_of(conversation_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    items, _ = table.query(f"BOTRUNS#{conversation_id}", sk_prefix="RUN#", limit=limit)
    return sorted((_strip(i) for i in items), key=lambda r: r.get("started_at") or "")


def _conditional(call: Any) -> None:
    try:
        call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict from exc
        raise


# -- CSAT -------------------------------------------------------------------------------------------


def _day_sk(day: dt.date, who: str) -> str:
    return f"DAY#{day.isoformat()}#{who}"


def csat_add(
    channel_id: str, agent_id: str | None, day: dt.date, *, asked: int = 0, answered: int = 0, rating: int = 0
) -> None:
    """Count on ``day`` (UTC) for the channel and, if known, the closing agent."""
    for who in ("ALL", *([f"AGENT#{agent_id}"] if agent_id else [])):
        aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(f"CSAT#{channel_id}", _day_sk(day, who)),
            UpdateExpression="ADD asked :a, answered :n, #t :r",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":a": {"N": str(asked)}, ":n": {"N": str(answered)}, ":r": {"N": str(rating)}},
        )


def csat_days(channel_id: str, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """The channel's day rows from ``first`` to ``last`` (inclusive): ``DAY#{date}#ALL`` and one per
    agent and day (all pages)."""
    out: list[dict[str, Any]] = []
    for resp in table.query_pages(
        TableName=config.table_name(),
        KeyConditionExpression="PK = :pk AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues={
            ":pk": {"S": f"CSAT#{channel_id}"},
            ":a": {"S": _day_sk(first, "")},
            ":b": {"S": _day_sk(last, "~")},
        },
    ):
        out.extend(table.deserialize(i) for i in resp.get("Items", []))
    return out
