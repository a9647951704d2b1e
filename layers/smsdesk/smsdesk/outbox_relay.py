"""The outbox's relay: the ``outbox`` function consumes the main table's stream and publishes what each
changed item announces in its ``ob`` attribute (``smsdesk.outbox`` says how a write announces; this
module how it leaves): events through batched ``PutEvents``, jobs through ``SendMessageBatch``, in
stream order, reporting the first record that failed so Lambda retries from there. A new message
row's ``ob`` also names the immutable entry derived from it (``ob.entry``: its charge's ledger entry or
its index entry), which is written first, with ``BatchWriteItem`` (:func:`derived_entries`)."""

from __future__ import annotations

import json
from typing import Any

from smsdesk import aws, config, manifest
from smsdesk.data.table import deserialize
from smsdesk.observability import logger
from smsdesk.outbox import ATTRIBUTE, FINAL_STATUSES, MAX_ENTRIES_PER_CALL, Job, message_detail


def pending(
    record: dict[str, Any], change: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None
) -> tuple[list[tuple[str, dict[str, Any]]], list[Job]]:
    """What one stream record announces (:func:`_announced`), plus the outcome of a campaign message that
    entered a final status (:func:`campaign_outcome`). ``change``: the record's :func:`_new_change`."""
    events, jobs = _announced(record, change)
    outcome = campaign_outcome(record)
    return events, [*jobs, outcome] if outcome else jobs


#: A message's final statuses: a campaign message entering one is an outcome for its campaign's counts.
CAMPAIGN_OUTCOMES = FINAL_STATUSES


def campaign_outcome(record: dict[str, Any]) -> Job | None:
    """The ``campaign-results`` job of a stream record whose new image is a campaign message's row
    (``MSG#…``/``META`` with a ``campaign_id``) that ENTERED a final status (the old image's, if any,
    was not final), or None. Derived from the status change itself, not from what the write announces,
    so the counts never depend on a bus event (the mapping's filter passes such records with or without
    an ``ob``: ``manifest.campaign_outcome_filter``). A redelivered record queues the job again; the
    counts take each message once (``campaigns/results.py``)."""
    ddb = record.get("dynamodb") or {}
    new, old = ddb.get("NewImage") or {}, ddb.get("OldImage") or {}

    def s(image: dict[str, Any], name: str) -> str | None:
        value = image.get(name)
        return value.get("S") if isinstance(value, dict) else None

    pk, campaign_id, status = s(new, "PK") or "", s(new, "campaign_id"), s(new, "status")
    if not (pk.startswith("MSG#") and s(new, "SK") == "META" and campaign_id and status in CAMPAIGN_OUTCOMES):
        return None
    if s(old, "status") in CAMPAIGN_OUTCOMES:
        return None  # final before this write: counted (or queued) when it became final
    body = {
        "campaign_id": campaign_id,
        "message_id": s(new, "id") or pk.removeprefix("MSG#"),
        "status": status,
        "with_provider_id": bool(s(new, "provider_id")),
    }
    return {"queue": manifest.CAMPAIGN_RESULTS_QUEUE.name, "body": json.dumps(body, separators=(",", ":"))}


