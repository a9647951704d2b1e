"""Transcript notes (issue 16 item 3): what a linked conversation writes on its person, lead or deal.

The ``crmnotes`` function (bus rule: ``crm.linked``, and ``message.received``, ``message.queued`` and the
final ``message.delivered|undelivered|failed`` of messages in a conversation: which of an outbound
message's events are published is the deployment's ``MESSAGE_EVENTS``, by default only the final one)
keeps, per link, the set of the conversation's messages it has placed (``msgs`` on the link: message id
→ its time). A message event adds its message to the set of every link of its conversation; a message
already in the set changes nothing (exactly once, whatever the event's duplicates, and whichever of a
message's events arrive: its ``queued`` and then its final one place it once). The notes are then
**derived from that set**, not from the arrival order: the messages not in a note a user edited or
deleted, sorted by (time, id), are cut greedily into 24-hour windows (a window starts at its first
message; a message 24 h or more after that start opens the next one), and each window is one note
whose content is rebuilt from the stored messages, sorted by time. So duplicated or reordered events
give the same notes as in-order ones. A note a user edited or deleted keeps its messages (they never
go into another note) and is never written again: the next message forms a new window, hence a new note.

Each window is matched to the automatic note it shares most messages with (else a new note); only
notes whose set of messages changed are rewritten. The link and the notes it rewrites are one
transaction conditioned on the versions read (a user's edit in between, an unlink, or a concurrent
event makes it retry from a fresh read). On linking (or the first event of a link), the set starts
with the conversation's latest messages: those within 24 h of the newest (at most ``SEED_MAX``).
Messages older than that first window are ignored.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from smsdesk import ids
from smsdesk.crm import settings as crm_settings
from smsdesk.data import conversations as conversations_repo
from smsdesk.data import crm as repo
from smsdesk.data import messages as messages_repo
from smsdesk.data import table
from smsdesk.data import users as users_repo
from smsdesk.errors import NotFound, ValidationError
from smsdesk.models import Conversation, Message, iso, utcnow

WINDOW = dt.timedelta(hours=24)
#: A window starting this long before the link's newest message is closed: forgotten by the link.
CLOSED_AFTER = dt.timedelta(days=7)
SEED_MAX = 50
#: The message events that place their message (an outbound one's first published event, whichever it is).
MESSAGE_EVENTS = ("message.received", "message.queued", "message.delivered", "message.undelivered", "message.failed")
_MAX_ATTEMPTS = 12
#: Connectors that mirror a link's notes elsewhere (Pipedrive), called with the link after each event's
#: notes are committed (registered by the function's entry, ``crm.noteshandler``).
after_apply: list[Callable[[dict[str, Any]], None]] = []


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def partition(msgs: Iterable[tuple[str, str]], window: dt.timedelta = WINDOW) -> list[list[str]]:
    """Message ids cut into windows: ``msgs`` are (ISO time, id); sorted by (time, id), a window starts
    at its first message and holds every later one less than ``window`` after that start (pure)."""
    out: list[list[str]] = []
    start: dt.datetime | None = None
    for at, mid in sorted(msgs):
        t = _time(at)
        if start is None or t - start >= window:
            out.append([])
            start = t
        out[-1].append(mid)
    return out


def match(windows: list[list[str]], notes: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """For each window, the automatic note sharing most of its messages (each note used once; pure)."""
    free = {n["id"]: n for n in notes}
    out: list[dict[str, Any] | None] = []
    for w in windows:
        ws = set(w)
        best = max(free.values(), key=lambda n: (len(ws & set(n["message_ids"])), n["id"]), default=None)
        if best is not None and ws & set(best["message_ids"]):
            del free[best["id"]]
            out.append(best)
        else:
            out.append(None)
    return out


# -- content -------------------------------------------------------------------------------------------


def sender_label(msg: Message, names: dict[str, str]) -> str:
    if msg.direction == "inbound":
        return f"Customer ({msg.sender})"
    if msg.created_by and msg.created_by in names:
        return f"Agent {names[msg.created_by]}"
    if msg.created_by and not msg.created_by.startswith("bot"):
        return f"Agent {msg.created_by}"
    return "Bot"


def render(
    msgs: list[Message], *, conversation_id: str, status: str, names: dict[str, str], web_url: str | None
) -> str:
    """A note's text (pure): the conversation's link, its assignment status, then one line per message."""
    link = f"{(web_url or '').rstrip('/')}/inbox/{conversation_id}"
    lines = [f"SMS conversation: {link}", f"Status: {status}", ""]
    for m in sorted(msgs, key=lambda m: (m.created_at, m.id)):
        when = m.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        arrow = "in" if m.direction == "inbound" else "out"
        lines.append(f"{when} · {arrow} · {sender_label(m, names)}: {m.text}")
    return "\n".join(lines)


def _status(conv: Conversation | None, names: dict[str, str]) -> str:
    if conv is None:
        return "deleted"
    if conv.status == "closed":
        return "closed"
    if conv.assignee_id:
        return f"open, assigned to {names.get(conv.assignee_id, conv.assignee_id)}"
    return "open, unassigned"


def _names(user_ids: set[str]) -> dict[str, str]:
    ids_ = sorted(u for u in user_ids if u)
    return {p["user_id"]: p.get("name") or p.get("email") or p["user_id"] for p in users_repo.get_profiles(ids_)}


def _messages(message_ids: list[str]) -> dict[str, Message]:
    items = table.batch_get([(f"MSG#{m}", "META") for m in message_ids])
    return {m.id: m for m in (messages_repo.split(i)[0] for i in items)}


# -- the function ----------------------------------------------------------------------------------------


def handle_event(detail_type: str, detail: dict[str, Any]) -> None:
    """One bus event: a link to seed, or a message for every link of its conversation."""
    if detail_type == "crm.linked":
        apply(detail["link_id"], None)
        return
    conversation_id, message_id = detail.get("conversation_id"), detail.get("message_id")
    if detail_type not in MESSAGE_EVENTS or not conversation_id or not message_id:
        return
    link_ids = repo.conversation_link_ids(conversation_id)
    if not link_ids:
        return
    item = messages_repo.get(message_id, consistent=True)
    if item is None:
        return  # deleted since (the conversation was deleted)
    msg = messages_repo.split(item)[0]
    for link_id in link_ids:
        apply(link_id, msg)


def _seed(conversation_id: str) -> dict[str, str]:
    """The conversation's latest messages: those within 24 h of its newest (at most ``SEED_MAX``)."""
    items, _ = conversations_repo.page(index="GSI3", pk=f"CONV#{conversation_id}", limit=SEED_MAX, start=None)
    msgs = [messages_repo.split(i)[0] for i in items]
    if not msgs:
        return {}
    newest = max(m.created_at for m in msgs)
    return {m.id: iso(m.created_at) for m in msgs if newest - m.created_at < WINDOW}


