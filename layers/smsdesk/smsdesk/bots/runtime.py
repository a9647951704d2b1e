"""The ``bots`` function: runs bots on bus events, exactly once per event (issue 15).

Triggers (the manifest's ``bots`` rule): ``message.received`` (an on-start bot's first message, or
an answer while a run waits), ``conversation.closed`` (the finish bot), ``interaction.queue_timeout``
(the after-timeout bot) and ``conversation.assigned`` (an agent took over: the run stops). The
``ask`` timeouts come through the timers function (kind ``bot_wait``: :func:`wait_timed_out`).

* **Who has the conversation**: ``Conversation.bot_run_id`` names the run that has it. An on-start run
  is marked by the inbound's own write (``conversations._arrive``), so the queue never offers it in
  between; a finish or after-timeout run marks it here before it starts. An agent who assigns or
  replies clears it (takeover): the run notices and stops. A handoff (or the end of an on-start or
  after-timeout run) clears it: the conversation then waits in the queue from its original arrival.
* **Exactly once**: a run remembers the keys of the events it handled (``seen``: the outbox's
  ``event_id``, else the EventBridge event id; a timer's (run, wait)). An event is handled by reading
  the run, computing the step with the pure :mod:`smsdesk.bots.engine`, performing its effects, which
  are all idempotent (a message's id derives from (run, event, n), a field write sets a value, a handoff
  is conditioned on the run still having the conversation), then writing the run conditioned on its
  version: a redelivered event finds its key and changes nothing; a concurrent duplicate loses the
  write and finds it. Counters (CSAT) and ``bot.*`` events follow the write.
* **Keywords first**: STOP/START/HELP were handled by the inbound function before this sees them; a
  STOP ends the run (opted out), START/HELP are not answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from smsdesk import channels, events, ids
from smsdesk.bots import engine
from smsdesk.bots.flow import Flow
from smsdesk.bots.runs import SEEN_KEPT, BotRun, TranscriptLine, Trigger, load
from smsdesk.data import bots as repo
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import conversations as conv_repo
from smsdesk.data import messages as messages_repo
from smsdesk.data import queueing as queue_repo
from smsdesk.data import teams as teams_repo
from smsdesk.data import users as users_repo
from smsdesk.inbound import keywords
from smsdesk.inbox import timers

# The inbox's conversation and queue rules and the send side are imported by the functions that act
# (close, assign, hand off, send): an event that finds no bot to run does not load them.
from smsdesk.models import Channel, Conversation, iso, utcnow
from smsdesk.observability import logger
from smsdesk.text.merge import render_template

_ATTEMPTS = 8
#: A finish bot's question without its own timeout waits this long: a closed conversation is never
#: left with a survey that keeps the customer's next messages from reopening it.
FINISH_WAIT_S = 24 * 3600


def handle_event(raw: dict[str, Any]) -> str:
    """One EventBridge event; returns what happened (for logs and tests)."""
    kind, detail = raw.get("detail-type"), raw.get("detail") or {}
    key = str(detail.get("event_id") or raw.get("id"))
    conv_id = detail.get("conversation_id")
    if not conv_id:
        return "ignored"
    if kind == "message.received" and detail.get("message_id"):
        # published after its write (no event_id): the message itself is the key, whoever publishes it
        key = f"msg:{detail['message_id']}"
        outcome = on_message(conv_id, detail["message_id"], key)
    elif kind == "conversation.closed":
        outcome = on_closed(conv_id, detail, key)
    elif kind == "interaction.queue_timeout":
        outcome = on_queue_timeout(conv_id, key)
    elif kind == "conversation.assigned":
        outcome = on_assigned(conv_id)
    else:
        outcome = "ignored"
    logger.info(
        "bot event", extra={"detail_type": kind, "event_key": key, "conversation_id": conv_id, "outcome": outcome}
    )
    return outcome


# --------------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------------


def on_message(conv_id: str, message_id: str, key: str) -> str:
    item = messages_repo.get(message_id)
    if item is None:
        return "no_message"
    stored = messages_repo.split(item)[0]
    text, sent_at = stored.text, stored.created_at
    keyword = keywords.classify(text)
    for _ in range(_ATTEMPTS):
        got = conv_repo.get(conv_id)
        if got is None or got[0].bot_run_id is None:
            return "no_bot"
        conv = got[0]
        found = repo.get_run(conv.id, conv.bot_run_id)  # type: ignore[arg-type]
        if found is None:
            started = _start_on_start(conv, key, text, keyword)
            if started != "duplicate":
                return started
            continue  # another message's event started it meanwhile: this one may be an answer
        run, version = load(found[0]), found[1]
        if key in run.seen:
            return "duplicate"
        if run.status != "active":
            # ended, yet still marked on the conversation (its release failed after the write): release
            _release(conv.id, run, handoff=run.trigger != "on_finish" and conv.status == "open")
            return "run_ended"
        now = utcnow()
        line = TranscriptLine(at=now, direction="in", text=text, step_id=run.state.step_id)
        if sent_at < run.started_at and keyword is None:
            # texted before the bot said anything (events of two quick messages may come in any order):
            # not an answer to a question it had not asked yet
            if _save(
                run, version, key, [line.model_copy(update={"direction": "note", "text": f"before the bot: {text}"})]
            ):
                return "before_the_bot"
            continue
        if keyword is not None:
            if keyword[0] != "opt_out":
                # START/HELP: answered by the inbound function, not an answer to the bot
                if _save(run, version, key, [line]):
                    return "keyword_ignored"
                continue
            if _stop(run, version, key, "opted_out", conv, lines=[line], release=True):
                return "opted_out"
            continue
        if run.kind == "webhook":
            result = _webhook_step(conv, run, "message", {"id": message_id, "text": text})
        else:
            result = engine.answer(Flow.model_validate(run.flow), run.state, text)
        if _advance(conv, run, version, result, key, [line]):
            return "answered"
    raise RuntimeError(f"bot run of {conv_id} kept changing")


def _start_on_start(conv: Conversation, key: str, text: str, keyword: Any) -> str:
    """The inbound that started the interaction: the on-start run begins (once)."""
    run_id = conv.bot_run_id or ""
    line = TranscriptLine(at=utcnow(), direction="in", text=text)
    if keyword is not None:
        # a keyword opened the conversation: handled already; no bot, straight to the queue
        run = _new_run(conv, run_id, conv.bot_id or "", "on_start", None)
        return _end_without_flow(conv, run, key, "keyword", line)
    return _start(conv, run_id, conv.bot_id, "on_start", key, [line])


def on_closed(conv_id: str, detail: dict[str, Any], key: str) -> str:
    from smsdesk.inbox import conversations

    got = conv_repo.get(conv_id)
    if got is None or got[0].status != "closed" or got[0].closed_at is None:
        return "not_closed"
    conv = got[0]
    by = str(detail.get("by") or "")
    if conv.bot_run_id is not None:
        prior = repo.get_run(conv.id, conv.bot_run_id)
        if prior is not None and load(prior[0]).trigger != "on_finish":
            run = load(prior[0])
            if run.status == "active":
                _stop(run, prior[1], key, "closed", conv, release=True)
        elif prior is not None:
            return "finish_bot_running"
    if by.startswith(conversations.BOT_PREFIX):
        return "closed_by_bot"  # a bot closing does not run the finish bot
    channel = channels.get_channel(conv.channel_id)
    if not channel.bot_on_finish:
        return "no_bot"
    run_id = conversations.bot_run_id(conv.id, "on_finish", conv.closed_at)
    if repo.get_run(conv.id, run_id) is not None:
        return "duplicate"  # this close already ran its finish bot
    if not _claim(
        conv.id, run_id, channel.bot_on_finish, lambda c: c.status == "closed" and c.closed_at == conv.closed_at
    ):
        return "changed"
    got = conv_repo.get(conv_id)
    assert got is not None
    return _start(got[0], run_id, channel.bot_on_finish, "on_finish", key, [])


def on_queue_timeout(conv_id: str, key: str) -> str:
    from smsdesk.inbox import conversations

    got = conv_repo.get(conv_id)
    if got is None or got[0].queue_state() is None or got[0].timed_out_at is None:
        return "not_waiting"
    conv = got[0]
    channel = channels.get_channel(conv.channel_id)
    if not channel.bot_after_timeout:
        return "no_bot"
    run_id = conversations.bot_run_id(conv.id, "after_timeout", conv.timed_out_at)  # type: ignore[arg-type]
    if repo.get_run(conv.id, run_id) is not None:
        return "duplicate"
    if not _claim(conv.id, run_id, channel.bot_after_timeout, lambda c: c.queue_state() is not None):
        return "changed"
    got = conv_repo.get(conv_id)
    assert got is not None
    return _start(got[0], run_id, channel.bot_after_timeout, "after_timeout", key, [])


def on_assigned(conv_id: str) -> str:
    """An agent (or the queue, after a handoff) has it: runs that no longer have it stop."""
    got = conv_repo.get(conv_id)
    if got is None:
        return "no_conversation"
    stopped = 0
    for item in repo.runs_of(conv_id):
        run = load(item)
        if run.status == "active" and run.id != got[0].bot_run_id:
            found = repo.get_run(conv_id, run.id)
            if found is not None and _stop(load(found[0]), found[1], None, "taken_over", got[0]):
                stopped += 1
    return f"stopped_{stopped}" if stopped else "nothing"


def wait_timed_out(timer: Any) -> None:
    """Timer action (kind ``bot_wait``): the customer did not answer an ask in time."""
    conv_id, seq = timer.data.get("conversation_id"), int(timer.data.get("wait_seq") or 0)
    key = f"timer:{timer.target_id}:{seq}"
    for _ in range(_ATTEMPTS):
        found = repo.get_run(conv_id, timer.target_id)
        got = conv_repo.get(conv_id)
        if found is None or got is None:
            return
        run, version = load(found[0]), found[1]
        if key in run.seen or run.status != "active" or run.state.wait_seq != seq:
            return
        conv = got[0]
        if conv.bot_run_id != run.id:
            _stop(run, version, key, "taken_over", conv)
            return
        result = engine.timeout(Flow.model_validate(run.flow), run.state, seq)
        note = TranscriptLine(at=utcnow(), direction="note", text="no answer in time", step_id=run.state.step_id)
        if _advance(conv, run, version, result, key, [note]):
            return
    raise RuntimeError(f"bot run {timer.target_id} kept changing")


timers.ACTIONS[timers.BOT_WAIT] = wait_timed_out


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


def _new_run(conv: Conversation, run_id: str, bot_id: str, trigger: Trigger, flow: dict[str, Any] | None) -> BotRun:
    return BotRun(
        id=run_id,
        bot_id=bot_id,
        conversation_id=conv.id,
        channel_id=conv.channel_id,
        trigger=trigger,
        started_at=utcnow(),
        flow=flow or {},
    )


def _start(conv: Conversation, run_id: str, bot_id: str | None, trigger: Trigger, key: str, lines: list) -> str:
    bot = repo.get_bot(bot_id) if bot_id else None
    if bot is None or not bot[0].get("enabled", True):
        run = _new_run(conv, run_id, bot_id or "", trigger, None)
        return _end_without_flow(conv, run, key, "bot_missing", None)
    if bot[0].get("kind") == "webhook":
        run = _new_run(conv, run_id, bot_id or "", trigger, None).model_copy(update={"kind": "webhook"})
        result = _webhook_step(conv, run, "start", None)
    else:
        flow = Flow.model_validate(bot[0]["flow"])
        run = _new_run(conv, run_id, bot_id or "", trigger, flow.model_dump(mode="json"))
        result = engine.start(flow)
    # The start's effects are keyed by the run (derived from its trigger), not by the event: a trigger
    # published twice (two envelopes) sends the same messages, once.
    run = run.model_copy(update={"seen": [key]})
    if not _advance(conv, run, None, result, f"start:{run.id}", lines):
        return "duplicate"
    _publish("bot.started", run, conv)
    return "started"


def _webhook_step(conv: Conversation, run: BotRun, event: str, message: dict[str, Any] | None) -> engine.Result:
    """Ask the bot's endpoint what to do (retried; a dead endpoint hands off)."""
    from smsdesk.bots import service, webhook

    bot = repo.get_bot(run.bot_id)
    answer = None
    if bot is not None and bot[0].get("webhook_url"):
        contact = contacts_repo.get(conv.contact_id)
        payload = {
            "event": event,
            "run_id": run.id,
            "trigger": run.trigger,
            "conversation": conv.model_dump(mode="json"),
            "contact": contact.model_dump(mode="json") if contact else None,
            "message": message,
        }
        try:
            secret = webhook.secret_of(service.secret_name(run.bot_id))
        except Exception:
            logger.exception("bot webhook secret unreadable", extra={"bot_id": run.bot_id})
        else:
            answer = webhook.call(bot[0]["webhook_url"], secret, payload)
    actions, ending = webhook.to_actions(answer)
    if ending is None:
        state = run.state.model_copy(update={"status": "waiting", "step_id": "webhook"})
    else:
        outcome = "handoff" if answer is None else ending
        state = run.state.model_copy(update={"status": "done", "step_id": None, "outcome": outcome})
    return engine.Result(actions, state)