def _new_change(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(new image, old image, ``ob``) of a stream record whose new image carries an ``ob`` that is not the
    old image's (a new change that announces something); None for any other record."""
    ddb = record.get("dynamodb") or {}
    new = deserialize(ddb.get("NewImage") or {})
    ob = new.get(ATTRIBUTE)
    if not isinstance(ob, dict) or not ob.get("id"):
        return None
    old = deserialize(ddb.get("OldImage") or {})
    old_ob = old.get(ATTRIBUTE)
    if isinstance(old_ob, dict) and old_ob.get("id") == ob["id"]:
        return None
    return new, old, ob


def _announced(
    record: dict[str, Any], change: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None
) -> tuple[list[tuple[str, dict[str, Any]]], list[Job]]:
    """What one stream record's ``ob`` announces: (events as (detail type, detail with event_id), jobs). Nothing
    for a record without ``ob`` or whose ``ob`` is the old image's (not a new change). ``change``: the
    record's :func:`_new_change`, when the caller has it."""
    change = change if change is not None else _new_change(record)
    if change is None:
        return [], []
    new, old, ob = change
    out: list[tuple[str, dict[str, Any]]] = []
    for n, spec in enumerate(ob.get("events") or []):
        detail_type = spec["type"]
        if spec.get("of") == "message":
            from smsdesk.data import (
                messages as messages_repo,  # only for message events: keeps the text engine out of a cold start
            )

            msg = messages_repo.split(new)[0]
            detail = message_detail(msg, detail_type.removeprefix("message."), old.get("status"))
        else:
            detail = dict(spec.get("detail") or {})
        out.append((detail_type, {**detail, "event_id": f"{ob['id']}:{n}"}))
    return out, list(ob.get("jobs") or [])


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """Publish the events and send the jobs of a DynamoDB Streams batch, in order. Returns the partial
    batch response: the first record that failed (Lambda retries it and every later one; the records
    before it are done)."""
    records = event.get("Records") or []
    first_failed = len(records)
    events_: list[tuple[int, str, dict[str, Any]]] = []
    jobs: list[tuple[int, Job]] = []
    entries: list[tuple[int, dict[str, Any]]] = []
    for i, record in enumerate(records):
        try:
            change = _new_change(record)  # the images, deserialised once for both
            evs, jbs = pending(record, change)
            entries.extend((i, e) for e in derived_entries(record, change))
        except Exception:
            logger.exception("outbox: unreadable stream record", extra={"seq": _seq(record)})
            first_failed = i
            break
        events_.extend((i, t, d) for t, d in evs)
        jobs.extend((i, j) for j in jbs)
    first_failed = min(first_failed, _write_entries(entries, first_failed))
    first_failed = min(first_failed, _put_events(events_, first_failed))
    first_failed = min(first_failed, _send_jobs([(i, j) for i, j in jobs if i < first_failed], first_failed))
    published = sum(1 for i, _, _ in events_ if i < first_failed)
    logger.info(
        "outbox",
        extra={
            "records": len(records),
            "events": published,
            "jobs": sum(1 for i, _ in jobs if i < first_failed),
            "entries": sum(1 for i, _ in entries if i < first_failed),
            "failed_from": _seq(records[first_failed]) if first_failed < len(records) else None,
        },
    )
    if first_failed < len(records):
        return {"batchItemFailures": [{"itemIdentifier": _seq(records[first_failed])}]}
    return {"batchItemFailures": []}


def _seq(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def _put_events(entries: list[tuple[int, str, dict[str, Any]]], limit: int) -> int:
    """PutEvents in order, ≤ 10 entries a call, for records before ``limit``; the index of the first
    record with an entry that failed (``limit`` if none)."""
    entries = [e for e in entries if e[0] < limit]
    if not entries:
        return limit
    bus = config.event_bus_name()
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        chunk = entries[start : start + MAX_ENTRIES_PER_CALL]
        try:
            resp = aws.events().put_events(
                Entries=[
                    {
                        "Source": manifest.EVENT_BUS.source,
                        "DetailType": t,
                        "Detail": json.dumps(d, default=str, separators=(",", ":")),
                        "EventBusName": bus,
                    }
                    for _, t, d in chunk
                ]
            )
        except Exception:
            logger.exception("outbox: PutEvents failed", extra={"entries": len(chunk)})
            return chunk[0][0]
        if resp.get("FailedEntryCount"):
            for (i, t, _), result in zip(chunk, resp.get("Entries") or [], strict=False):
                if result.get("ErrorCode"):
                    logger.error(
                        "outbox: event rejected",
                        extra={"detail_type": t, "code": result.get("ErrorCode"), "error": result.get("ErrorMessage")},
                    )
                    return i
            return chunk[0][0]
    return limit


def _send_jobs(jobs: list[tuple[int, Job]], limit: int) -> int:
    """SendMessageBatch per queue, in order, ≤ 10 a call; the index of the first record with a job that
    failed (``limit`` if none)."""
    first_failed = limit
    by_queue: dict[str, list[tuple[int, Job]]] = {}
    for i, j in jobs:
        by_queue.setdefault(j["queue"], []).append((i, j))
    for queue_name, items in by_queue.items():
        url = config.queue_url(manifest.queue(queue_name))
        for start in range(0, len(items), MAX_ENTRIES_PER_CALL):
            chunk = [(i, j) for i, j in items[start : start + MAX_ENTRIES_PER_CALL] if i < first_failed]
            if not chunk:
                break
            try:
                resp = aws.sqs().send_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(n), "MessageBody": j["body"], "DelaySeconds": int(j.get("delay_s") or 0)}
                        for n, (_, j) in enumerate(chunk)
                    ],
                )
            except Exception:
                logger.exception("outbox: SendMessageBatch failed", extra={"queue": queue_name})
                first_failed = min(first_failed, chunk[0][0])
                break
            failed = resp.get("Failed") or []
            if failed:
                logger.error("outbox: jobs rejected", extra={"queue": queue_name, "failed": failed})
                first_failed = min(first_failed, min(chunk[int(f["Id"])][0] for f in failed))
                break
    return first_failed


# -- entries derived from a new message row (its charge's ledger entry, or its index entry) ----------------

#: BatchWriteItem's limit.
MAX_ENTRIES_PER_WRITE = 25


def derived_entries(
    record: dict[str, Any], change: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The immutable entry a new message row announces in ``ob.entry`` (``data.messages.new_items``),
    derived from the row alone, so a redelivered record rewrites the same item: ``charge``, its charge's
    ledger entry (``credits.charge_entry``; it carries the message's index keys); ``index``, its own
    ``MSG#{id}/INDEX`` entry. Nothing for any other record, or one whose ``ob`` is the old image's.
    ``change``: the record's :func:`_new_change`, when the caller has it."""
    change = change if change is not None else _new_change(record)
    if change is None:
        return []
    new, _, ob = change
    if ob.get("entry") not in ("charge", "index"):  # messages.ENTRY
        return []
    from smsdesk.data import messages as messages_repo  # as for message events: not at cold start

    msg = messages_repo.split(new)[0]
    if ob["entry"] == "charge":
        from smsdesk import credits

        return [credits.charge_entry(msg)]
    entry = messages_repo.index_entry_item(msg)
    return [entry] if entry else []


def _write_entries(entries: list[tuple[int, dict[str, Any]]], limit: int) -> int:
    """Put the derived entries of records before ``limit``, ≤ 25 a ``BatchWriteItem``, in order (the
    same entry twice in a batch, a duplicated record: once). The index of the first record whose entry
    failed or came back unprocessed (``limit`` if none): it and every later record are retried."""
    first: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for i, e in entries:
        if i < limit:
            first.setdefault((e["PK"], e["SK"]), (i, e))
    todo = list(first.values())
    if not todo:
        return limit
    from smsdesk.data import messages as messages_repo

    for start in range(0, len(todo), MAX_ENTRIES_PER_WRITE):
        chunk = todo[start : start + MAX_ENTRIES_PER_WRITE]
        try:
            back = messages_repo.put_entries([e for _, e in chunk])
        except Exception:
            logger.exception("outbox: BatchWriteItem failed", extra={"entries": len(chunk)})
            return chunk[0][0]
        if back:
            logger.warning("outbox: entries unprocessed", extra={"entries": len(back)})
            return min(first[k][0] for k in back)
    return limit
