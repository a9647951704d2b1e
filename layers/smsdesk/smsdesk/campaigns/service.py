"""Campaigns: create, edit, preview, launch (credits reserved in one step), cancel, pause, resume,
the list with counts and the recipients with their messages.

States: ``draft`` → (``scheduled`` →) ``running`` (⇄ ``paused``) → ``completed`` | ``cancelled`` |
``failed``; a recurring campaign goes back to ``scheduled`` after each run. Every state change is one
conditional write of the campaign item (on its ``version``) that announces ``campaign.<state>``
through the outbox and, when a run starts, carries the fan-out's first job. Launching a run reserves
its credits (balance debit + a ledger entry naming the campaign) in the same transaction, or nothing
is written (402 with ``needed`` and ``balance``). What a run does not send comes back exactly once:
a failed message through its own refund, the rest of the reservation when the run ends or is cancelled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from typing import TYPE_CHECKING, Any

from smsdesk import access, config, credits, ids, manifest, outbox
from smsdesk.auth import Caller
from smsdesk.campaigns import schedules
from smsdesk.campaigns.model import (
    FINAL_STATES,
    Campaign,
    CampaignCreate,
    CampaignFields,
    CampaignRecipient,
    CampaignUpdate,
    Counts,
)
from smsdesk.data import campaigns as repo
from smsdesk.data import credits as credits_repo
from smsdesk.envelopes import FanoutJob
from smsdesk.errors import Conflict, NotFound, PaymentRequired, ValidationError
from smsdesk.models import Channel, iso, utcnow

if TYPE_CHECKING:
    from smsdesk.campaigns import plan

# Planning (``campaigns.plan``) and audience resolution (``crm.audience``: lists, groups, rules) are
# imported by the functions that plan: the fan-out's send waves, which load this module, never do.

#: The same text to the same audience on the same channel within this is refused unless confirmed.
DUPLICATE_WINDOW_S = 600
#: The ``purge_seq`` of a deleted campaign's first purge job (the chain's next ones count up from it).
PURGE_FIRST_SEQ = 1


class DuplicateCampaign(Conflict):
    code = "duplicate_campaign"


class WrongState(Conflict):
    code = "campaign_state"


# -- reading --------------------------------------------------------------------------------------------


def load(campaign_id: str) -> tuple[Campaign, dict[str, Any]] | None:
    it = repo.get(campaign_id)
    if it is None or it.get("deleted_at"):
        return None  # a deleted campaign's items go in pages behind it (``fanout.purge``)
    data, extra = repo.split(it)
    return Campaign.model_validate(data), extra


def get_for(caller: Caller, campaign_id: str) -> tuple[Campaign, dict[str, Any]]:
    got = load(campaign_id)
    if got is not None:
        usable = access.usable_channel_ids(caller)
        if usable is None or got[0].channel_id in usable:
            return got
    raise NotFound(f"campaign {campaign_id} not found", field="campaign_id")


def list_page(caller: Caller, *, limit: int, cursor: str | None) -> tuple[list[Campaign], str | None]:
    usable = access.usable_channel_ids(caller)
    items, nxt = repo.list_page(limit=limit, cursor=cursor)
    out = [Campaign.model_validate(repo.split(i)[0]) for i in items]
    return with_outcomes([c for c in out if usable is None or c.channel_id in usable]), nxt


# -- create / edit ----------------------------------------------------------------------------------------


def _check(caller: Caller, fields: CampaignFields) -> Channel:
    from smsdesk.campaigns import plan

    channel = access.require_channel(caller, fields.channel_id)
    plan.Planner(channel, plan.full_template(fields.text, fields.kind, channel), channel.default_region or "NL")
    for n, gid in enumerate(fields.audience.group_ids):
        from smsdesk.crm import groups

        try:
            groups.get(gid)
        except NotFound as exc:
            raise NotFound(exc.message, field=f"audience.group_ids.{n}") from exc
    return channel


def create(caller: Caller, body: CampaignCreate) -> Campaign:
    _check(caller, body)
    now = utcnow()
    campaign = Campaign(**body.model_dump(), id=ids.new_id(), created_by=caller.user_id, created_at=now, updated_at=now)
    repo.put_new(campaign)
    return campaign


def update(caller: Caller, campaign_id: str, body: CampaignUpdate) -> Campaign:
    """Edit a draft or scheduled campaign (a scheduled one's schedule is replaced with it). Checked
    before anything is written; if the schedule cannot be replaced, the campaign is put back. A new
    schedule (another time) gets a new ``schedule_version``, written with the campaign: a fire of the
    old one, already queued or late, then starts nothing (``fanout.on_schedule``); an edit that keeps
    the schedule keeps its version (its fires still run the campaign, as edited)."""
    for _ in range(10):
        campaign, extra = get_for(caller, campaign_id)
        if campaign.status not in ("draft", "scheduled"):
            raise WrongState(f"a {campaign.status} campaign cannot be edited", field="status")
        changes = body.model_dump(exclude_unset=True)
        merged = campaign.model_validate({**campaign.model_dump(), **changes, "updated_at": utcnow()})
        _check(caller, merged)
        if merged.status == "scheduled":
            if merged.schedule is None:
                raise ValidationError("a scheduled campaign needs its schedule (cancel it instead)", field="schedule")
            at = merged.schedule.at_utc()
            if at is not None and at <= utcnow():
                raise ValidationError("the schedule's time is in the past", field="schedule.at")
        keep = _keep(extra)
        if merged.status == "scheduled":
            # a new time (or schedule): the fires of the old one become stale (``fanout.on_schedule``)
            moved = merged.schedule != campaign.schedule or extra["schedule_version"] is None
            keep["schedule_version"] = extra["version"] + 1 if moved else extra["schedule_version"]
        try:
            credits_repo.transact([repo.replace(merged, version=extra["version"], extra=keep)])
        except credits_repo.TransactionCanceled:
            continue
        if merged.status == "scheduled" and merged.schedule is not None:
            try:
                schedules.put(merged.id, merged.schedule, version=keep["schedule_version"])
            except Exception:
                # nothing half-written: the campaign as it was (unless someone wrote it since)
                with contextlib.suppress(credits_repo.TransactionCanceled):
                    credits_repo.transact([repo.replace(campaign, version=extra["version"] + 1, extra=_keep(extra))])
                raise
        return merged
    raise Conflict("the campaign kept changing; retry", code="concurrent_update")


def delete(caller: Caller, campaign_id: str) -> None:
    """Delete a draft, scheduled or finished campaign (a running or paused one: cancel it first).

    The campaign is gone at once (one conditional write marks it deleted and takes it off the list;
    reads treat it as not found) and its schedule is deleted; that write carries the ``purge`` job: the
    ``fanout`` function removes the recipient rows and counts in pages, then the campaign item
    (``campaigns/fanout.purge``), so a campaign of any size is deleted without holding the API."""
    campaign, extra = get_for(caller, campaign_id)
    if campaign.status not in ("draft", "scheduled", *FINAL_STATES):
        raise WrongState(f"a {campaign.status} campaign cannot be deleted: cancel it first", field="status")
    seq = PURGE_FIRST_SEQ  # a campaign is deleted once (``mark_deleted``'s condition)
    job = FanoutJob(campaign_id=campaign_id, phase="purge", seq=seq)
    ob = outbox.change(
        [_event(campaign, "deleted")], [outbox.job(manifest.BULK_QUEUE, job.model_dump_json(exclude_none=True))]
    )
    if not repo.mark_deleted(campaign_id, version=extra["version"], at=iso(utcnow()), seq=seq, ob=ob):
        raise Conflict("the campaign changed meanwhile; retry", code="concurrent_update")
    schedules.delete(campaign_id)


def _keep(extra: dict[str, Any]) -> dict[str, Any]:
    # ``expanding`` too: a pause while a run is expanded must not free its lease (``fanout.expand``)
    keys = ("pump_seq", "expanded_run", "fingerprint", "schedule_version", "expanding")
    return {k: extra[k] for k in keys if extra.get(k) is not None}


# -- preview -----------------------------------------------------------------------------------------------


def planner(campaign: CampaignFields, channel: Channel) -> plan.Planner:
    from smsdesk.campaigns import plan

    region = channel.default_region or config.default_country()
    return plan.Planner(channel, plan.full_template(campaign.text, campaign.kind, channel), region)


def planned_pages(campaign: CampaignFields, channel: Channel):  # type: ignore[no-untyped-def]
    from smsdesk.campaigns import plan
    from smsdesk.crm import audience

    p = planner(campaign, channel)
    pages = audience.resolve(campaign.audience, channel_id=channel.id, region=p.region)
    return plan.plan_pages(p, pages)


def preview(caller: Caller, fields: CampaignFields, *, per_recipient: int = 0) -> plan.Preview:
    """Recipients after deduplication, the excluded by reason, segments and credits in total and per
    country, the longest rendered text: the numbers launching will reserve."""
    from smsdesk.campaigns import plan

    channel = access.require_channel(caller, fields.channel_id)
    footer = plan.footer_for(channel) if fields.kind == "marketing" else None
    return plan.summarise(planned_pages(fields, channel), footer=footer, per_recipient=per_recipient)


# -- launch / runs -----------------------------------------------------------------------------------------


def fingerprint(c: CampaignFields) -> str:
    blob = json.dumps([c.channel_id, c.text, c.kind, c.audience.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _event(campaign: Campaign, state: str, **more: Any) -> outbox.Event:
    detail = {
        "campaign_id": campaign.id,
        "title": campaign.title,
        "channel_id": campaign.channel_id,
        "kind": campaign.kind,
        "status": campaign.status,
        "run": campaign.run,
        "reserved": campaign.reserved,
        **more,
    }
    return outbox.event(f"campaign.{state}", detail)


def launch(caller: Caller, campaign_id: str, *, confirm: bool = False) -> Campaign:
    """Start now (credits reserved in this very call, or 402) or, with a schedule, arm it (``scheduled``).
    The same text to the same audience on the same channel within 10 minutes: 409 unless ``confirm``."""
    from smsdesk.campaigns import plan

    campaign, extra = get_for(caller, campaign_id)
    if campaign.status != "draft":
        raise WrongState(f"a {campaign.status} campaign cannot be launched", field="status")
    channel = _check(caller, campaign)
    fp = fingerprint(campaign)
    if not confirm:
        seen = repo.guard(fp)
        if seen and seen.get("campaign_id") != campaign.id and int(seen.get("expires_at", 0)) > time.time():
            raise DuplicateCampaign(
                f"the same text went to the same audience at {seen.get('at')} (campaign {seen.get('campaign_id')});"
                " launch with confirm=true to send it again",
                field="confirm",
                details={"campaign_id": seen.get("campaign_id")},
            )
    guard = repo.guard_put(fp, campaign.id, iso(utcnow()), int(time.time()) + DUPLICATE_WINDOW_S)
    if campaign.schedule is not None:
        now = utcnow()
        at = campaign.schedule.at_utc()
        if at is not None and at <= now:
            raise ValidationError("the schedule's time is in the past", field="schedule.at")
        new = campaign.model_copy(update={"status": "scheduled", "updated_at": now, "status_reason": None})
        ob = outbox.change([_event(new, "scheduled", schedule=campaign.schedule.model_dump(mode="json"))])
        # the schedule's version: the campaign item's version with this write (its fires must carry it)
        keep = {**_keep(extra), "fingerprint": fp, "schedule_version": extra["version"] + 1}
        try:
            credits_repo.transact([repo.replace(new, version=extra["version"], extra=keep, ob=ob), guard])
        except credits_repo.TransactionCanceled as exc:
            raise Conflict("the campaign changed meanwhile; retry", code="concurrent_update") from exc
        schedules.put(new.id, campaign.schedule, version=keep["schedule_version"])
        return new
    needed = plan.summarise(planned_pages(campaign, channel), footer=None).credits
    if needed == 0:
        raise ValidationError("nobody to send to: every recipient is excluded", field="audience")
    return start_run(campaign, extra, needed, extra_items=[guard], fingerprint_=fp)


def start_run(
    campaign: Campaign,
    extra: dict[str, Any],
    needed: int,
    *,
    extra_items: list[dict[str, Any]] | None = None,
    fingerprint_: str | None = None,
) -> Campaign:
    """Reserve ``needed`` credits and start run ``run + 1`` in one transaction (402 if the balance is
    short: nothing written); the write carries ``campaign.started`` and the run's expand job."""
    now = utcnow()
    run = campaign.run + 1
    new = campaign.model_copy(
        update={
            "status": "running",
            "status_reason": None,
            "run": run,
            "reserved": needed,
            "reserved_left": needed,
            "counts": Counts(),
            "launched_at": now,
            "updated_at": now,
            "finished_at": None,
        }
    )
    job = FanoutJob(campaign_id=campaign.id, phase="expand", run=run)
    ob = outbox.change(
        [_event(new, "started")],
        [outbox.job(manifest.BULK_QUEUE, job.model_dump_json(exclude_none=True))],
    )
    entry = {
        "id": ids.new_id(),
        "kind": "charge",
        "amount": -needed,
        "at": iso(now),
        "campaign_id": campaign.id,
        "reason": "campaign_reservation",
        "by": campaign.created_by,
    }
    keep = _keep(extra)
    if fingerprint_:
        keep["fingerprint"] = fingerprint_
    items = [
        repo.replace(new, version=extra["version"], extra=keep, ob=ob),
        credits_repo.debit(needed),
        credits_repo.ledger_put(entry),
        *(extra_items or []),
    ]
    try:
        credits_repo.transact(items)
    except credits_repo.TransactionCanceled as exc:
        reasons = exc.reasons or []
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            bal = credits.balance()
            raise PaymentRequired(
                f"this campaign needs {needed} credits; the balance is {bal}",
                field="credits",
                details={"needed": needed, "balance": bal},
            ) from exc
        raise Conflict("the campaign changed meanwhile; retry", code="concurrent_update") from exc
    return new


def refund_left(campaign: Campaign, extra: dict[str, Any], new: Campaign, state: str, **detail: Any) -> bool:
    """Write ``new`` (a run that ended: completed, cancelled, failed, or back to scheduled) and refund
    what is left of the reservation, in one transaction conditioned on the version read: exactly once."""
    left = campaign.reserved_left
    new = new.model_copy(update={"reserved_left": 0, "updated_at": utcnow()})
    ob = outbox.change([_event(new, state, refunded=left, **detail)])
    items = [repo.replace(new, version=extra["version"], extra=_keep(extra), ob=ob)]
    if left > 0:
        at = iso(utcnow())
        entry = {
            "id": ids.new_id(),
            "kind": "refund",
            "amount": left,
            "at": at,
            "campaign_id": campaign.id,
            "reason": f"campaign_{state}",
        }
        items += [credits_repo.credit(left, at), credits_repo.ledger_put(entry)]
    try:
        credits_repo.transact(items)
    except credits_repo.TransactionCanceled:
        return False
    return True


# -- control ----------------------------------------------------------------------------------------------


def _retrying(fn):  # type: ignore[no-untyped-def]
    for attempt in range(20):
        out = fn()
        if out is not None:
            return out
        time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
    raise Conflict("the campaign kept changing; retry", code="concurrent_update")


def cancel(caller: Caller, campaign_id: str) -> Campaign:
    """Stop for good: recipients not yet handed to the pipeline are not sent and their credits come back."""

    def attempt() -> Campaign | None:
        campaign, extra = get_for(caller, campaign_id)
        if campaign.status in FINAL_STATES:
            raise WrongState(f"the campaign is {campaign.status} already", field="status")
        new = campaign.model_copy(update={"status": "cancelled", "finished_at": utcnow()})
        return new if refund_left(campaign, extra, new, "cancelled") else None

    out = _retrying(attempt)
    if out.schedule is not None:
        schedules.delete(out.id)
    return out


def pause(caller: Caller, campaign_id: str) -> Campaign:
    def attempt() -> Campaign | None:
        campaign, extra = get_for(caller, campaign_id)
        if campaign.status != "running":
            raise WrongState(f"only a running campaign can be paused (it is {campaign.status})", field="status")
        new = campaign.model_copy(update={"status": "paused", "updated_at": utcnow()})
        ob = outbox.change([_event(new, "paused")])
        try:
            credits_repo.transact([repo.replace(new, version=extra["version"], extra=_keep(extra), ob=ob)])
        except credits_repo.TransactionCanceled:
            return None
        return new

    return _retrying(attempt)


def resume(caller: Caller, campaign_id: str) -> Campaign:
    """Back to running: a new fan-out chain starts (the paused one's last job finds a newer ``seq``)."""

    def attempt() -> Campaign | None:
        campaign, extra = get_for(caller, campaign_id)
        if campaign.status != "paused":
            raise WrongState(f"only a paused campaign can be resumed (it is {campaign.status})", field="status")
        new = campaign.model_copy(update={"status": "running", "updated_at": utcnow()})
        seq = extra["pump_seq"] + 1
        job = FanoutJob(campaign_id=campaign.id, phase="send", run=campaign.run, seq=seq)
        ob = outbox.change(
            [_event(new, "resumed")], [outbox.job(manifest.BULK_QUEUE, job.model_dump_json(exclude_none=True))]
        )
        keep = {**_keep(extra), "pump_seq": seq}
        try:
            credits_repo.transact([repo.replace(new, version=extra["version"], extra=keep, ob=ob)])
        except credits_repo.TransactionCanceled:
            return None
        return new

    return _retrying(attempt)


# -- recipients ----------------------------------------------------------------------------------------------


def recipients(
    caller: Caller, campaign_id: str, *, status: str | None, run: int | None, limit: int, cursor: str | None
) -> tuple[list[CampaignRecipient], str | None]:
    """The run's recipients (the latest run unless ``run``) with their message's status. Rows the run
    never handed to the pipeline show ``cancelled`` once the campaign was cancelled."""
    campaign, _ = get_for(caller, campaign_id)
    run = run or campaign.run
    start = None
    if cursor:
        from smsdesk.data.table import check_start, decode_cursor

        start = check_start(
            decode_cursor(cursor), index=None, partition=f"CAMPAIGN#{campaign_id}", sk_prefix=f"R#{run:05d}#"
        )
    stored_status = status
    cancelled_view = campaign.status == "cancelled"
    if status == "cancelled" and cancelled_view:
        stored_status = None  # pending and held rows of a cancelled campaign: filtered below
    items, last = repo.rows_page(campaign_id, prefix=f"R#{run:05d}#", status=stored_status, limit=limit, start=start)
    msg_ids = [i["message_id"] for i in items if i.get("message_id")]
    statuses: dict[str, str] = {}
    if msg_ids:
        from smsdesk.data import table

        for m in table.batch_get([(f"MSG#{mid}", "META") for mid in msg_ids]):
            statuses[m["id"]] = m["status"]
    out = []
    for i in items:
        st = i["status"]
        if cancelled_view and st in ("pending", "held"):
            st = "cancelled"
        if status == "cancelled" and st != "cancelled":
            continue
        out.append(
            CampaignRecipient.model_validate(
                {**i, "status": st, "message_status": statuses.get(i.get("message_id") or "")}
            )
        )
    from smsdesk.data.table import encode_cursor

    return out, encode_cursor(last)


def with_outcomes(campaigns: list[Campaign]) -> list[Campaign]:
    """The campaigns with their messages' outcomes (sent, delivered, failed: counted once each from the
    messages' events, ``campaigns/results.py``; over all runs) and the cancelled recipients: one
    BatchGetItem per 100 campaigns."""
    stats = repo.stats([c.id for c in campaigns])
    out = []
    for c in campaigns:
        k = c.counts
        cancelled = max(0, k.recipients - k.queued - k.skipped) if c.status == "cancelled" else 0
        counts = k.model_copy(update={**stats.get(c.id, {}), "cancelled": cancelled})
        out.append(c.model_copy(update={"counts": counts}))
    return out


def message_counts(campaign: Campaign) -> Counts:
    return with_outcomes([campaign])[0].counts