def _end_without_flow(conv: Conversation, run: BotRun, key: str, reason: str, line: TranscriptLine | None) -> str:
    run = run.model_copy(
        update={
            "status": "stopped",
            "outcome": reason,
            "ended_at": utcnow(),
            "seen": [key],
            "transcript": [line] if line else [],
        }
    )
    _release(conv.id, run, handoff=run.trigger != "on_finish")
    try:
        repo.put_run(run.model_dump(mode="json"), version=None)
    except repo.Conflict:
        return "duplicate"
    _publish("bot.stopped", run, conv, reason=reason)
    return reason


def _advance(
    conv: Conversation, run: BotRun, version: int | None, result: engine.Result, key: str, lines: list[TranscriptLine]
) -> bool:
    """Perform ``result``'s effects (idempotent), then record the step; False if another delivery
    recorded first (the caller reads again)."""
    now = utcnow()
    out, rating, csat_asked = _perform(conv, run, result, key, now)
    done = result.state.status == "done"
    new = run.model_copy(
        update={
            "state": result.state,
            "status": "done" if done else "active",
            "outcome": result.state.outcome if done else None,
            "ended_at": now if done else None,
            "transcript": [*run.transcript, *lines, *out],
            "seen": [*run.seen, key][-SEEN_KEPT:],
            "sent": run.sent + sum(1 for a in result.actions if a.kind == "send"),
            "csat": rating if rating is not None else run.csat,
            "csat_asked": run.csat_asked or csat_asked,
        }
    )
    try:
        repo.put_run(new.model_dump(mode="json"), version=version)
    except repo.Conflict:
        return False
    agent = _agent_of(conv)
    day = run.started_at.astimezone(dt.UTC).date()  # a survey counts on the day it started (inbox.stats)
    if csat_asked and not run.csat_asked:
        repo.csat_add(conv.channel_id, agent, day, asked=1)
    if rating is not None:
        repo.csat_add(conv.channel_id, agent, day, answered=1, rating=rating)
        _publish("bot.csat", new, conv, rating=rating, agent_id=agent)
    if done:
        _publish("bot.ended", new, conv, outcome=new.outcome)
    return True


