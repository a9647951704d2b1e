"""Contact imports (see docs/data-model.md).

Keys: import ``PK=IMPORT#{id} SK=META``; GSI1 ``IMPORTS`` / ``{created_at}#{id}`` (newest first).
The item is the import's progress: ``rows_done`` (data rows handled so far), the counts and the first
``MAX_ERRORS`` row errors. Each batch of rows ends with one UpdateItem that adds the batch's counts and
moves ``rows_done`` from the value the batch started at (its condition): a redelivered event or a
concurrent duplicate invocation resumes after the last batch recorded and never counts one twice.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "entity")
LIST_PK = "IMPORTS"
#: Row errors kept on the item (the counts cover all of them).
MAX_ERRORS = 100


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def put_new(record: dict[str, Any]) -> None:
    item = {
        "PK": f"IMPORT#{record['id']}",
        "SK": "META",
        "GSI1PK": LIST_PK,
        "GSI1SK": f"{record['created_at']}#{record['id']}",
        "entity": "import",
        **record,
    }
    table.put(item, condition="attribute_not_exists(PK)")


def get(import_id: str) -> dict[str, Any] | None:
    item = table.get(f"IMPORT#{import_id}", "META", consistent=True)
    return _clean(item) if item else None


def list_imports(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(LIST_PK, index="GSI1", limit=limit, cursor=cursor, newest_first=True)
    return [_clean(i) for i in items], nxt


def _update(import_id: str, expr: str, values: dict[str, Any], condition: str, names: dict[str, str]) -> bool:
    try:
        aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(f"IMPORT#{import_id}", "META"),
            UpdateExpression=expr,
            ConditionExpression=condition,
            ExpressionAttributeValues=table.serialize(values),
            ExpressionAttributeNames=names,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def start(import_id: str, *, rows_done: int, fields: dict[str, Any], at: str) -> bool:
    """Mark the import ``processing`` (first event, or a resume) with what the header said."""
    sets = ", ".join(f"#{k} = :{k}" for k in fields)
    values = {f":{k}": v for k, v in fields.items()}
    return _update(
        import_id,
        f"SET #status = :processing, #updated_at = :at{', ' + sets if sets else ''}",
        {":processing": "processing", ":at": at, ":done": rows_done, ":finished": "done", **values},
        "attribute_exists(PK) AND rows_done = :done AND #status <> :finished",
        {"#status": "status", "#updated_at": "updated_at", **{f"#{k}": k for k in fields}},
    )


def record_batch(
    import_id: str,
    *,
    rows_before: int,
    rows_after: int,
    created: int,
    updated: int,
    failed: int,
    errors: list[dict[str, Any]],
    errors_kept: int,
    at: str,
) -> bool:
    """Add one batch's outcome, if nobody recorded it yet (``rows_done`` still ``rows_before``)."""
    room = max(0, MAX_ERRORS - errors_kept)
    return _update(
        import_id,
        "SET rows_done = :after, #updated_at = :at, #errors = list_append(if_not_exists(#errors, :empty), :errs) "
        "ADD created :c, updated :u, failed :f",
        {
            ":after": rows_after,
            ":before": rows_before,
            ":at": at,
            ":empty": [],
            ":errs": errors[:room],
            ":c": created,
            ":u": updated,
            ":f": failed,
        },
        "rows_done = :before",
        {"#updated_at": "updated_at", "#errors": "errors"},
    )


def finish(import_id: str, *, status: str, rows_done: int, at: str, error: dict[str, Any] | None = None) -> bool:
    """Set the final status (``done`` or ``failed``) once every row is recorded."""
    values: dict[str, Any] = {":s": status, ":at": at, ":done": rows_done}
    expr = "SET #status = :s, #updated_at = :at, finished_at = :at"
    if error is not None:
        expr += ", #error = :e"
        values[":e"] = error
    return _update(
        import_id,
        expr,
        values,
        "rows_done = :done",
        {"#status": "status", "#updated_at": "updated_at", **({"#error": "error"} if error is not None else {})},
    )
