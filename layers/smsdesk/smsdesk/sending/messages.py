"""Messages: sending (checks, charge + record + outbound job in one transaction), status changes from the pipeline, the sent overview.

The pipeline (``smsdesk.sending.sender``, ``smsdesk.sending.receipts``) changes a message only through
:func:`claim`, :func:`mark_sent`, :func:`fail` and :func:`apply_receipt`. The common steps are ONE
conditional write each, whose condition carries the statuses it may move from (no read first): the
claim of a send attempt, ``sent``, a receipt that moves the whole message forward. When the condition
fails, DynamoDB returns the item, and the pure rules in :mod:`smsdesk.sending.status` decide from it; a write
they want is conditioned on the item's ``version`` and retried on a conflict. So concurrent receipts
can never regress a status, and a refund is written in the same transaction as the ``refunded`` flag,
so it happens exactly once.
Every status change is announced as ``message.<status>`` (docs/events.md) by the write that makes it,
through the outbox (``smsdesk.outbox``): the event exists exactly when the change does. The one
exception is the claim's ``queued → sending``: the sender's internal at-most-once bookkeeping, which
announces nothing (it stays in the message's history).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from smsdesk import aws, channels, config, credits, ids, manifest, outbox
from smsdesk.auth import Caller
from smsdesk.data import credits as credits_repo
from smsdesk.data import messages as repo
from smsdesk.data.table import decode_position, encode_position
from smsdesk.envelopes import OutboundJob
from smsdesk.errors import AppError, Conflict, NotFound, PaymentRequired, ValidationError
from smsdesk.models import STATUS_RANK, Channel, Message, MessageError, Receipt, SendRequest, StatusChange, iso, utcnow
from smsdesk.observability import logger
from smsdesk.sending import status
from smsdesk.text import PhoneNumber, SegmentCount, check_length, credits_for, parse_number, smart_encode

_MAX_ATTEMPTS = 25


def __getattr__(name: str) -> Any:
    """``access`` and ``lists`` (the send side's checks) are imported by the functions that check, so
    the sender and receipts functions, which only change statuses, do not load them at a cold start."""
    if name in ("access", "lists"):
        import importlib

        return importlib.import_module(f"smsdesk.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"


class ChannelDisabled(Conflict):
    code = "channel_disabled"


class IdempotencyKeyReused(ValidationError):
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def get(message_id: str) -> Message | None:
    item = repo.get(message_id)
    return repo.split(item)[0] if item else None


def get_for(caller: Caller, message_id: str) -> Message:
    """The message if ``caller`` may use its channel; 404 otherwise (existence is not revealed)."""
    from smsdesk import access

    msg = get(message_id)
    if msg is not None:
        usable = access.usable_channel_ids(caller)
        if usable is None or msg.channel_id in usable:
            return msg
    raise NotFound(f"message {message_id} not found", field="message_id")


# --------------------------------------------------------------------------------------------------
# Status changes (optimistic, version-conditioned)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Write:
    """What a step wants written: the new message, its bookkeeping and extra transaction items."""

    message: Message
    entered: str | None = None
    receipt_ids: list[str] | None = None
    part_status: dict[str, str] | None = None
    extra_items: list[dict[str, Any]] = field(default_factory=list)
    refund: bool = False


def _cas(
    message_id: str,
    step: Callable[[Message, dict[str, Any]], _Write | None],
    *,
    first: dict[str, Any] | None = None,
) -> Message | None:
    """Read → ``step`` → conditional write, retried on a version conflict. Returns the written message
    (or the current one if ``step`` wanted no write); None if the message does not exist. ``first``: the
    item as already known (e.g. returned by a failed conditional write), used instead of the first read.
    A status entered is announced by the write itself (``message.<status>`` in its outbox)."""
    for attempt in range(_MAX_ATTEMPTS):
        item = first if attempt == 0 and first is not None else repo.get(message_id)
        if item is None:
            return None
        msg, extra = repo.split(item)
        write = step(msg, extra)
        if write is None:
            return msg
        items = [
            repo.replace(
                write.message,
                version=extra["version"],
                receipt_ids=write.receipt_ids if write.receipt_ids is not None else extra["receipt_ids"],
                part_status=write.part_status if write.part_status is not None else extra["part_status"],
                refund=write.refund,
                claim=extra["claim"],
                ob=outbox.change(
                    [outbox.status_event(write.entered, conversation=bool(write.message.conversation_id))]
                    if write.entered
                    else []
                ),
                row_index=extra["row_index"],
            ),
            *write.extra_items,
        ]
        try:
            credits_repo.transact(items)
        except credits_repo.TransactionCanceled:
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
            continue
        return write.message
    raise RuntimeError(f"message {message_id}: too many concurrent updates")


class ClaimInProgress(Conflict):
    """Another invocation holds a live claim on this very attempt (SQS delivered its job twice): retry
    later; if that invocation died, its lease expires and the retry sends."""

    code = "claim_in_progress"


@dataclass
class Claim:
    message: Message
    #: The claim moved the message ``queued`` → ``sending`` (internal: announced by no event).
    entered: bool


def claim(message_id: str, *, attempt: int, lease_s: int) -> Claim | None:
    """Claim send attempt ``attempt`` of the message: the message row is its own idempotency record.

    One conditional write in the common case (``queued`` → ``sending`` for the first attempt; a later
    attempt takes over an earlier attempt's claim). None: skip the job (the message is gone, ``sent`` or
    final, or this attempt already ran or was superseded). Raises :class:`ClaimInProgress` while another
    invocation's lease on this attempt is live. A claim whose invocation died expires after ``lease_s``.
    """
    now = utcnow()
    old: dict[str, Any] | None = None
    for from_queued in (attempt == 0, attempt != 0):
        try:
            item = repo.claim(message_id, attempt=attempt, now=now, lease_s=lease_s, from_queued=from_queued)
            return Claim(repo.split(item)[0], entered=from_queued)
        except repo.ConditionFailed as exc:
            old = exc.item
        if old is None or old.get("status") != ("sending" if from_queued else "queued"):
            break  # the other variant cannot apply either
    if old is not None and old.get("status") == "sending" and int(old.get("send_attempt", -1)) == attempt:
        lease = int(old.get("send_lease", 0))
        if lease != repo.LEASE_DONE and lease >= int(now.timestamp()):
            raise ClaimInProgress(f"message {message_id}: attempt {attempt} is being sent by another invocation")
    return None


def release(message_id: str, *, attempt: int, then: OutboundJob | None = None, delay_s: int = 0) -> bool:
    """Attempt ``attempt`` ended without sending (transient error). ``then``: the next attempt's job,
    queued (after ``delay_s``) by the outbox with this very write. False if the claim had moved on."""
    job = (
        outbox.job(manifest.OUTBOUND_QUEUE, then.model_dump_json(exclude_none=True), delay_s=delay_s) if then else None
    )
    return repo.release(message_id, attempt=attempt, then=job)


def mark_sent(
    message_id: str,
    *,
    provider_id: str,
    parts: int | None,
    attempt: int | None = None,
) -> None:
    """The provider accepted the message: store its id and move it to ``sent``. One conditional write
    for the attempt that holds the claim; otherwise (a receipt overtook us, or the claim moved on) the
    rules decide from the item that write returned: the provider id is stored, the status never
    regresses."""
    now = utcnow()
    first: dict[str, Any] | None = None
    if attempt is not None:
        try:
            repo.mark_sent(message_id, attempt=attempt, provider_id=provider_id, parts=parts, now=now)
        except repo.ConditionFailed as exc:
            if exc.item is None:
                logger.warning("mark_sent: message not found", extra={"message_id": message_id})
                return
            first = exc.item
        else:
            return

    def step(msg: Message, _extra: dict[str, Any]) -> _Write | None:
        updates: dict[str, Any] = {}
        if msg.provider_id is None:
            updates["provider_id"] = provider_id
        if parts and parts > (msg.parts_total or 0):
            updates["parts_total"] = parts
        base = msg.model_copy(update=updates)
        moved = status.advance(base, "sent", now)
        if moved is None and not updates:
            return None
        return _Write(moved or base, entered="sent" if moved else None)

    if _cas(message_id, step, first=first) is None:
        logger.warning("mark_sent: message not found", extra={"message_id": message_id})


def fail(
    message_id: str,
    *,
    code: str,
    message: str,
    unless_sent: bool = False,
) -> bool:
    """→ ``failed`` with the error, refunding its credits exactly once (the provider never accepted
    it: permanent error, ``expired``, retries exhausted, ``enqueue_failed``). No-op if final (or, with
    ``unless_sent``, already ``sent``: the provider has it). True if the message failed now."""
    done: list[bool] = []

    def step(msg: Message, _extra: dict[str, Any]) -> _Write | None:
        done.clear()
        if unless_sent and msg.status == "sent":
            return None
        moved = status.advance(msg, "failed", utcnow(), code)
        if moved is None:
            return None
        moved = moved.model_copy(update={"error": MessageError(code=code, message=message)})
        done.append(True)
        if msg.refunded or msg.credits <= 0:
            return _Write(moved, entered="failed")
        moved = moved.model_copy(update={"refunded": True})
        items = credits.refund_items(msg, reason=code)  # its ledger entry announces credits.refunded
        return _Write(moved, entered="failed", extra_items=items, refund=True)

    return _cas(message_id, step) is not None and bool(done)


def apply_receipt(receipt: Receipt) -> None:
    """Apply a delivery receipt (monotonic; duplicates no-op; multi-part combined).

    A receipt that names its message (every message smsdesk sends tells the provider its id: the
    status-callback URL, the sandbox's signed body, AWS's ``Context``) is one conditional write when it
    is about the whole message and moves it forward; the rules decide everything else from the item
    that write returns. Receipts without a message id (messages sent before ids travelled with them)
    are found through the ``PROVIDER#`` mapping; one whose mapping is missing is kept as an early receipt.
    """
    if receipt.message_id:
        first: dict[str, Any] | None = None
        if _whole(receipt):
            try:
                _write_whole(receipt)
            except repo.ConditionFailed as exc:
                if exc.item is None:
                    logger.warning("receipt for a missing message", extra={"message_id": receipt.message_id})
                    return
                first = exc.item
            else:
                return
        _apply_to(receipt.message_id, receipt, first=first)
        return
    message_id = repo.message_id_for(receipt.provider, receipt.provider_id)
    if message_id is None:
        repo.put_early_receipt(receipt)
        # A message sent before receipts carried its id, whose mapping is not written yet: look again
        # after storing, so a race with the mapping's write cannot strand it (applying twice is a no-op).
        message_id = repo.message_id_for(receipt.provider, receipt.provider_id)
        if message_id is None:
            return
        _apply_to(message_id, receipt)
        repo.delete_early_receipt(receipt)
        return
    _apply_to(message_id, receipt)


def apply_receipt_at_once(receipt: Receipt) -> bool:
    """The status webhook's share of :func:`apply_receipt`: a *final* receipt (``delivered``,
    ``undelivered``, ``failed``: none of them refunds, the provider took the message) about a whole
    message that it names, applied with the same one conditional write. True when nothing is left to
    do: written, or the rules find it changes nothing in the item the failed write returned (a
    duplicate, a message already final). False: the caller queues it for the receipts function (which
    retries and dead-letters): another kind of receipt, a missing message, or a write the rules still
    want (multi-part bookkeeping, a version race). Errors other than the condition (throttling, ...)
    propagate: the caller queues then too (applying twice is a no-op)."""
    if not receipt.message_id or not status.is_final(receipt.status) or not _whole(receipt):
        return False
    try:
        _write_whole(receipt)
    except repo.ConditionFailed as exc:
        if exc.item is None:
            return False
        msg, extra = repo.split(exc.item)
        return _receipt_step(receipt, msg, extra) is None
    return True


def _whole(receipt: Receipt) -> bool:
    """About the whole (single-part) message and a step forward from some status: one write can do it."""
    return (receipt.parts or 0) <= 1 and STATUS_RANK[receipt.status] > 0


def _write_whole(receipt: Receipt) -> None:
    assert receipt.message_id
    lower = [s for s in ("queued", "sending", "sent") if STATUS_RANK[s] < STATUS_RANK[receipt.status]]
    if not outbox.depends_on_conversation(receipt.status):
        repo.apply_whole_receipt(receipt.message_id, receipt, lower=lower, max_seen=status.MAX_SEEN)
        return
    # MESSAGE_EVENTS=conversations: the final status is announced only for a message in a conversation,
    # which the receipt does not tell. Most are in none (API sends, campaigns): one write, announcing
    # nothing, on that condition; a conversation's message (the failed write returns it) is written
    # again, announcing its status.
    try:
        repo.apply_whole_receipt(receipt.message_id, receipt, lower=lower, max_seen=status.MAX_SEEN, conversation=False)
        return
    except repo.ConditionFailed as exc:
        if exc.item is None or not exc.item.get("conversation_id"):
            raise
    repo.apply_whole_receipt(receipt.message_id, receipt, lower=lower, max_seen=status.MAX_SEEN, conversation=True)


def _receipt_step(receipt: Receipt, msg: Message, extra: dict[str, Any]) -> _Write | None:
    """What the rules write for ``receipt`` on the message as stored (None: nothing)."""
    if msg.provider != receipt.provider or (msg.provider_id and msg.provider_id != receipt.provider_id):
        logger.warning(
            "receipt for another provider message ignored",
            extra={"message_id": msg.id, "provider_id": receipt.provider_id},
        )
        return None
    state = status.ReceiptState(
        seen=tuple(extra["receipt_ids"]), parts={int(k): v for k, v in extra["part_status"].items()}
    )
    out = status.apply_receipt(msg, state, receipt)
    if out is None:
        return None
    written = out.message
    if written.provider_id is None:  # the receipt overtook mark_sent: it knows the provider's id
        written = written.model_copy(update={"provider_id": receipt.provider_id})
    return _Write(
        written,
        entered=out.entered,
        receipt_ids=list(out.state.seen),
        part_status={str(k): v for k, v in out.state.parts.items()},
    )


def _apply_to(message_id: str, receipt: Receipt, *, first: dict[str, Any] | None = None) -> None:
    if _cas(message_id, lambda msg, extra: _receipt_step(receipt, msg, extra), first=first) is None:
        logger.warning("receipt for a missing message", extra={"message_id": message_id})


def status_event(msg: Message, entered: str, previous: str | None) -> dict[str, Any]:
    """The ``detail`` of a ``message.<status>`` event (docs/events.md)."""
    return outbox.message_detail(msg, entered, previous)


# --------------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------------


def build(
    caller: Caller | None,
    channel: Channel,
    req: SendRequest,
    *,
    conversation_id: str | None = None,
    list_entries: list[dict[str, Any]] | None = None,
) -> Message:
    """Checks after access (enabled, number, lists, length) and the message to record; raises the
    failing check's own error. No writes. ``conversation_id`` files the message in that conversation.
    ``list_entries``: the recipient's list entries as already read (:func:`_send`), else read here."""
    from smsdesk import lists

    if not channel.enabled:
        raise ChannelDisabled(f"channel {channel.id} is disabled", field="channel_id")
    number = parse_number(req.to, channel.default_region or config.default_country(), field="to")
    lists.check_outbound(channel.id, number.e164, entries=list_entries)
    text = smart_encode(req.text, only_if_gsm=True).text if channel.smart_encoding else req.text
    count = check_length(text, channel.max_segments, field="text")
    return queued_message(
        channel, number, text, count, created_by=caller.user_id if caller else None, conversation_id=conversation_id
    )


