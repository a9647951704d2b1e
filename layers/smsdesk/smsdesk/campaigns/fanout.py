"""The fan-out (the ``fanout`` function, bulk queue, batch of one): a campaign run in three phases
(and the deleted campaign's clean-up, ``purge``).

* ``run`` — a schedule fired: plan the audience afresh, reserve its credits and start the run
  (:func:`service.start_run`); short of credits, the run fails (a one-time campaign: ``failed`` with
  why; a recurring one stays ``scheduled``) and nothing is sent. A stale fire (its ``schedule_version``
  is not the campaign's: the schedule was moved since) is logged and does nothing.
* ``expand`` — resolve the audience in pages (deduplicated), render and price each recipient and write
  one row per number (``pending``, or ``excluded`` with the reason); then one conditional write records
  the counts and carries the first ``send`` job. Only the copy of the job holding the run's lease
  (``expanding``, claimed with one conditional write) writes rows; another finds the run expanded and
  stops, or finds the lease live and comes back when it ends (``busy``).
* ``send`` — one *wave*: at most ``throughput_mps × CAMPAIGN_WAVE_S`` recipients, in number order from
  the job's cursor. Each becomes a message through the normal pipeline in ONE transaction: the
  reservation pays (``reserved_left`` down, never the balance again), the row moves ``pending`` →
  ``queued`` and the message row (id derived from campaign, run and number) carries its outbound job.
  So a redelivered or duplicated wave sends nothing twice (the row's and the message's conditions),
  and one bad number fails alone (its message fails and is refunded in the pipeline; an opt-out since
  planning skips the row). The next wave's job leaves with the write that advances ``pump_seq``, so
  there is only ever one chain (a paused or cancelled campaign's chain stops; resume starts a new one).
  Marketing recipients in quiet hours (their local time; the campaign's, channel's or account's rule, read
  once per wave; public holidays of the number's country) are ``held`` with ``not_before``; the chain
  comes back for them (SQS delays ≤ 15 min, chained). When nothing is pending or held, the run ends:
  what is left of the reservation is refunded in the same write that marks it ``completed`` (or
  ``scheduled`` again for a recurring campaign).

* ``purge`` — a campaign was deleted (``service.delete``: already read as not found): the first job
  deletes its counts (``STATS``: no outcome is counted after that), then each job deletes
  ``CAMPAIGN_PURGE_PAGE`` (1,000) of its items (recipient rows of every run, outcome markers), the next
  job riding on a write of the campaign item (``purge_seq``: one chain), and the campaign item itself last.

Pacing and priority: a wave queues about ``CAMPAIGN_WAVE_S`` seconds of the channel's rate, and its
messages are *bulk* jobs: the sender gives them a send slot only when the channel is free (see
``smsdesk.sending.sender``), so a reply or single send books the next slot and leaves within about one
send interval instead of after the campaign's backlog.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from typing import Any

from smsdesk import channels, ids, lists, manifest, outbox
from smsdesk.campaigns import clock, quiet, quiet_settings, service
from smsdesk.campaigns.model import Campaign
from smsdesk.data import campaigns as repo
from smsdesk.data import credits as credits_repo
from smsdesk.data import messages as messages_repo
from smsdesk.envelopes import FanoutJob, OutboundJob
from smsdesk.errors import NotFound, PaymentRequired
from smsdesk.models import iso
from smsdesk.observability import logger
from smsdesk.runtime import SQSRecord
from smsdesk.sending import messages
from smsdesk.text import PhoneNumber, count_segments

ROWS_PER_WRITE = 100
#: Recipients per transaction: 1 campaign update + 3 items each (row, message, its index entry) stays
#: within DynamoDB's 100 items.
PER_TRANSACTION = 33


def wave_s() -> float:
    return float(os.environ.get("CAMPAIGN_WAVE_S", "2"))


def spread() -> bool:
    """Spread a wave's messages over the wave (default); off, they reach the sender at once (tests of
    the bulk lane: the sender must still put replies first)."""
    return os.environ.get("CAMPAIGN_SPREAD", "1") != "0"


def hold_max_delay_s() -> int:
    return int(os.environ.get("CAMPAIGN_HOLD_MAX_DELAY_S", "900"))


def purge_page_size() -> int:
    return int(os.environ.get("CAMPAIGN_PURGE_PAGE", "1000"))


def handle_fanout(job: FanoutJob, record: SQSRecord) -> None:
    if job.phase == "purge":
        purge(job)
    elif job.phase == "run":
        on_schedule(job)
    elif job.phase == "expand":
        expand(job)
    else:
        send_wave(job)


# -- a schedule fired ------------------------------------------------------------------------------------


def on_schedule(job: FanoutJob) -> str:
    from smsdesk.campaigns import plan  # the run phase plans; send waves do not

    got = service.load(job.campaign_id)
    if got is None:
        return "gone"
    campaign, extra = got
    if extra["schedule_version"] is not None and job.schedule_version != extra["schedule_version"]:
        # a fire of the schedule before an edit moved it (queued already, or late): not this time
        logger.info(
            "stale campaign schedule fire",
            extra={"campaign_id": campaign.id, "fired": job.schedule_version, "current": extra["schedule_version"]},
        )
        return "stale"
    if campaign.status != "scheduled":
        logger.info(
            "campaign schedule fired while not scheduled", extra={"campaign_id": campaign.id, "status": campaign.status}
        )
        return "skipped"
    try:
        channel = channels.get_channel(campaign.channel_id)
        needed = plan.summarise(service.planned_pages(campaign, channel), footer=None).credits
    except NotFound:
        return _run_failed(campaign, extra, "channel_not_found", "the campaign's channel no longer exists")
    if needed == 0:
        return _run_failed(campaign, extra, "no_recipients", "nobody to send to: every recipient is excluded")
    try:
        service.start_run(campaign, extra, needed)
    except PaymentRequired as exc:
        return _run_failed(campaign, extra, "insufficient_credits", exc.message)
    return "started"


def _run_failed(campaign: Campaign, extra: dict[str, Any], code: str, why: str) -> str:
    recurring = campaign.schedule is not None and campaign.schedule.recurring
    new = campaign.model_copy(
        update={"status": "scheduled" if recurring else "failed", "status_reason": f"{code}: {why}"}
    )
    service.refund_left(campaign, extra, new, "failed", reason=code)
    return "failed"


# -- a deleted campaign ------------------------------------------------------------------------------------


def purge(job: FanoutJob) -> str:
    """Delete a page of a deleted campaign's items; chain the next page, or delete the campaign item."""
    it = repo.get(job.campaign_id)
    if it is None:
        return "gone"
    if not it.get("deleted_at") or int(it.get("purge_seq") or 0) != job.seq:
        return "stopped"  # not deleted, or a stale (redelivered) job of the chain
    if job.seq == service.PURGE_FIRST_SEQ:
        # the counts first, once: no outcome is counted (no item written) after this, so the pages miss
        # nothing (a redelivered first job deletes nothing more)
        repo.delete_stats(job.campaign_id)
    deleted, more = repo.purge_page(job.campaign_id, limit=purge_page_size())
    logger.info("campaign purge", extra={"campaign_id": job.campaign_id, "deleted": deleted, "more": more})
    if not more:
        repo.delete_purged(job.campaign_id)
        return "purged"
    seq = (job.seq or 0) + 1
    nxt = FanoutJob(campaign_id=job.campaign_id, phase="purge", seq=seq)
    repo.run_update(
        repo.update(
            job.campaign_id,
            "SET purge_seq = :seq",
            "purge_seq = :prev AND attribute_exists(deleted_at)",
            {":seq": seq, ":prev": job.seq},
            ob=outbox.change(jobs=[outbox.job(manifest.BULK_QUEUE, nxt.model_dump_json(exclude_none=True))]),
        )
    )
    return "next"