def apply(link_id: str, msg: Message | None, *, rederive: bool = False) -> list[dict[str, Any]]:
    """Place ``msg`` (None: only seed the link) in the link's notes; returns the notes written.
    ``rederive``: derive the notes again although no message is new (a note was frozen meanwhile).
    Then the connectors (``after_apply``) see the link, whether or not anything was new, so a
    redelivered event finishes what a failed mirror left pending."""
    for attempt in range(_MAX_ATTEMPTS):
        got = repo.link_get(link_id)
        if got is None:
            return []  # unlinked: no more notes
        link, version = got
        placed: dict[str, str] = dict(link.get("msgs") or {})
        before = len(placed)
        seeding = not link.get("seeded")
        if seeding:
            placed |= _seed(link["conversation_id"])
            link["seeded"] = True
            link["since"] = min(placed.values()) if placed else iso(_time(str(link["created_at"])))
        if (
            msg is not None
            and msg.id not in placed
            and msg.conversation_id == link["conversation_id"]
            and iso(msg.created_at) >= link["since"]
        ):
            placed[msg.id] = iso(msg.created_at)
        written: list[dict[str, Any]] = []
        if len(placed) != before or seeding or rederive:
            link["msgs"] = placed
            try:
                written = _write(link, version)
            except repo.TransactionCanceled:
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
                continue
        # else: nothing new (a duplicate, or a message older than the link's first window)
        for hook in after_apply:
            hook(link)
        return written
    raise RuntimeError(f"crm link {link_id}: too many concurrent changes")