def queued_message(
    channel: Channel,
    number: PhoneNumber,
    text: str,
    count: SegmentCount,
    *,
    created_by: str | None,
    conversation_id: str | None,
    message_id: str | None = None,
    detail: str | None = None,
) -> Message:
    """A new outbound message as checked (number parsed, text counted), priced for its country."""
    now = utcnow()
    return Message(
        id=message_id or ids.new_id(),
        channel_id=channel.id,
        to=number.e164,
        sender=channel.sender,
        country=number.region,
        text=text,
        encoding=count.encoding,
        segments=count.segments,
        credits=credits_for(count.segments, number.region, channel.country_multipliers),
        status="queued",
        history=[StatusChange(status="queued", at=now, detail=detail)],
        created_by=created_by,
        created_at=now,
        provider=channel.provider,
        conversation_id=conversation_id,
    )


def record(message: Message) -> Literal["recorded", "exists"]:
    """Charge and record in ONE transaction: balance ``>= cost`` condition, message put (whose INSERT
    announces the charge's ledger entry: the outbox writes it, ``credits.charge_entry``).
    402 ``insufficient_credits`` (with balance and cost) and nothing written if the balance is short;
    ``exists`` (nothing written) if a message with this id is recorded already."""
    outcome = _charge_and_record(message)
    if outcome == "insufficient_credits":
        bal = credits.balance()
        raise PaymentRequired(
            f"this message costs {message.credits} credit{'s' if message.credits != 1 else ''}; the balance is {bal}",
            details={"balance": bal, "cost": message.credits},
        )
    return outcome