# -- expand ----------------------------------------------------------------------------------------------


def expand_lease_s() -> int:
    """How long a copy of the expand job holds its run's expansion: the function's timeout (no copy
    outlives it) and a margin for the clocks of two hosts."""
    return manifest.FANOUT.timeout_s + 10


#: The claim's condition: the run is current, not expanded, running or paused, and no other copy holds
#: an unexpired lease on it (a lease of another run does not count).
_CLAIMABLE = (
    "#r = :run AND (attribute_not_exists(expanded_run) OR expanded_run < :run) AND #s IN (:running, :paused)"
    " AND (attribute_not_exists(expanding) OR expanding.#r <> :run OR expanding.#u <= :now)"
)


def _expandable(campaign: Campaign, extra: dict[str, Any], job: FanoutJob) -> bool:
    return (
        campaign.run == job.run and extra["expanded_run"] < (job.run or 0) and campaign.status in ("running", "paused")
    )


def _claim(job: FanoutJob, got: tuple[Campaign, dict[str, Any]], me: str) -> str:
    """Claim the run's expansion for this copy (``claimed``): ONE conditional update of the campaign
    item sets ``expanding = {run, by, until}``. Another copy holding an unexpired lease: ``busy``, and
    this job comes back when that lease ends (queued again, delayed, with a write that holds only while
    the lease does); by then that copy has expanded the run (this one is ``skipped``) or died (its lease
    expired: no wave ran, the run being unexpanded, so this one writes the rows again safely)."""
    for _ in range(5):
        campaign, extra = got
        if not _expandable(campaign, extra, job):
            return "skipped"
        now = int(clock.now().timestamp())
        lease = extra.get("expanding") or {}
        if lease.get("run") == campaign.run and int(lease.get("until") or 0) > now:
            delay = min(900, int(lease["until"]) - now + 1)
            again = outbox.job(manifest.BULK_QUEUE, job.model_dump_json(exclude_none=True), delay_s=delay)
            if repo.run_update(
                repo.update(
                    campaign.id,
                    "SET expanding.#w = :me",  # who waits (the write is for its job, ``ob``)
                    "expanding.#r = :run AND expanding.#b = :by AND expanding.#u > :now",
                    {":me": me, ":run": campaign.run, ":by": lease.get("by"), ":now": now},
                    {"#r": "run", "#b": "by", "#u": "until", "#w": "waiting"},
                    ob=outbox.change(jobs=[again]),
                )
            ):
                logger.info(
                    "campaign expand busy",
                    extra={"campaign_id": campaign.id, "run": campaign.run, "holder": lease.get("by"), "delay": delay},
                )
                return "busy"
        elif repo.run_update(
            repo.update(
                campaign.id,
                "SET expanding = :lease",
                _CLAIMABLE,
                {
                    ":lease": {"run": campaign.run, "by": me, "until": now + expand_lease_s()},
                    ":run": campaign.run,
                    ":now": now,
                    ":running": "running",
                    ":paused": "paused",
                },
                {"#r": "run", "#s": "status", "#u": "until"},
            )
        ):
            return "claimed"
        again_got = service.load(job.campaign_id)  # changed meanwhile: decide again on what is there now
        if again_got is None:
            return "gone"
        got = again_got
    raise RuntimeError(f"campaign {job.campaign_id} kept changing; the expand is retried")


