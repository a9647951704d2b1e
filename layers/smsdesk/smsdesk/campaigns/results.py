"""A campaign message's final outcome → the campaign's counts (the ``fanout`` function's bus rule
``campaign-results``: ``message.delivered|undelivered|failed`` of messages with a campaign; one event
per message, not one per status: a message's first final status is its last).

Exactly once per message although the bus delivers at least once: its counts move in ONE transaction
of two small items, a marker (``PK=CAMPAIGN#{id} SK=O#{message_id}#{outcome}``, conditioned on not
existing) and the counts (conditioned on existing):
``sent`` (the provider accepted it, known with its outcome: delivered, undelivered, or failed after
the provider had it) and the outcome (``delivered`` or ``failed``) are added by the same update. (Before,
each counter had its own marker and transaction: twice the writes for a delivered message. A marker of
that time is the outcome's, so an event counted then still counts nothing now.) The counts live on
their own item (``CAMPAIGN#{id}/STATS``), not on the campaign item the waves write, so outcomes never
contend with the fan-out. The expand creates the counts item and a deleted campaign's purge deletes it
first, so a late outcome counts nothing and leaves no item behind the purge, without a check of the
campaign item in every transaction (a ConditionCheck is billed as a write of the item it checks, and a
campaign with a list of numbers is KBs large). Without the counts item (a run expanded before the
expand made it) the transaction checks the campaign item instead."""

from __future__ import annotations

from typing import Any

from smsdesk.data import campaigns as repo
from smsdesk.data import credits as credits_repo
from smsdesk.observability import logger

OUTCOME = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def apply(event: dict[str, Any]) -> list[str]:
    detail = event.get("detail") or {}
    campaign_id, message_id = detail.get("campaign_id"), detail.get("message_id")
    status = str(event.get("detail-type", "")).removeprefix("message.")
    if not campaign_id or not message_id or status not in OUTCOME:
        return []
    reached = status in ("delivered", "undelivered") or (status == "failed" and detail.get("provider_id"))
    counters = ["sent", OUTCOME[status]] if reached else [OUTCOME[status]]
    counted = counters if _once(campaign_id, message_id, OUTCOME[status], counters) else []
    logger.info("campaign outcome", extra={"campaign_id": campaign_id, "message_id": message_id, "counted": counted})
    return counted


def _once(campaign_id: str, message_id: str, outcome: str, counters: list[str]) -> bool:
    marker = repo.outcome_marker(campaign_id, message_id, outcome)
    try:
        credits_repo.transact([marker, repo.stats_add(campaign_id, *counters, existing=True)])
    except credits_repo.TransactionCanceled as exc:
        reasons = exc.reasons or []
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return False  # counted before (a redelivered event)
        if reasons[1:2] != ["ConditionalCheckFailed"]:
            raise
        # no STATS item: the campaign is deleted (its purge deletes it first), or its run was expanded
        # before the expand made it: count with the campaign item checked instead
        try:
            credits_repo.transact([marker, repo.stats_add(campaign_id, *counters), repo.live_check(campaign_id)])
        except credits_repo.TransactionCanceled as again:
            if "ConditionalCheckFailed" in (again.reasons or []):
                return False  # counted meanwhile, or the campaign was deleted
            raise
    return True