def _charge_and_record(message: Message) -> Literal["recorded", "exists", "insufficient_credits"]:
    """The one charge-and-record transaction (retried on transaction conflicts): ``recorded``,
    ``exists`` (the message id is taken) or ``insufficient_credits`` (nothing written)."""
    if message.segments < 1 or message.credits < message.segments:  # pricing guarantees it: never send for free
        raise ValueError(f"message {message.id}: {message.credits} credits for {message.segments} segments")
    # The message row carries its outbound job (and announces message.queued if MESSAGE_EVENTS=all):
    # both leave through the outbox once this transaction commits, so a charged and recorded message
    # is always queued.
    ob = outbox.change(
        [outbox.status_event("queued", conversation=bool(message.conversation_id))], [outbound_job(message)]
    )
    # Two items: the balance debit and the row. The row also announces its charge's ledger entry, which
    # the outbox writes from its INSERT (credits.charge_entry: immutable, derived from the row; it also
    # indexes the message, so the row, whose status changes, is in no GSI and a status change writes
    # one unit, not three).
    items = [*credits.charge_items(message), *repo.new_items(message, ob=ob, entry="charge")]
    for attempt in range(5):
        try:
            credits_repo.transact(items)
            return "recorded"
        except credits_repo.TransactionCanceled as exc:
            reasons = exc.reasons or []
            if len(reasons) == len(items) and reasons[-1] == "ConditionalCheckFailed":
                return "exists"
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return "insufficient_credits"
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # TransactionConflict: try again
    raise ServiceUnavailable("could not record the message, please retry")