def expand(job: FanoutJob) -> str:
    """Write the run's recipient rows, then record the run as expanded with the first wave's job. Only
    the copy of the job holding the run's lease (:func:`_claim`) writes rows, so a late copy never sets
    back a row a wave has moved (queued, skipped or held) to ``pending``."""
    got = service.load(job.campaign_id)
    if got is None:
        return "gone"
    campaign, extra = got
    if not _expandable(campaign, extra, job):
        return "skipped"
    channel = channels.get_channel(campaign.channel_id)
    me = ids.new_id()
    claimed = _claim(job, got, me)
    if claimed != "claimed":
        return claimed
    run = campaign.run
    n = x = 0
    rows: list[dict[str, Any]] = []
    for planned, excluded in service.planned_pages(campaign, channel):
        for p in planned:
            rows.append(
                {
                    "run": run,
                    "number": p.number,
                    "contact_id": p.contact_id,
                    "status": "pending",
                    "text": p.text,
                    "segments": p.segments,
                    "credits": p.credits,
                    "country": p.country,
                    "time_zone": p.time_zone,
                }
            )
        for e in excluded:
            key = e.number or f"contact:{e.contact_id}"
            rows.append(
                {
                    "run": run,
                    "number": key,
                    "contact_id": e.contact_id,
                    "status": "excluded",
                    "reason": e.reason,
                    "text": "",
                    "segments": 0,
                    "credits": 0,
                }
            )
        n += len(planned)
        x += len(excluded)
        if len(rows) >= ROWS_PER_WRITE:
            repo.put_rows(campaign.id, rows)
            rows = []
    if rows:
        repo.put_rows(campaign.id, rows)
    repo.ensure_stats(campaign.id)  # the outcomes' counts (results.py: they only add to an existing item)
    ok = _expanded(campaign, extra, me, n, x)
    logger.info("campaign expanded", extra={"campaign_id": campaign.id, "run": run, "recipients": n, "excluded": x})
    return "expanded" if ok else "skipped"


