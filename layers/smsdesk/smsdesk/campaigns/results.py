"""Campaign messages' final outcomes → their campaigns' counts, a batch at a time (the ``fanout``
function's second queue, ``campaign-results``: ``CampaignOutcomeJob``, one per message entering
``delivered``, ``undelivered`` or ``failed``; the outbox relay queues it from the message row's own
stream record, ``outbox_relay.campaign_outcome``, so the counts depend on no bus event).

Exactly once per message although the stream and SQS deliver at least once: each message's counts
move with a marker item (``PK=CAMPAIGN#{id} SK=O#{message_id}#{outcome}``, conditioned on not
existing) in the same transaction as the counts (conditioned on existing). A batch is grouped by
campaign: per campaign ONE transaction of a marker per message and ONE update adding the batch's
totals (``sent``: the provider accepted it, known with its outcome: delivered, undelivered, or failed
after the provider had it; and the outcome, ``delivered`` or ``failed``), in chunks of at most 100
items (DynamoDB's limit). If a marker already exists (a redelivered job) the chunk's transaction is
cancelled and its messages are counted one transaction each, as before batching, so every one counts
once. Small items in a transaction cost 2 WRU each: a batch of n outcomes of one campaign costs 2n + 2
WRU (2.2 per outcome at n = 10; one transaction per message cost 4).

The counts live on their own item (``CAMPAIGN#{id}/STATS``), not on the campaign item the waves write,
so outcomes never contend with the fan-out. The expand creates the counts item and a deleted
campaign's purge deletes it first, so a late outcome counts nothing and leaves no item behind the
purge, without a check of the campaign item in every transaction (a ConditionCheck is billed as a write
of the item it checks, and a campaign with a list of numbers is KBs large). Without the counts item (a
run expanded before the expand made it) the transaction checks the campaign item instead.

Partial failures are per SQS record (``batchItemFailures``): the records of a campaign whose chunk
failed are retried, the others are done; a retried record finds its marker if it was counted."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

from smsdesk.data import campaigns as repo
from smsdesk.data import credits as credits_repo
from smsdesk.envelopes import CampaignOutcomeJob
from smsdesk.observability import logger
from smsdesk.runtime import BatchFailed, SQSRecord, parse_record

OUTCOME = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}
#: TransactWriteItems takes at most 100 items: 99 markers and the counts update.
CHUNK = 99
#: A transaction cancelled by a concurrent one on the counts item (another batch of the same campaign)
#: is tried again this many times in the invocation before its records are left to SQS's retry.
CONFLICT_RETRIES = 3


def is_batch(event: Any) -> bool:
    """Whether an SQS event is a batch of the ``campaign-results`` queue (its jobs name a message; the
    bulk queue's jobs never do). A batch comes from one queue: any record naming a message decides, so
    an unreadable record does not send its batch's outcomes down the fan-out's path."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or not isinstance(records, list):
        return False
    for record in records:
        try:
            body = json.loads(record.get("body") or "") if isinstance(record, dict) else None
        except ValueError:
            continue
        if isinstance(body, dict) and "message_id" in body:
            return True
    return False


def is_bus_event(event: Any) -> bool:
    """An EventBridge event: a campaign message's final status from the bus rule ``campaign-results``
    of the release before this one, delivered (or retried) while an upgrade removes the rule."""
    return isinstance(event, dict) and "detail-type" in event and "Records" not in event


def apply_bus_event(event: dict[str, Any]) -> int:
    """Count an outcome the previous release's bus rule delivered (exactly once, like a queued one:
    its marker is the same). The number counted (0: not a campaign outcome, or counted before)."""
    detail = event.get("detail") or {}
    status = str(event.get("detail-type", "")).removeprefix("message.")
    if not detail.get("campaign_id") or not detail.get("message_id") or status not in OUTCOME:
        return 0
    job = CampaignOutcomeJob(
        campaign_id=detail["campaign_id"],
        message_id=detail["message_id"],
        status=status,  # type: ignore[arg-type]
        with_provider_id=bool(detail.get("provider_id")),
    )
    return count(job.campaign_id, [job])


def counters(job: CampaignOutcomeJob) -> list[str]:
    """What one outcome adds: its outcome, and ``sent`` when the provider had the message."""
    reached = job.status in ("delivered", "undelivered") or job.with_provider_id
    return ["sent", OUTCOME[job.status]] if reached else [OUTCOME[job.status]]


def handle_batch(event: dict[str, Any]) -> dict[str, Any]:
    """Count a batch of outcomes; the partial batch response (the records to retry). Every record failing
    fails the invocation (:class:`BatchFailed`), as ``runtime.process_queue_batch`` does."""
    records = [SQSRecord(raw) for raw in event.get("Records") or []]
    failed: set[str] = set()
    errors: list[BaseException] = []
    #: campaign -> message -> (its job, the records that carry it: a duplicated stream record, twice)
    groups: dict[str, dict[str, tuple[CampaignOutcomeJob, list[str]]]] = {}
    for record in records:
        try:
            job = parse_record(record, CampaignOutcomeJob)
        except Exception as exc:
            logger.exception("campaign outcome: unreadable job", extra={"record": record.message_id})
            errors.append(exc)
            failed.add(record.message_id)
            continue
        groups.setdefault(job.campaign_id, {}).setdefault(job.message_id, (job, []))[1].append(record.message_id)
    counted = 0
    for campaign_id, by_message in groups.items():
        entries = list(by_message.values())
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start : start + CHUNK]
            try:
                counted += count(campaign_id, [job for job, _ in chunk])
            except Exception as exc:
                logger.exception("campaign outcomes not counted", extra={"campaign_id": campaign_id})
                errors.append(exc)
                failed.update(r for _, ids in entries[start:] for r in ids)
                break
    logger.info("campaign outcomes", extra={"records": len(records), "counted": counted, "failed": len(failed)})
    if records and len(failed) == len(records):
        raise BatchFailed(errors) from errors[0]
    return {"batchItemFailures": [{"itemIdentifier": r.message_id} for r in records if r.message_id in failed]}