def outbound_job(message: Message) -> outbox.Job:
    """The sender's job for the first attempt of ``message`` (it carries what the sender needs first)."""
    body = OutboundJob(message_id=message.id, channel_id=message.channel_id, created_at=message.created_at)
    return outbox.job(manifest.OUTBOUND_QUEUE, body.model_dump_json(exclude_none=True))


def send(
    caller: Caller,
    req: SendRequest,
    *,
    idempotency_key: str | None,
    lambda_context: Any = None,
    conversation_id: str | None = None,
) -> Message:
    """``POST /v1/messages``: checks in order (access 404/403, enabled 409, number 422, lists 422,
    length 422, credits 402), then charge + record in one transaction whose message row carries its
    outbound job and ``message.queued`` (the outbox queues and publishes them once it commits).

    With ``idempotency_key`` the whole send runs once per (caller, key): a retry returns the first
    response; the same key with a different body is 422 ``idempotency_key_reused``. The message id
    derives from (caller, key), so a retry after an attempt that died between recording and queueing
    finishes that message (:func:`_resume`) instead of charging and sending a second one.
    ``conversation_id``: an agent's reply or first message in that conversation (issue 5).
    """
    if not idempotency_key:
        return _send(caller, req, conversation_id)
    return Message.model_validate(_send_once(caller, req, idempotency_key, lambda_context, conversation_id))