def _expanded(campaign: Campaign, extra: dict[str, Any], me: str, n: int, x: int) -> bool:
    """Record the run as expanded (ending this copy's lease) with the chain's first job, on the current
    ``pump_seq``: a pause and resume meanwhile advanced it, and its job stopped (the run was not expanded
    yet), so this one is the chain's. False if the run is not this copy's to record."""
    run = campaign.run
    for _ in range(10):
        seq = extra["pump_seq"] + 1
        first = FanoutJob(campaign_id=campaign.id, phase="send", run=run, seq=seq)
        if repo.run_update(
            repo.update(
                campaign.id,
                "SET expanded_run = :run, counts.recipients = :n, counts.excluded = :x, pump_seq = :seq",
                "#r = :run AND (attribute_not_exists(expanded_run) OR expanded_run < :run) AND #s IN (:running, :paused)"
                " AND expanding.#b = :me AND (attribute_not_exists(pump_seq) OR pump_seq = :was)",
                {
                    ":run": run,
                    ":n": n,
                    ":x": x,
                    ":seq": seq,
                    ":was": extra["pump_seq"],
                    ":running": "running",
                    ":paused": "paused",
                    ":me": me,
                },
                {"#r": "run", "#s": "status", "#b": "by"},
                ob=outbox.change(jobs=[outbox.job(manifest.BULK_QUEUE, first.model_dump_json(exclude_none=True))]),
                remove=("expanding",),  # the lease ends with the run expanded
            )
        ):
            return True
        got = service.load(campaign.id)
        if got is None or got[0].run != run or (got[1].get("expanding") or {}).get("by") != me:
            return False
        if got[1]["expanded_run"] >= run or got[0].status not in ("running", "paused"):
            return False
        extra = got[1]  # the chain moved on (a resume): on its current seq
    raise RuntimeError(f"campaign {campaign.id} kept changing; the expand is retried")


# -- one wave ----------------------------------------------------------------------------------------------


