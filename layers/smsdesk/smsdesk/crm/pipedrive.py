"""The Pipedrive connector (issue 16 item 4), optional per account (``crm.settings``).

* **Search** (the link dialog): ``GET {api}/v1/{persons|deals|leads}/search?term=...&api_token=...``;
  a link with ``provider`` ``pipedrive`` stores Pipedrive's id (persons and deals: integers; leads: UUIDs).
* **Notes**: the ``crmnotes`` function derives a link's notes as for smsdesk items (``crm.notes``:
  the note items are the state, with the same 24-hour rules) and mirrors each automatic note into
  Pipedrive: ``POST {api}/v1/notes`` with ``content`` (HTML) and ``person_id``/``deal_id``/``lead_id``,
  then ``PUT {api}/v1/notes/{id}`` with the new content. Before a PUT it reads the note
  (``GET {api}/v1/notes/{id}``): when it is gone (404, ``active_flag`` false) or its content is not what
  smsdesk last wrote, a user edited or deleted it in Pipedrive, so the smsdesk note is frozen at the
  messages Pipedrive showed and the link's notes are derived again: the newer messages open a new note.
* One writer per note: creating the Pipedrive note is claimed on the note item first (a claim older
  than ``CLAIM_S`` may be taken over); the claimant then keeps pushing until Pipedrive shows the
  note's latest content. A crash between Pipedrive's answer and recording its id can leave one
  duplicate note in Pipedrive (nothing else can: Pipedrive has no idempotency key).
* Errors: 429 and 5xx (and network errors) are retried ``ATTEMPTS`` times with backoff (Pipedrive's
  ``Retry-After`` when it gives one, at most ``MAX_WAIT_S``); then the event fails and the bus retries
  it (a redelivered event finds nothing new to place, and syncs what is still pending). None of this
  runs in the inbox's path: the ``crmnotes`` function is the only caller besides the link dialog's search.
"""

from __future__ import annotations

import html
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from smsdesk.crm import notes
from smsdesk.crm import settings as crm_settings
from smsdesk.data import crm as repo
from smsdesk.errors import AppError, ValidationError
from smsdesk.observability import logger

ATTEMPTS = 4
MAX_WAIT_S = 5.0
CLAIM_S = 60
TIMEOUT_S = 10
_TARGET = {"contact": "person_id", "deal": "deal_id", "lead": "lead_id"}
_SEARCH = {"contact": "persons", "deal": "deals", "lead": "leads"}


class PipedriveError(AppError):
    status = 503
    code = "pipedrive_unavailable"


def _sleep_for(attempt: int, retry_after: str | None) -> float:
    try:
        wait = float(retry_after) if retry_after else 0.2 * 2**attempt
    except ValueError:
        wait = 0.2 * 2**attempt
    return min(MAX_WAIT_S, wait) * random.uniform(0.8, 1.0)


def request(method: str, path: str, *, body: dict[str, Any] | None = None, query: dict[str, str] | None = None) -> Any:
    """One Pipedrive API call (``path`` under ``/v1``); the answer's JSON, or None for a 404. Retries 429,
    5xx and network errors; raises :class:`PipedriveError` after the last attempt or on another 4xx."""
    settings = crm_settings.get()
    token = crm_settings.pipedrive_token()
    if not settings.pipedrive_enabled or not token:
        raise ValidationError("the Pipedrive connector is not enabled", field="provider")
    url = f"{settings.pipedrive_api_url}/v1{path}?" + urllib.parse.urlencode({**(query or {}), "api_token": token})
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(ATTEMPTS):
        req = urllib.request.Request(url, data=data, method=method, headers={"Accept": "application/json"})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        retry_after: str | None = None
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code != 429 and exc.code < 500:
                raise PipedriveError(f"Pipedrive answered {exc.code} to {method} {path}") from exc
            retry_after = exc.headers.get("Retry-After")
            logger.warning("pipedrive: retrying", extra={"status": exc.code, "path": path, "attempt": attempt})
        except (urllib.error.URLError, TimeoutError, OSError):
            logger.warning("pipedrive: unreachable", extra={"path": path, "attempt": attempt})
        if attempt + 1 < ATTEMPTS:
            time.sleep(_sleep_for(attempt, retry_after))
    raise PipedriveError(f"Pipedrive did not take {method} {path} after {ATTEMPTS} attempts")


