"""Thin helpers over the low-level DynamoDB client for the single ``main`` table.

Items are plain dicts of Python values; (de)serialisation, key construction and pagination cursors
live here so that repositories stay short and every access pattern is visible in one place.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from smsdesk import aws, config

_ser = TypeSerializer()
_deser = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _value(typed: dict[str, Any]) -> Any:
    """One attribute value as :func:`_from_dynamo` after boto3's deserializer would give it, without its
    per-value dispatch (reading a page of contacts spent a third of its time there)."""
    ((kind, v),) = typed.items()
    if kind == "S":
        return v
    if kind == "N":
        return _number(v)
    if kind == "M":
        return {k: _value(x) for k, x in v.items()}
    if kind == "L":
        return [_value(x) for x in v]
    if kind == "BOOL":
        return v
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(v)
    if kind == "NS":
        return {Decimal(x) for x in v}
    return _from_dynamo(_deser.deserialize(typed))  # binary


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def get(pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
    resp = aws.dynamodb().get_item(TableName=config.table_name(), Key=key(pk, sk), ConsistentRead=consistent)
    item = resp.get("Item")
    return deserialize(item) if item else None


def batch_get(keys: list[tuple[str, str]], *, consistent: bool = False) -> list[dict[str, Any]]:
    """BatchGetItem (≤100 keys per call), unprocessed keys retried; items in no particular order."""
    out: list[dict[str, Any]] = []
    name = config.table_name()
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {
            name: {"Keys": [key(pk, sk) for pk, sk in keys[start : start + 100]], "ConsistentRead": consistent}
        }
        while request:
            resp = aws.dynamodb().batch_get_item(RequestItems=request)
            out.extend(deserialize(i) for i in resp.get("Responses", {}).get(name, []))
            request = resp.get("UnprocessedKeys") or {}
    return out


def query_pages(**kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of a Query (``kwargs`` as for the client's ``query``), following ``LastEvaluatedKey``."""
    while True:
        resp = aws.dynamodb().query(**kwargs)
        yield resp
        if not resp.get("LastEvaluatedKey"):
            return
        kwargs = {**kwargs, "ExclusiveStartKey": resp["LastEvaluatedKey"]}


def put(item: dict[str, Any], *, condition: str | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": config.table_name(), "Item": serialize(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    aws.dynamodb().put_item(**kwargs)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, *, field: str = "cursor") -> Any:
    """The JSON value a cursor carries (None for none); 422 on ``field`` if it is not one of ours."""
    if not cursor:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise _bad_cursor(field) from exc


def _bad_cursor(field: str, what: str = "is not valid") -> Exception:
    from smsdesk.errors import ValidationError

    return ValidationError(f"{field} {what}: pass the cursor a response of this same list returned", field=field)


def encode_position(mode: str, value: Any) -> str:
    """A list cursor ``{mode: value}`` (``mode`` says how the list pages, e.g. one key or one per channel)."""
    return base64.urlsafe_b64encode(json.dumps({mode: value}, separators=(",", ":")).encode()).decode()


def decode_position(cursor: str | None, mode: str, *, field: str = "cursor") -> Any:
    """The value of a cursor :func:`encode_position` made with ``mode`` (None without a cursor); 422
    on ``field`` for anything else. ``mode`` ``"c"`` (a position per channel) must map ids to raw keys
    or None, each checked by the query it resumes (:func:`check_start`)."""
    pos = decode_cursor(cursor, field=field)
    if pos is None:
        return None
    if not (isinstance(pos, dict) and list(pos) == [mode]):
        raise _bad_cursor(field, "belongs to another list (or other filters)")
    value = pos[mode]
    if mode == "c" and not (isinstance(value, dict) and all(v is None or isinstance(v, dict) for v in value.values())):
        raise _bad_cursor(field)
    return value


def check_start(
    start: Any,
    *,
    index: str | None,
    partition: str,
    sk_prefix: str | None = None,
    sk_min: str | None = None,
    field: str = "cursor",
) -> dict[str, Any] | None:
    """``start`` (a raw key decoded from a client's cursor) if it can resume this very query: the key
    attributes of the table (and ``index``), all strings, in ``partition`` and within the sort key's
    condition. A cursor of another list, or of this list with other filters, is a 422 on ``field``,
    never a query DynamoDB refuses."""
    if start is None:
        return None
    names = {"PK", "SK"} | ({f"{index}PK", f"{index}SK"} if index else set())
    if not (
        isinstance(start, dict)
        and set(start) == names
        and all(isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) for v in start.values())
    ):
        raise _bad_cursor(field)
    sort = start[f"{index}SK" if index else "SK"]["S"]
    if (
        start[f"{index}PK" if index else "PK"]["S"] != partition
        or (sk_prefix is not None and not sort.startswith(sk_prefix))
        or (sk_min is not None and sort < sk_min)
    ):
        raise _bad_cursor(field, "belongs to another list (or other filters)")
    return start