def send_wave(job: FanoutJob) -> str:
    got = service.load(job.campaign_id)
    if got is None:
        return "gone"
    campaign, extra = got
    if campaign.status != "running" or campaign.run != job.run or job.seq != extra["pump_seq"]:
        return "stopped"
    if extra["expanded_run"] < campaign.run:
        # resumed while the run is expanded: its rows are not all written; the expand's last write
        # carries the chain's first job
        return "stopped"
    try:
        channel = channels.get_channel(campaign.channel_id)
    except NotFound:
        channel = None
    mps = channel.throughput_mps if channel else 10
    budget = max(1, math.ceil(mps * wave_s()))
    if job.inflight and _mostly_unsent(job.inflight):
        # the sender is behind (a slower provider, replies first): add nothing until it catches up
        return _next(campaign, job, cursor=job.cursor, delay=1, inflight=job.inflight)
    now = clock.now()
    # the campaign's own quiet hours, else its channel's, else the account's: one read per wave
    rule = quiet_settings.for_campaign(campaign) if campaign.kind == "marketing" else None
    due: list[dict[str, Any]] = []
    earliest: dt.datetime | None = None
    more = False
    for row in repo.rows(campaign.id, campaign.run, statuses=("pending", "held"), after=job.cursor):
        if rule is not None:
            zone = quiet.zone_for(row.get("time_zone"), row["number"])
            at = quiet.next_allowed(now, zone, rule, country=row.get("country"))
            if at > now:
                if row["status"] != "held" or row.get("not_before") != iso(at):
                    _hold(campaign, row, at)
                earliest = at if earliest is None else min(earliest, at)
                continue
        if len(due) >= budget:
            more = True
            break
        due.append(row)
    stopped = False
    queued_ids: list[str] = []
    if due and channel is not None:
        refusals = lists.outbound_refusals(channel.id, [r["number"] for r in due])
        ok_rows = []
        for row in due:
            refusal = refusals.get(row["number"])
            if refusal:
                _skip(campaign, row, refusal[0])
            else:
                ok_rows.append(row)
        for start in range(0, len(ok_rows), PER_TRANSACTION):
            chunk = ok_rows[start : start + PER_TRANSACTION]
            if _queue_many(campaign, channel, chunk, first=start, mps=mps) == "stopped":
                stopped = True
                break
            queued_ids.extend(_message_id(campaign, r) for r in chunk)
    elif due:  # the channel is gone: nothing can be sent
        for row in due:
            _skip(campaign, row, "channel_not_found")
    if stopped:
        return "stopped"
    if more:
        return _next(campaign, job, cursor=due[-1]["SK"], delay=math.ceil(wave_s()), inflight=queued_ids)
    if job.cursor is not None:
        # the end of the rows: one pass from the start before finishing (a row a conflict left pending)
        return _next(campaign, job, cursor=None, delay=0)
    if earliest is not None:
        # rows held for quiet hours: come back when the first may go
        delay = max(1, min(hold_max_delay_s(), math.ceil((earliest - clock.now()).total_seconds())))
        return _next(campaign, job, cursor=None, delay=delay)
    # no row was due: this pass wrote nothing to the campaign, so the first read is still valid
    return _finish(job, service.load(campaign.id) if due else got)


def _mostly_unsent(message_ids: list[str]) -> bool:
    from smsdesk.data import table

    got = table.batch_get([(f"MSG#{m}", "META") for m in message_ids])
    unsent = sum(1 for m in got if m.get("status") == "queued")
    return unsent * 2 > len(message_ids)


def _next(
    campaign: Campaign, job: FanoutJob, *, cursor: str | None, delay: int, inflight: list[str] | None = None
) -> str:
    seq = (job.seq or 0) + 1
    nxt = FanoutJob(
        campaign_id=campaign.id, phase="send", run=campaign.run, seq=seq, cursor=cursor, inflight=inflight or None
    )
    ok = repo.run_update(
        repo.update(
            campaign.id,
            "SET pump_seq = :seq",
            "pump_seq = :was AND #s = :running",
            {":seq": seq, ":was": job.seq or 0, ":running": "running"},
            {"#s": "status"},
            ob=outbox.change(
                jobs=[outbox.job(manifest.BULK_QUEUE, nxt.model_dump_json(exclude_none=True), delay_s=min(900, delay))]
            ),
        )
    )
    return "next" if ok else "stopped"