def _agent_of(conv: Conversation) -> str | None:
    return conv.assignee_id or (conv.closed_by if conv.closed_by and ":" not in conv.closed_by else None)


def _save(run: BotRun, version: int, key: str, lines: list[TranscriptLine]) -> bool:
    new = run.model_copy(update={"seen": [*run.seen, key][-SEEN_KEPT:], "transcript": [*run.transcript, *lines]})
    try:
        repo.put_run(new.model_dump(mode="json"), version=version)
    except repo.Conflict:
        return False
    return True


def _stop(
    run: BotRun,
    version: int,
    key: str | None,
    reason: str,
    conv: Conversation,
    *,
    lines: list[TranscriptLine] | None = None,
    release: bool = False,
) -> bool:
    if release:
        _release(conv.id, run, handoff=run.trigger != "on_finish" and conv.status == "open")
    new = run.model_copy(
        update={
            "status": "stopped",
            "outcome": reason,
            "ended_at": utcnow(),
            "state": engine.stop(run.state),
            "seen": [*run.seen, key][-SEEN_KEPT:] if key else run.seen,
            "transcript": [*run.transcript, *(lines or [])],
        }
    )
    try:
        repo.put_run(new.model_dump(mode="json"), version=version)
    except repo.Conflict:
        return False
    try:
        timers.cancel_for(timers.BOT_WAIT, run.id)
    except Exception:
        logger.exception("could not cancel a bot wait", extra={"run_id": run.id})
    _publish("bot.stopped", new, conv, reason=reason)
    return True