def _send(
    caller: Caller, req: SendRequest, conversation_id: str | None = None, *, message_id: str | None = None
) -> Message:
    from smsdesk import access

    # The channel as cached for a few seconds (one GetItem less per send): a channel disabled or
    # deleted meanwhile is caught by the sender, which fails the message and refunds it.
    channel = channels.get_channel_cached(req.channel_id)
    entries, team_ids = _read_for_send(caller, channel, req.to)
    channel = access.require_channel(caller, req.channel_id, cached=True, user_team_ids=team_ids)
    message = build(caller, channel, req, conversation_id=conversation_id, list_entries=entries)
    if message_id is not None:
        message = message.model_copy(update={"id": message_id})
    if record(message) == "exists":  # only with a derived id (a keyed send)
        return _resume(message)
    return message


def _read_for_send(caller: Caller, channel: Channel, to: str) -> tuple[list[dict[str, Any]] | None, set[str] | None]:
    """The caller's role (if still to be looked up), an agent's teams and the recipient's list entries
    in one read (``repo.send_reads``), so accepting a send is two calls (this read, the transaction)
    instead of three (four for an agent). (None, None) when the number does not parse: the checks then
    run (and fail) in their order."""
    try:
        e164 = parse_number(to, channel.default_region or config.default_country(), field="to").e164
    except AppError:
        return None, None
    pending = caller.role_pending
    want_profile = pending or caller.role == "agent"
    entries, profile = repo.send_reads(e164, channel.id, caller.user_id if want_profile else None)
    if pending:
        caller.prime_role((profile or {}).get("role"))
    team_ids = set((profile or {}).get("team_ids") or ()) if want_profile else None
    return entries, team_ids