def _finish(job: FanoutJob, got: tuple[Campaign, dict[str, Any]] | None) -> str:
    """End the run (nothing pending or held): ``completed`` (or ``scheduled`` again) with the rest of the
    reservation refunded. ``got``: the campaign as last read; read again after a failed (stale) write."""
    campaign_id = job.campaign_id
    for attempt in range(20):
        if attempt:
            time.sleep(0.01)
            got = service.load(campaign_id)
        if got is None:
            return "gone"
        campaign, extra = got
        if campaign.status != "running" or extra["pump_seq"] != job.seq or campaign.run != job.run:
            return "stopped"
        if campaign.counts.held > 0:
            return _next(campaign, job, cursor=None, delay=1)  # a held row not queued yet: come back for it
        recurring = campaign.schedule is not None and campaign.schedule.recurring
        from smsdesk.models import utcnow

        new = campaign.model_copy(update={"status": "scheduled" if recurring else "completed", "finished_at": utcnow()})
        if service.refund_left(campaign, extra, new, "completed"):
            logger.info("campaign run completed", extra={"campaign_id": campaign_id, "run": campaign.run})
            return "completed"
    raise RuntimeError(f"campaign {campaign_id} kept changing; the wave is retried")


# -- one recipient ---------------------------------------------------------------------------------------


def _row_key(row: dict[str, Any]) -> str:
    return row["SK"]


def _transact(items: list[dict[str, Any]]) -> list[str] | None:
    """None if committed, else the cancellation reasons (conflicts retried)."""
    for attempt in range(8):
        try:
            credits_repo.transact(items)
            return None
        except credits_repo.TransactionCanceled as exc:
            reasons = exc.reasons or []
            if "ConditionalCheckFailed" in reasons or attempt == 7:
                return reasons
            time.sleep(0.005 * (attempt + 1))
    return ["TransactionConflict"]


def _message_id(campaign: Campaign, row: dict[str, Any]) -> str:
    return ids.stable_id("campaign", campaign.id, str(campaign.run), row["number"])


def _message(campaign: Campaign, channel: Any, row: dict[str, Any]) -> Any:
    number = PhoneNumber(row["number"], row.get("country") or "")
    message_id = _message_id(campaign, row)
    return messages.queued_message(
        channel,
        number,
        row["text"],
        count_segments(row["text"]),
        created_by=campaign.created_by,
        conversation_id=None,
        message_id=message_id,
        detail=f"campaign {campaign.id}",
    ).model_copy(update={"campaign_id": campaign.id})


def _items(
    campaign: Campaign, rows: list[dict[str, Any]], msgs: list[Any], *, first: int = 0, mps: float = 0
) -> list[dict[str, Any]]:
    """One transaction for these recipients: the reservation pays for all (one campaign update), each
    row moves to ``queued`` and each message is recorded with its (bulk) outbound job; its INSERT
    announces its index entry, which the outbox writes (``data.messages.index_entry_item``)."""
    total = sum(m.credits for m in msgs)
    held = sum(1 for r in rows if r["status"] == "held")
    items = [
        repo.update(
            campaign.id,
            "SET reserved_left = reserved_left - :c, counts.queued = counts.queued + :n, "
            "counts.credits = counts.credits + :c, counts.held = counts.held - :h",
            "#s = :running AND #r = :run AND reserved_left >= :c",
            {":c": total, ":n": len(msgs), ":h": held, ":running": "running", ":run": campaign.run},
            {"#s": "status", "#r": "run"},
        )
    ]
    for n, (row, msg) in enumerate(zip(rows, msgs, strict=True)):
        # spread over the wave: the i-th message of a wave reaches the sender about i/mps seconds in
        delay = int((first + n) / mps) if mps and spread() else 0
        job = OutboundJob(message_id=msg.id, channel_id=msg.channel_id, created_at=msg.created_at, bulk=True)
        items.append(
            repo.row_update(
                campaign.id,
                _row_key(row),
                "SET #st = :q, message_id = :m",
                "#st = :was",
                {":q": "queued", ":m": msg.id, ":was": row["status"]},
            )
        )
        # the row without index keys; its immutable index entry is written by the outbox from the row's
        # INSERT (not in this transaction, which bills each item twice): the row's status writes (sending,
        # sent, delivered) then rewrite no GSI (docs/architecture.md "Cost per recipient")
        items.extend(
            messages_repo.new_items(
                msg,
                ob=outbox.change(
                    [outbox.status_event("queued", conversation=bool(msg.conversation_id))],
                    [outbox.job(manifest.OUTBOUND_QUEUE, job.model_dump_json(exclude_none=True), delay_s=delay)],
                ),
                entry="index",
            )
        )
    return items