def count(campaign_id: str, jobs: list[CampaignOutcomeJob]) -> int:
    """Add ``jobs`` (≤ :data:`CHUNK` distinct messages of one campaign) to its counts, each message
    once: one transaction, or one per message when one was counted before (or the counts item is
    missing). The number of messages counted now."""
    unique = list({job.message_id: job for job in jobs}.values())
    if len(unique) == 1:  # a batch of one (or its redelivery): today's one transaction, no fallback needed
        job = unique[0]
        return int(_once(campaign_id, job.message_id, OUTCOME[job.status], counters(job)))
    totals: Counter[str] = Counter()
    for job in unique:
        totals.update(counters(job))
    items = [repo.outcome_marker(campaign_id, job.message_id, OUTCOME[job.status]) for job in unique]
    items.append(repo.stats_add(campaign_id, totals, existing=True))
    try:
        _transact(items)
    except credits_repo.TransactionCanceled as exc:
        if "ConditionalCheckFailed" not in (exc.reasons or []):
            raise
        # a message counted before (a redelivered job), or no counts item: one transaction per message
        n = sum(1 for job in unique if _once(campaign_id, job.message_id, OUTCOME[job.status], counters(job)))
        logger.info("campaign outcomes one by one", extra={"campaign_id": campaign_id, "counted": n})
        return n
    return len(unique)


def _transact(items: list[dict[str, Any]]) -> None:
    """One transaction, tried again when a concurrent one on the same counts item cancelled it."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            credits_repo.transact(items)
            return
        except credits_repo.TransactionCanceled as exc:
            if "TransactionConflict" not in (exc.reasons or []) or attempt == CONFLICT_RETRIES:
                raise
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # jitter


def _once(campaign_id: str, message_id: str, outcome: str, counted: list[str]) -> bool:
    """One message's outcome in its own transaction; False when it was counted before, or its campaign
    is deleted."""
    marker = repo.outcome_marker(campaign_id, message_id, outcome)
    try:
        _transact([marker, repo.stats_add(campaign_id, Counter(counted), existing=True)])
    except credits_repo.TransactionCanceled as exc:
        reasons = exc.reasons or []
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return False  # counted before (a redelivered job)
        if reasons[1:2] != ["ConditionalCheckFailed"]:
            raise
        # no STATS item: the campaign is deleted (its purge deletes it first), or its run was expanded
        # before the expand made it: count with the campaign item checked instead
        try:
            _transact([marker, repo.stats_add(campaign_id, Counter(counted)), repo.live_check(campaign_id)])
        except credits_repo.TransactionCanceled as again:
            if "ConditionalCheckFailed" in (again.reasons or []):
                return False  # counted meanwhile, or the campaign was deleted
            raise
    return True