def _resume(message: Message) -> Message:
    """A keyed send whose message (derived id) is recorded already: an earlier attempt got that far and
    died before answering (or the key's idempotency record expired). Its job left with its record (the
    outbox), so there is nothing to queue again: return it. The same key for another message is 422
    ``idempotency_key_reused``."""
    existing = get(message.id)
    if existing is None:  # deleted meanwhile (its conversation was): nothing to resume
        raise Conflict(f"message {message.id} is gone; send again with a new Idempotency-Key", code="message_gone")
    if (existing.channel_id, existing.to, existing.text) != (message.channel_id, message.to, message.text):
        raise IdempotencyKeyReused("this Idempotency-Key was already used for another message", field="Idempotency-Key")
    return existing


def _send_once(
    caller: Caller, req: SendRequest, key: str, lambda_context: Any, conversation_id: str | None = None
) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table_name(), boto3_client=aws.dynamodb())
    cfg = IdempotencyConfig(
        event_key_jmespath="[caller, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=24 * 3600,
        raise_on_no_idempotency_key=True,
    )
    if lambda_context is not None:
        cfg.register_lambda_context(lambda_context)  # in-progress records expire with the invocation

    # The message id derives from (caller, key): a retry after an attempt that recorded (and charged) the
    # message but died before queueing it finishes that message instead of sending a second one.
    message_id = ids.stable_id("send", caller.user_id, key)

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=cfg)
    def send_message(request: dict[str, Any]) -> dict[str, Any]:
        return _send(caller, req, conversation_id, message_id=message_id).model_dump(mode="json")

    body = req.model_dump(mode="json")
    if conversation_id:
        body["conversation_id"] = conversation_id  # same key, other conversation: reused
    try:
        return send_message(request={"caller": caller.user_id, "key": key, "body": body})
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request body", field="Idempotency-Key"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key is still in progress; retry shortly", field="Idempotency-Key"
        ) from exc


# --------------------------------------------------------------------------------------------------
# Sent overview
# --------------------------------------------------------------------------------------------------


def _all_channel_ids() -> list[str]:
    out: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = channels.list_channels(None, limit=100, cursor=cursor)
        out.extend(c.id for c in page)
        if not cursor:
            return out


def list_messages(
    caller: Caller,
    *,
    channel_id: str | None = None,
    status_: str | None = None,
    to: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Message], str | None]:
    """Newest first, only channels the caller may use.

    * ``to``: one query on the recipient index (GSI2), filtered to the allowed channels.
    * a ``channel_id``: one query on the channel index (GSI1).
    * otherwise: the channel pages are merged (one query per usable channel; the cursor keeps a
      position per channel), which keeps writes spread over per-channel partitions.
    """
    from smsdesk import access

    since_key = iso(since) if since else None
    if channel_id is not None:
        channel = access.require_channel(caller, channel_id)
        allowed: set[str] | None = {channel.id}
        region = channel.default_region or config.default_country()
    else:
        allowed = access.usable_channel_ids(caller)
        region = config.default_country()
    if allowed is not None and not allowed:
        return [], None
    if to is not None:
        e164 = parse_number(to, region, field="to").e164
        items, last = repo.page(
            index="GSI2",
            pk=f"MSGTO#{e164}",
            limit=limit,
            start=decode_position(cursor, "k"),
            since=since_key,
            status=status_,
            channel_ids=allowed,
        )
        return [repo.split(i)[0] for i in items], encode_position("k", last) if last else None
    ids_ = sorted(allowed) if allowed is not None else _all_channel_ids()
    positions: dict[str, Any] = decode_position(cursor, "c") or {cid: None for cid in ids_}
    merged: list[tuple[str, dict[str, Any]]] = []
    exhausted: dict[str, bool] = {}
    for cid in ids_:
        if cid not in positions:
            continue  # exhausted on an earlier page (or not usable when the cursor was made)
        items, last = repo.page(
            index="GSI1",
            pk=f"MSGS#{cid}",
            limit=limit,
            start=positions[cid],
            since=since_key,
            status=status_,
            channel_ids=None,
        )
        exhausted[cid] = last is None
        merged.extend((cid, i) for i in items)
    merged.sort(key=lambda ci: ci[1]["GSI1SK"], reverse=True)
    taken = merged[:limit]
    new_pos: dict[str, Any] = {}
    for cid in exhausted:
        mine = [i for c, i in taken if c == cid]
        left = sum(1 for c, _ in merged if c == cid) - len(mine)
        if mine:
            if left or not exhausted[cid]:
                new_pos[cid] = repo.raw_key(mine[-1], "GSI1")
        else:
            if left or not exhausted[cid]:
                new_pos[cid] = positions[cid]
    next_cursor = encode_position("c", new_pos) if new_pos else None
    return [repo.split(i)[0] for _, i in taken], next_cursor