def _queue_many(campaign: Campaign, channel: Any, rows: list[dict[str, Any]], *, first: int, mps: float) -> str:
    """Queue ``rows`` in one transaction; if any condition fails, one by one (:func:`_queue`)."""
    msgs = [_message(campaign, channel, r) for r in rows]
    if len(rows) > 1 and _transact(_items(campaign, rows, msgs, first=first, mps=mps)) is None:
        return "queued"
    for row, msg in zip(rows, msgs, strict=True):
        if _queue(campaign, row, msg) == "stopped":
            return "stopped"
    return "queued"


def _queue(campaign: Campaign, row: dict[str, Any], msg: Any) -> str:
    was = row["status"]
    reasons = _transact(_items(campaign, [row], [msg]))
    if reasons is None:
        return "queued"
    if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
        # The message is recorded but the row is not queued: a wave queued it (row, message and counts in
        # one transaction), then something wrote the row again as pending (a late duplicate of the expand
        # job did, before the expand lease), and a wave may have held it since. Point the row at the message;
        # it was counted and charged then, so only a hold is undone (else the chain waits for it forever).
        row_item = repo.row_update(
            campaign.id,
            _row_key(row),
            "SET #st = :q, message_id = :m",
            "#st = :was",
            {":q": "queued", ":m": msg.id, ":was": was},
        )
        if was != "held":
            repo.run_update(row_item)
            return "exists"
        held = repo.update(
            campaign.id,
            "SET counts.held = counts.held - :one",
            "#r = :run",
            {":one": 1, ":run": campaign.run},
            {"#r": "run"},
        )
        _transact([held, row_item])
        return "exists"
    if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
        return "done"  # another delivery of this wave got it
    got = service.load(campaign.id)
    if got is None or got[0].status != "running" or got[0].run != campaign.run:
        return "stopped"
    if got[0].reserved_left < msg.credits:
        return _skip(campaign, row, "reservation_exhausted")
    return "retry_later"


def _skip(campaign: Campaign, row: dict[str, Any], reason: str) -> str:
    was = row["status"]
    held = ", counts.held = counts.held - :one" if was == "held" else ""
    items = [
        repo.update(
            campaign.id,
            f"SET counts.skipped = counts.skipped + :one{held}",
            "#r = :run",
            {":one": 1, ":run": campaign.run},
            {"#r": "run"},
        ),
        repo.row_update(
            campaign.id,
            _row_key(row),
            "SET #st = :x, reason = :why",
            "#st = :was",
            {":x": "excluded", ":why": reason, ":was": was},
        ),
    ]
    _transact(items)
    return "skipped"


def _hold(campaign: Campaign, row: dict[str, Any], at: dt.datetime) -> None:
    was = row["status"]
    row_item = repo.row_update(
        campaign.id,
        _row_key(row),
        "SET #st = :h, not_before = :at",
        "#st = :was",
        {":h": "held", ":at": iso(at), ":was": was},
    )
    if was == "held":
        repo.run_update(row_item)
        return
    _transact(
        [
            repo.update(
                campaign.id,
                "SET counts.held = counts.held + :one",
                "#r = :run",
                {":one": 1, ":run": campaign.run},
                {"#r": "run"},
            ),
            row_item,
        ]
    )