def _write(link: dict[str, Any], version: int) -> list[dict[str, Any]]:
    kind, item_id = link["kind"], link["item_id"]
    notes = repo.notes_get(kind, item_id, list(link.get("note_ids") or []))
    frozen = {m for n, _ in notes.values() if n.get("state") != "auto" for m in n.get("message_ids") or []}
    auto = [n for n, _ in notes.values() if n.get("state") == "auto"]
    windows = partition((t, m) for m, t in link["msgs"].items() if m not in frozen)
    matched = match(windows, auto)
    changed = [(w, n) for w, n in zip(windows, matched, strict=True) if n is None or set(n["message_ids"]) != set(w)]
    writes: list[dict[str, Any]] = []
    items: list[Any] = []
    if changed:
        msgs = _messages(sorted({m for w, _ in changed for m in w}))
        web_url = crm_settings.get().web_url
        got = conversations_repo.get(link["conversation_id"], consistent=False)
        conv = got[0] if got else None
        names = _names({m.created_by or "" for m in msgs.values()} | {conv.assignee_id or "" if conv else ""})
        status = _status(conv, names)
        now = utcnow()
        for w, note in changed:
            in_window = [msgs[m] for m in w if m in msgs]
            ordered = sorted(w, key=lambda m: (link["msgs"][m], m))
            content = render(
                in_window, conversation_id=link["conversation_id"], status=status, names=names, web_url=web_url
            )
            new = {
                **(note or {}),
                "id": note["id"] if note else ids.new_id("note_"),
                "kind": kind,
                "item_id": item_id,
                "link_id": link["id"],
                "conversation_id": link["conversation_id"],
                "provider": link.get("provider", "smsdesk"),
                "message_ids": ordered,
                "window_start": link["msgs"][ordered[0]],
                "content": content,
                "state": "auto",
                "created_at": note["created_at"] if note else iso(now),
                "updated_at": iso(now),
            }
            writes.append(new)
            items.append(repo.note_put(new, version=notes[note["id"]][1] if note else None))
    used = {n["id"] for n in matched if n is not None}
    for n in auto:
        if n["id"] not in used:  # its messages moved into other windows (a late, earlier message)
            items.append(repo.note_delete(kind, item_id, n["id"], version=notes[n["id"]][1]))
    kept = [i for i in link.get("note_ids") or [] if i in notes and (i in used or notes[i][0].get("state") != "auto")]
    link["note_ids"] = kept + [w["id"] for w in writes if w["id"] not in kept]
    _prune(link, windows, matched, {i: n for i, (n, _) in notes.items() if n.get("state") != "auto"})
    link.pop("ob", None)
    items.insert(0, repo.link_put(link, version=version))
    repo.transact(items)
    return writes


def _prune(
    link: dict[str, Any], windows: list[list[str]], matched: list[dict[str, Any] | None], frozen: dict[str, Any]
) -> None:
    """Forget closed windows, so the link stays small however long the conversation: the leading windows
    that start more than ``CLOSED_AFTER`` before the newest message and whose note is written as they
    are leave ``msgs`` and ``note_ids`` (their notes stay); ``since`` moves to the next window's start
    (a message older than that is ignored), and frozen notes wholly before it are forgotten too.
    Dropping whole leading windows does not move the later cuts (the cut is greedy from the oldest)."""
    placed = link["msgs"]
    if not placed or len(windows) < 2:
        return
    newest = max(_time(t) for t in placed.values())
    n = 0
    while n < len(windows) - 1:
        w, note = windows[n], matched[n]
        if note is None or set(note["message_ids"]) != set(w) or newest - _time(placed[w[0]]) < CLOSED_AFTER:
            break
        n += 1
    if n == 0:
        return
    floor = placed[windows[n][0]]
    gone = {note["id"] for note in matched[:n] if note is not None}
    for note_id, note in frozen.items():
        if all(placed.get(m, "") < floor for m in note.get("message_ids") or []):  # missing: forgotten
            gone.add(note_id)
    link["msgs"] = {m: t for m, t in placed.items() if t >= floor}
    link["note_ids"] = [i for i in link["note_ids"] if i not in gone]
    link["since"] = max(link["since"], floor)


# -- users' edits ----------------------------------------------------------------------------------------


def list_notes(kind: str, item_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = repo.notes_page(kind, item_id, limit=limit, cursor=cursor)
    return [i for i in items if i.get("state") != "deleted"], nxt


def edit(kind: str, item_id: str, note_id: str, content: str, *, by: str) -> dict[str, Any]:
    """A user's edit: the note keeps its messages and is never written by the function again."""
    for _ in range(_MAX_ATTEMPTS):
        got = repo.note_get(kind, item_id, note_id)
        if got is None or got[0].get("state") == "deleted":
            raise NotFound(f"note {note_id} not found", field="note_id")
        note, version = got
        if not content.strip():
            raise ValidationError("content must not be empty", field="content")
        note |= {"content": content, "state": "edited", "edited_by": by, "updated_at": iso(utcnow())}
        try:
            repo.transact([repo.note_put(note, version=version)])
        except repo.TransactionCanceled:
            continue
        return note
    raise RuntimeError("note keeps changing")


def delete(kind: str, item_id: str, note_id: str, *, by: str) -> None:
    """A user's delete: a tombstone keeps the note's messages out of later notes."""
    for _ in range(_MAX_ATTEMPTS):
        got = repo.note_get(kind, item_id, note_id)
        if got is None or got[0].get("state") == "deleted":
            raise NotFound(f"note {note_id} not found", field="note_id")
        note, version = got
        note |= {"content": "", "state": "deleted", "edited_by": by, "updated_at": iso(utcnow())}
        try:
            repo.transact([repo.note_put(note, version=version)])
        except repo.TransactionCanceled:
            continue
        return