def _publish(detail_type: str, run: BotRun, conv: Conversation, **extra: Any) -> None:
    detail = {
        "run_id": run.id,
        "bot_id": run.bot_id,
        "trigger": run.trigger,
        "conversation_id": conv.id,
        "channel_id": conv.channel_id,
        "contact_id": conv.contact_id,
        "at": iso(utcnow()),
        **extra,
    }
    try:
        events.publish(detail_type, detail)
    except Exception:
        logger.exception("could not publish a bot event", extra={"detail_type": detail_type, "run_id": run.id})


# --------------------------------------------------------------------------------------------------
# Effects
# --------------------------------------------------------------------------------------------------


def _perform(
    conv: Conversation, run: BotRun, result: engine.Result, key: str, now: dt.datetime
) -> tuple[list[TranscriptLine], int | None, bool]:
    """Do a step's actions; returns (transcript lines, CSAT rating received, a CSAT question asked)."""
    from smsdesk.inbox import conversations
    from smsdesk.sending import messages

    channel = channels.get_channel_cached(conv.channel_id)
    flow = Flow.model_validate(run.flow) if run.flow else None
    contact: list[Any] = []  # read once per step, by the first send that merges fields
    lines: list[TranscriptLine] = []
    rating: int | None = None
    asked = False
    n = 0
    for action in result.actions:
        if action.kind == "send":
            text = _render(action.text or "", conv.contact_id, contact)
            message_id = ids.stable_id("botmsg", run.id, key, str(n))
            n += 1
            msg = messages.send_system(
                channel,
                conv.number,
                text,
                conversation_id=conv.id,
                reason=f"bot {run.bot_id}",
                message_id=message_id,
                created_by=f"{conversations.BOT_PREFIX}{run.bot_id}",
            )
            if msg is None:
                lines.append(TranscriptLine(at=now, direction="note", text="message not sent", step_id=action.step_id))
                continue
            conversations.record_outbound(conv.id, msg)
            lines.append(TranscriptLine(at=now, direction="out", text=text, step_id=action.step_id))
        elif action.kind == "set_field":
            note = _set_field(conv.contact_id, action.field or "", action.value or "")
            lines.append(TranscriptLine(at=now, direction="note", text=note, step_id=action.step_id))
        elif action.kind == "csat":
            rating = action.rating
        elif action.kind == "wait":
            step = flow.step(action.step_id) if flow else None
            asked = asked or (step is not None and step.type == "csat")
            wait_s = action.timeout_s or (FINISH_WAIT_S if run.trigger == "on_finish" else 0)
            if wait_s > 0:
                timers.schedule(
                    timers.BOT_WAIT,
                    run.id,
                    now + dt.timedelta(seconds=wait_s),
                    data={"conversation_id": conv.id, "wait_seq": result.state.wait_seq},
                    now=now,
                )
        elif action.kind == "assign":
            _assign(conv.id, run, channel, action.user_id, action.team_id)
        elif action.kind == "close":
            _close(conv.id, run)
        elif action.kind in ("handoff", "end"):
            _release(conv.id, run, handoff=run.trigger != "on_finish")
    return lines, rating, asked