# --------------------------------------------------------------------------------------------------
# System auto-replies (issue 5: STOP/START/HELP confirmations, out-of-hours message)
# --------------------------------------------------------------------------------------------------


def system_message_id(*parts: str) -> str:
    """A message id derived from ``parts`` (:func:`ids.stable_id`).

    An auto-reply's id comes from the inbound SMS that caused it, so a redelivered inbound finds its
    reply already recorded (``attribute_not_exists``) instead of sending it twice.
    """
    return ids.stable_id("auto-reply", *parts)


def send_system(
    channel: Channel,
    to: str,
    text: str,
    *,
    conversation_id: str | None,
    reason: str,
    allow_opted_out: bool = False,
    message_id: str | None = None,
    created_by: str | None = None,
) -> Message | None:
    """Send an automatic reply through the normal pipeline (charged in the same transaction as the
    message, blocklist checked, sender, receipts), as the system (``created_by`` None).

    Never raises for a business reason: an auto-reply must not fail the inbound SMS that caused it.
    Returns None (logged, metric ``AutoReplySkipped``) when the channel is disabled or one-way, the
    number cannot receive SMS, is blocked (or opted out, unless ``allow_opted_out``: the confirmation
    of a STOP goes to a number that has just opted out), the text is too long or credits are short. With ``message_id`` (see
    :func:`system_message_id`) the reply is sent at most once: a second call returns the message recorded by the first.
    """
    from aws_lambda_powertools.metrics import MetricUnit

    from smsdesk.observability import metrics

    def skipped(why: str) -> None:
        logger.info(
            "auto-reply skipped",
            extra={"channel_id": channel.id, "reason": reason, "skipped": why, "conversation_id": conversation_id},
        )
        metrics.add_metric(name="AutoReplySkipped", unit=MetricUnit.Count, value=1)

    from smsdesk import lists

    if not channel.enabled:
        return skipped("channel_disabled")
    if not channel.can_reply:
        return skipped("one_way_channel")
    try:
        number = parse_number(to, channel.default_region or config.default_country(), field="to")
        if allow_opted_out:
            if lists.is_blocked(channel.id, number.e164, "outbound"):
                return skipped("recipient_blocked")
        else:
            lists.check_outbound(channel.id, number.e164)
        body = smart_encode(text, only_if_gsm=True).text if channel.smart_encoding else text
        count = check_length(body, channel.max_segments, field="text")
    except AppError as exc:
        return skipped(exc.code)
    message = queued_message(
        channel,
        number,
        body,
        count,
        created_by=created_by,  # None: the system; "bot:{id}" for a bot's message (issue 15)
        conversation_id=conversation_id,
        message_id=message_id,
        detail=f"auto-reply: {reason}",
    )
    recorded = _charge_and_record(message)
    if recorded == "insufficient_credits":
        return skipped("insufficient_credits")
    if recorded == "exists":
        logger.info("auto-reply already recorded", extra={"message_id": message.id, "reason": reason})
        return get(message.id)  # its job left with its record (the outbox): nothing to queue again
    metrics.add_metric(name="AutoReplySent", unit=MetricUnit.Count, value=1)
    logger.info("auto-reply queued", extra={"message_id": message.id, "reason": reason, "channel_id": channel.id})
    return message