def query(
    pk_value: str,
    *,
    index: str | None = None,
    sk_prefix: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of items under a partition key (of the table or a GSI), with an opaque cursor."""
    pk_attr = f"{index}PK" if index else "PK"
    sk_attr = f"{index}SK" if index else "SK"
    expr = "#pk = :pk"
    names = {"#pk": pk_attr}
    values: dict[str, Any] = {":pk": {"S": pk_value}}
    if sk_prefix:
        expr += " AND begins_with(#sk, :sk)"
        names["#sk"] = sk_attr
        values[":sk"] = {"S": sk_prefix}
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": expr,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "Limit": limit,
        "ScanIndexForward": not newest_first,
    }
    if index:
        kwargs["IndexName"] = index
    start = check_start(decode_cursor(cursor), index=index, partition=pk_value, sk_prefix=sk_prefix)
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = aws.dynamodb().query(**kwargs)
    return [deserialize(i) for i in resp.get("Items", [])], encode_cursor(resp.get("LastEvaluatedKey"))


def raw_key(item: dict[str, Any], index: str) -> dict[str, Any]:
    """The raw (typed) key of ``item`` in ``index``: what ``ExclusiveStartKey`` takes to resume after it."""
    return {n: {"S": item[n]} for n in ("PK", "SK", f"{index}PK", f"{index}SK")}


def in_filter(attribute: str, allowed: set[str], values: dict[str, Any], *, prefix: str = "c") -> str:
    """A ``attribute IN (...)`` filter over ``allowed`` (adds the placeholders to ``values``).

    DynamoDB takes at most 100 operands; callers pass the channels a user may use, which stays far
    below that. An empty set matches nothing.
    """
    if len(allowed) > 100:
        raise ValueError("an IN filter takes at most 100 values")
    ids = sorted(allowed)
    for n, value in enumerate(ids):
        values[f":{prefix}{n}"] = {"S": value}
    return (
        f"{attribute} IN ({', '.join(f':{prefix}{n}' for n in range(len(ids)))})" if ids else "attribute_not_exists(PK)"
    )


def index_page(
    *,
    index: str,
    key_condition: str,
    names: dict[str, str],
    values: dict[str, Any],
    filters: list[str],
    limit: int,
    start: Any,
    newest_first: bool = True,
    cursor_field: str = "cursor",
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` items of one GSI partition after ``start`` (a raw key).

    Filter expressions can make a query come back short, so it is repeated until the page is full or
    the partition is exhausted. Returns the items and the raw key to resume after (None: exhausted).
    ``start`` comes from a client's cursor: it must lie in the partition (``values[":pk"]``) and at or
    after ``values[":since"]`` if the key condition has one (:func:`check_start`; 422 on ``cursor_field``).
    """
    since = values.get(":since", {}).get("S")
    start = check_start(start, index=index, partition=values[":pk"]["S"], sk_min=since, field=cursor_field)
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "IndexName": index,
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not newest_first,
    }
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    out: list[dict[str, Any]] = []
    last = start
    while len(out) < limit:
        kwargs["Limit"] = max(limit - len(out), 10) if filters else limit - len(out)
        if last:
            kwargs["ExclusiveStartKey"] = last
        else:
            kwargs.pop("ExclusiveStartKey", None)
        resp = aws.dynamodb().query(**kwargs)
        items = [deserialize(i) for i in resp.get("Items", [])]
        room = limit - len(out)
        if len(items) > room:
            # Took part of this response: resume after the last item returned.
            out.extend(items[:room])
            return out, raw_key(out[-1], index)
        out.extend(items)
        last = resp.get("LastEvaluatedKey")
        if not last:
            return out, None
    return out, last