def _render(template: str, contact_id: str, cache: list[Any]) -> str:
    if "{{" not in template:
        return template
    if not cache:
        cache.append(contacts_repo.get(contact_id))
    contact = cache[0]
    fields: dict[str, Any] = {}
    if contact is not None:
        fields = {
            **contact.custom_fields,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "name": contact.name,
            "mobile": contact.mobile,
            "email": contact.email,
        }
    try:
        return render_template(template, fields)
    except Exception:  # a missing field without default: leave it out rather than send braces
        from smsdesk.text.merge import PLACEHOLDER_RE

        return PLACEHOLDER_RE.sub(lambda m: (m.group(2) or "").strip(), template)


def _set_field(contact_id: str, name: str, value: str) -> str:
    from smsdesk.crm import contacts as crm_contacts
    from smsdesk.errors import AppError

    if name in ("first_name", "last_name", "email", "language"):
        patch = crm_contacts.ContactPatch.model_validate({name: value})
    else:
        patch = crm_contacts.ContactPatch(custom_fields={name: value})
    try:
        crm_contacts.update(contact_id, patch)
    except AppError as exc:
        return f"{name} not saved: {exc.message}"
    return f"{name} = {value}"


def _claim(conv_id: str, run_id: str, bot_id: str, still: Any) -> bool:
    """Give the conversation to a new run (finish or after-timeout) if ``still(conv)`` holds."""
    for _ in range(_ATTEMPTS):
        got = conv_repo.get(conv_id)
        if got is None:
            return False
        conv, version = got
        if conv.bot_run_id == run_id:
            return True
        if conv.bot_run_id is not None or not still(conv):
            return False
        new = conv.model_copy(update={"bot_id": bot_id, "bot_run_id": run_id})
        try:
            conv_repo.write(conv, new, version=version)
        except conv_repo.TransactionCanceled:
            continue
        return True
    return False