def search(kind: str, term: str) -> list[dict[str, Any]]:
    """Pipedrive's persons, deals or leads matching ``term``: ``[{"id", "title"}]``."""
    if len(term.strip()) < 2:
        raise ValidationError("search with at least 2 characters", field="term")
    out = request("GET", f"/{_SEARCH[kind]}/search", query={"term": term.strip(), "limit": "20"}) or {}
    items = ((out.get("data") or {}).get("items")) or []
    return [
        {"id": str(i["item"]["id"]), "title": i["item"].get("title") or i["item"].get("name") or str(i["item"]["id"])}
        for i in items
        if isinstance(i, dict) and isinstance(i.get("item"), dict) and "id" in i["item"]
    ]


def to_html(content: str) -> str:
    return "<br>".join(html.escape(line) for line in content.splitlines())


def _target(link: dict[str, Any]) -> dict[str, Any]:
    field, item_id = _TARGET[link["kind"]], link["item_id"]
    return {field: item_id if field == "lead_id" else int(item_id) if str(item_id).isdigit() else item_id}


# -- mirroring notes -------------------------------------------------------------------------------------------


def sync_link(link: dict[str, Any]) -> None:
    """Push every automatic note of a Pipedrive link whose content Pipedrive does not show yet."""
    if link.get("provider") != "pipedrive":
        return
    if not crm_settings.get().pipedrive_enabled:
        logger.warning("pipedrive: connector off, notes not mirrored", extra={"link_id": link.get("id")})
        return
    for note_id in list(link.get("note_ids") or []):
        _sync_note(link, note_id)


def _record(link: dict[str, Any], note_id: str, fields: dict[str, Any], *, claim: bool = False) -> bool:
    """Merge ``fields`` into the note (versioned); with ``claim``, only if nobody else holds a fresh claim."""
    for _ in range(8):
        got = repo.note_get(link["kind"], link["item_id"], note_id)
        if got is None:
            return False
        note, version = got
        if claim and note.get("pd_claim", 0) > time.time() - CLAIM_S and not note.get("pd_id"):
            return False
        try:
            repo.transact([repo.note_put({**note, **fields}, version=version)])
        except repo.TransactionCanceled:
            continue
        return True
    return False


def _sync_note(link: dict[str, Any], note_id: str) -> None:
    for _ in range(6):
        got = repo.note_get(link["kind"], link["item_id"], note_id)
        if got is None:
            return
        note, _version = got
        if note.get("state") != "auto" or note.get("pd_sent") == note["content"]:
            return
        body = {"content": to_html(note["content"]), **_target(link)}
        if not note.get("pd_id"):
            if not _record(link, note_id, {"pd_claim": int(time.time())}, claim=True):
                return  # another invocation is creating it, and will push the latest content
            try:
                out = request("POST", "/notes", body=body)
            except Exception:
                _record(link, note_id, {"pd_claim": 0})  # not created: a retry may claim it at once
                raise
        else:
            current = request("GET", f"/notes/{note['pd_id']}")
            data = (current or {}).get("data") if isinstance(current, dict) else None
            if not data or data.get("active_flag") is False or data.get("content") != note.get("pd_content"):
                # edited or deleted in Pipedrive: keep it as the user left it, at the messages it showed
                logger.info("pipedrive: note changed by a user", extra={"note_id": note_id, "pd_id": note["pd_id"]})
                frozen = {"state": "edited", "edited_by": "pipedrive", "message_ids": note.get("pd_message_ids") or []}
                if _record(link, note_id, frozen):
                    notes.apply(link["id"], None, rederive=True)
                return
            out = request("PUT", f"/notes/{note['pd_id']}", body=body)
        data = (out or {}).get("data") or {}
        if not data.get("id"):
            raise PipedriveError(f"Pipedrive did not return the note for {note_id}")
        _record(
            link,
            note_id,
            {
                "pd_id": data["id"],
                "pd_content": data.get("content", body["content"]),
                "pd_sent": note["content"],
                "pd_message_ids": note["message_ids"],
            },
        )