def _release(conv_id: str, run: BotRun, *, handoff: bool) -> None:
    """The run gives the conversation back: into the queue at its original arrival time (``handoff``),
    or outside it when the queue is full, through the queue's own admission rule
    (:func:`queueing.handed_off`: ``max_in_queue`` is a condition of the write, as for an inbound);
    or, after a finish bot, just no longer with the bot. No-op if the run no longer has it."""
    from smsdesk.inbox import queueing

    now = utcnow()
    channel: Channel | None = None
    for _ in range(_ATTEMPTS):
        got = conv_repo.get(conv_id)
        if got is None or got[0].bot_run_id != run.id:
            return
        conv, version = got
        if not handoff:
            new = conv.model_copy(update={"bot_id": None, "bot_run_id": None})
            try:
                conv_repo.write(conv, new, version=version)
            except conv_repo.TransactionCanceled:
                continue
            return
        channel = channel or channels.get_channel(conv.channel_id)
        new = queueing.handed_off(conv, full=queueing.is_full(channel))
        items = queue_repo.with_counters(
            [conv_repo.put(new, version=version)], conv, new, cap=channel.queue.max_in_queue
        )
        try:
            conv_repo.transact(items)
        except conv_repo.TransactionCanceled:
            continue  # changed meanwhile, or the queue filled up: read both again
        queueing.after_handoff(conv, new, channel, now=now)
        return
    raise RuntimeError(f"conversation {conv_id} kept changing")


def _close(conv_id: str, run: BotRun) -> None:
    from smsdesk.inbox import conversations, queueing

    now = utcnow()
    for _ in range(_ATTEMPTS):
        got = conv_repo.get(conv_id)
        if got is None or got[0].bot_run_id != run.id:
            return
        conv, version = got
        if conv.status == "closed":
            _release(conv_id, run, handoff=False)
            return
        by = f"{conversations.BOT_PREFIX}{run.bot_id}"
        new = conversations.closed(conv, by, now).model_copy(update={"bot_id": None, "bot_run_id": None})
        items = [
            conv_repo.put(new, version=version),
            conv_repo.pointer_close(conv.channel_id, conv.number, conv.id, now),
        ]
        try:
            conv_repo.transact(queue_repo.with_counters(items, conv, new))
        except conv_repo.TransactionCanceled:
            continue
        queueing.left_queue(conv.id)
        try:
            events.publish("conversation.closed", conversations.conversation_event(new, at=now, by=by))
        except Exception:
            logger.exception("could not publish conversation.closed", extra={"conversation_id": conv.id})
        return


def _assign(conv_id: str, run: BotRun, channel: Channel, user_id: str | None, team_id: str | None) -> None:
    """To an available agent (the named one, or the least busy member of the team); nobody: handoff."""
    from smsdesk.inbox import conversations, queueing

    candidates = [user_id] if user_id else (teams_repo.member_ids(team_id) if team_id else [])
    agents = [queueing.Agent.from_profile(p) for p in users_repo.get_profiles(candidates)] if candidates else []
    agent = queueing.pick("least_busy", agents)
    now = utcnow()
    if agent is None:
        _release(conv_id, run, handoff=True)
        return
    for _ in range(_ATTEMPTS):
        got = conv_repo.get(conv_id)
        if got is None or got[0].bot_run_id != run.id:
            return
        conv, version = got
        new = conv.model_copy(update={"assignee_id": agent.user_id, "bot_id": None, "bot_run_id": None})
        try:
            conv_repo.write(conv, new, version=version)
        except conv_repo.TransactionCanceled:
            continue
        detail = conversations.conversation_event(
            new, at=now, by=f"{conversations.BOT_PREFIX}{run.bot_id}", previous_assignee_id=None
        )
        try:
            events.publish("conversation.assigned", detail)
        except Exception:
            logger.exception("could not publish conversation.assigned", extra={"conversation_id": conv.id})
        return
