"""CRM links on the local stack (issue 16): leads and deals, links from a conversation, and the
transcript notes the ``crmnotes`` function writes from bus events in 24-hour windows.

Time: a message's time is its own (an inbound's ``received_at``), and the windows count from message
times, so the 24/25-hour cases file inbounds with times hours apart (in the past) instead of waiting."""

from __future__ import annotations

import copy
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from queue_helpers import auth

from smsdesk import channels, manifest
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=5)


@pytest.fixture(scope="module")
def channel_id(stack: LocalStack, http: Http) -> str:
    body = {
        "name": f"crm-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
    }
    s, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
    assert s == 201, ch
    s, _, out = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 50, "reference": "crm"},
    )
    assert s == 201, out
    return ch["id"]


def inbound(channel_id: str, number: str, text: str, at: dt.datetime) -> tuple[str, str]:
    """File an inbound SMS received at ``at``; (conversation id, message id)."""
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=at,
    )
    r = conversations.record_inbound(ch, sms, now=at)
    return r.conversation.id, r.message.id


def number() -> str:
    return f"+3161{uuid.uuid4().int % 10**7:07d}"


def notes_of(stack: LocalStack, http: Http, path: str) -> list[dict[str, Any]]:
    s, _, page = http("GET", f"{stack.base_url}/v1/{path}/notes", headers=auth(stack.token))
    assert s == 200, page
    return sorted(page["items"], key=lambda n: n["window_start"])


def wait_notes(
    stack: LocalStack, http: Http, path: str, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 8
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        stack.wait_streams()
        items = notes_of(stack, http, path)
        if pred(items) or time.monotonic() > deadline:
            return items
        time.sleep(0.1)


def texts(note: dict[str, Any]) -> list[str]:
    return [line.rsplit(": ", 1)[1] for line in note["content"].splitlines()[3:]]


def link(stack: LocalStack, http: Http, conv_id: str, **body: Any) -> dict[str, Any]:
    s, _, out = http("POST", f"{stack.base_url}/v1/conversations/{conv_id}/links", headers=auth(stack.token), body=body)
    assert s == 201, out
    return out


def test_leads_and_deals_validate_person_owner_currency_stage(stack: LocalStack, http: Http, channel_id: str) -> None:
    base, h = stack.base_url, auth(stack.token)
    conv_id, _ = inbound(channel_id, number(), "hi", T0)
    person = conversations.get(conv_id).contact_id  # type: ignore[union-attr]

    s, _, lead = http(
        "POST",
        f"{base}/v1/leads",
        headers=h,
        body={"title": "Roof", "person_id": person, "value": 1200, "currency": "eur"},
    )
    assert s == 201, lead
    assert lead["currency"] == "EUR" and lead["status"] == "open" and lead["owner_id"]
    assert http("GET", f"{base}/v1/leads/{lead['id']}", headers=h)[2]["title"] == "Roof"
    for body, field in [
        ({"title": "x", "person_id": "nobody"}, "person_id"),
        ({"title": "x", "person_id": person, "value": 5, "currency": "EUX"}, "currency"),
        ({"title": "x", "person_id": person, "value": 5}, "currency"),
        ({"title": "x", "person_id": person, "owner_id": "ghost"}, "owner_id"),
        ({"title": "x", "person_id": person, "status": "maybe"}, "status"),
    ]:
        s, _, err = http("POST", f"{base}/v1/leads", headers=h, body=body)
        assert s == 422 and field in err["error"]["field"], (body, err)

    s, _, pl = http(
        "POST", f"{base}/v1/pipelines", headers=h, body={"name": "Solar", "stages": [{"name": "New"}, {"name": "Won"}]}
    )
    assert s == 201, pl
    s, _, deal = http(
        "POST", f"{base}/v1/deals", headers=h, body={"title": "Panels", "person_id": person, "pipeline_id": pl["id"]}
    )
    assert s == 201 and deal["stage_id"] == pl["stages"][0]["id"], deal
    s, _, err = http("PATCH", f"{base}/v1/deals/{deal['id']}", headers=h, body={"stage_id": "nope"})
    assert s == 422 and err["error"]["field"] == "stage_id"
    s, _, deal = http(
        "PATCH", f"{base}/v1/deals/{deal['id']}", headers=h, body={"stage_id": pl["stages"][1]["id"], "status": "won"}
    )
    assert s == 200 and deal["status"] == "won" and deal["stage_id"] == pl["stages"][1]["id"]
    s, _, deal2 = http("POST", f"{base}/v1/deals", headers=h, body={"title": "Default", "person_id": person})
    assert s == 201 and deal2["pipeline_id"] == "default"
    s, _, pls = http("GET", f"{base}/v1/pipelines", headers=h)
    assert {p["id"] for p in pls["items"]} >= {"default", pl["id"]}


def test_link_to_a_new_deal_writes_notes_in_24_hour_windows(stack: LocalStack, http: Http, channel_id: str) -> None:
    base, h = stack.base_url, auth(stack.token)
    num = number()
    conv_id, _ = inbound(channel_id, num, "first", T0)
    inbound(channel_id, num, "second", T0 + dt.timedelta(minutes=5))

    lk = link(stack, http, conv_id, kind="deal", create=True)
    deal_id = lk["item_id"]
    s, _, deal = http("GET", f"{base}/v1/deals/{deal_id}", headers=h)
    assert s == 200 and deal["person_id"] == conversations.get(conv_id).contact_id  # type: ignore[union-attr]
    s, _, lks = http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)
    assert [x["id"] for x in lks["items"]] == [lk["id"]]
    assert [x["conversation_id"] for x in http("GET", f"{base}/v1/deals/{deal_id}/links", headers=h)[2]["items"]] == [
        conv_id
    ]

    path = f"deals/{deal_id}"
    (note,) = wait_notes(stack, http, path, lambda n: len(n) == 1)
    assert texts(note) == ["first", "second"]
    assert f"/inbox/{conv_id}" in note["content"] and "Status: open, unassigned" in note["content"]
    assert "· in · Customer (" in note["content"]

    # three more messages within 24 h of the window's start: the same note grows (an agent's reply too)
    inbound(channel_id, num, "third", T0 + dt.timedelta(hours=3))
    s, _, _ = http("POST", f"{base}/v1/conversations/{conv_id}/messages", headers=h, body={"text": "agent here"})
    assert s in (200, 201, 202)
    inbound(channel_id, num, "fourth", T0 + dt.timedelta(hours=23, minutes=59))
    notes = wait_notes(stack, http, path, lambda n: sum(len(texts(x)) for x in n) == 5)
    # the reply is now (days after T0): its own window
    assert [texts(n) for n in notes] == [["first", "second", "third", "fourth"], ["agent here"]]
    assert notes[0]["id"] == note["id"]
    assert "· out · Agent " in notes[1]["content"]

    # 25 h after the first window's start: a new note
    inbound(channel_id, num, "late", T0 + dt.timedelta(hours=25))
    notes = wait_notes(stack, http, path, lambda n: sum(len(texts(x)) for x in n) == 6)
    assert [texts(n) for n in notes] == [["first", "second", "third", "fourth"], ["late"], ["agent here"]]


def test_an_edited_note_is_kept_and_the_next_message_opens_a_new_one(
    stack: LocalStack, http: Http, channel_id: str
) -> None:
    base, h = stack.base_url, auth(stack.token)
    num = number()
    conv_id, _ = inbound(channel_id, num, "hello", T0)
    contact_id = conversations.get(conv_id).contact_id  # type: ignore[union-attr]
    link(stack, http, conv_id, kind="contact", item_id=contact_id)
    path = f"contacts/{contact_id}"
    (note,) = wait_notes(stack, http, path, lambda n: len(n) == 1)

    s, _, edited = http("PATCH", f"{base}/v1/{path}/notes/{note['id']}", headers=h, body={"content": "my summary"})
    assert s == 200 and edited["state"] == "edited"
    inbound(channel_id, num, "again", T0 + dt.timedelta(hours=1))
    notes = wait_notes(stack, http, path, lambda n: len(n) == 2)
    assert notes[0]["content"] == "my summary"
    assert texts(notes[1]) == ["again"]

    # deleted by a user: gone, and the next message opens a new note again
    s, _, _ = http("DELETE", f"{base}/v1/{path}/notes/{notes[1]['id']}", headers=h)
    assert s == 204
    inbound(channel_id, num, "third", T0 + dt.timedelta(hours=2))
    notes = wait_notes(stack, http, path, lambda n: len(n) == 2 and n[1]["id"] != notes[1]["id"])
    assert notes[0]["content"] == "my summary" and texts(notes[1]) == ["third"]
    s, _, err = http("PATCH", f"{base}/v1/{path}/notes/nope", headers=h, body={"content": "x"})
    assert s == 404 and err["error"]["field"] == "note_id"


def _deliver(stack: LocalStack, detail_type: str, detail: dict[str, Any]) -> None:
    """Hand the crmnotes function one bus event directly (a duplicate or a late delivery)."""
    event = {"version": "0", "id": uuid.uuid4().hex, "source": "smsdesk", "detail-type": detail_type, "detail": detail}
    stack.functions.invoke(manifest.function("crmnotes"), copy.deepcopy(event), trigger="bus", source="test")


def test_duplicated_and_reordered_events_give_the_same_notes(stack: LocalStack, http: Http, channel_id: str) -> None:
    """Messages filed out of time order (their events arrive in another order than their times) and
    events delivered twice: the same notes as in order, each message once, in time order."""
    results = []
    for order in ([0, 1, 2, 3, 4], [3, 1, 4, 0, 2]):
        num = number()
        hours = [1.0, 2.0, 3.0, 25.0, 26.0]
        conv_id, _ = inbound(channel_id, num, "start", T0)
        deal = link(stack, http, conv_id, kind="deal", create=True)["item_id"]
        wait_notes(stack, http, f"deals/{deal}", lambda n: len(n) == 1)
        mids = []
        for i in order:
            mids.append(inbound(channel_id, num, f"m{i}", T0 + dt.timedelta(hours=hours[i]))[1])
        notes = wait_notes(stack, http, f"deals/{deal}", lambda n: sum(len(texts(x)) for x in n) == 6)
        for mid in mids:  # every event once more
            _deliver(stack, "message.received", {"message_id": mid, "conversation_id": conv_id})
        again = notes_of(stack, http, f"deals/{deal}")
        assert [(n["id"], n["content"]) for n in again] == [(n["id"], n["content"]) for n in notes]
        results.append([texts(n) for n in notes])
    assert results[0] == results[1] == [["start", "m0", "m1", "m2"], ["m3", "m4"]]


def test_unlink_stops_the_notes(stack: LocalStack, http: Http, channel_id: str) -> None:
    base, h = stack.base_url, auth(stack.token)
    num = number()
    conv_id, _ = inbound(channel_id, num, "one", T0)
    s, _, lead = http(
        "POST", f"{base}/v1/leads", headers=h, body={"title": "L", "person_id": conversations.get(conv_id).contact_id}
    )  # type: ignore[union-attr]
    lk = link(stack, http, conv_id, kind="lead", item_id=lead["id"])
    s, _, err = http(
        "POST", f"{base}/v1/conversations/{conv_id}/links", headers=h, body={"kind": "lead", "item_id": lead["id"]}
    )
    assert s == 409 and err["error"]["code"] == "already_linked"
    wait_notes(stack, http, f"leads/{lead['id']}", lambda n: len(n) == 1)
    s, _, _ = http("DELETE", f"{base}/v1/conversations/{conv_id}/links/{lk['id']}", headers=h)
    assert s == 204
    assert http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)[2]["items"] == []
    _, mid = inbound(channel_id, num, "after", T0 + dt.timedelta(hours=1))
    _deliver(stack, "message.received", {"message_id": mid, "conversation_id": conv_id})
    time.sleep(0.3)
    (note,) = notes_of(stack, http, f"leads/{lead['id']}")
    assert texts(note) == ["one"]

    # deleting a deal removes its links from the conversation
    deal = link(stack, http, conv_id, kind="deal", create=True)["item_id"]
    assert len(http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)[2]["items"]) == 1
    s, _, _ = http("DELETE", f"{base}/v1/deals/{deal}", headers=h)
    assert s == 204
    assert http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)[2]["items"] == []
    assert http("GET", f"{base}/v1/deals/{deal}", headers=h)[0] == 404


def test_concurrent_messages_are_each_placed_once(stack: LocalStack, http: Http, channel_id: str) -> None:
    """Inbounds filed at once from several threads (their events handled concurrently, each link write
    conditioned on its version): one note with every message once, in time order."""
    from concurrent.futures import ThreadPoolExecutor

    num = number()
    conv_id, _ = inbound(channel_id, num, "m00", T0)
    deal = link(stack, http, conv_id, kind="deal", create=True)["item_id"]
    wait_notes(stack, http, f"deals/{deal}", lambda n: len(n) == 1)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: inbound(channel_id, num, f"m{i:02d}", T0 + dt.timedelta(minutes=i)), range(1, 13)))
    notes = wait_notes(stack, http, f"deals/{deal}", lambda n: sum(len(texts(x)) for x in n) >= 13)
    assert [texts(n) for n in notes] == [[f"m{i:02d}" for i in range(13)]]


def test_deleting_a_contact_removes_its_links(stack: LocalStack, http: Http, channel_id: str) -> None:
    """DELETE /v1/contacts/{id} takes the conversation's links to the contact with it (and their
    guards: the conversation may be linked to an item of that id again), and the next message
    writes no transcript note for the contact that is gone."""
    from smsdesk.data import crm as crm_repo

    base, h = stack.base_url, auth(stack.token)
    num = number()
    conv_id, _ = inbound(channel_id, num, "hello", T0)
    contact_id = conversations.get(conv_id).contact_id  # type: ignore[union-attr]
    s, _, lead = http("POST", f"{base}/v1/leads", headers=h, body={"title": "Stays", "person_id": contact_id})
    assert s == 201, lead
    link(stack, http, conv_id, kind="contact", item_id=contact_id)
    kept = link(stack, http, conv_id, kind="lead", item_id=lead["id"])
    wait_notes(stack, http, f"contacts/{contact_id}", lambda n: len(n) == 1)
    assert len(http("GET", f"{base}/v1/contacts/{contact_id}/links", headers=h)[2]["items"]) == 1

    s, _, _ = http("DELETE", f"{base}/v1/contacts/{contact_id}", headers=h)
    assert s == 204
    s, _, lks = http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)
    assert s == 200 and [x["id"] for x in lks["items"]] == [kept["id"]]
    assert crm_repo.item_links("contact", contact_id) == []
    assert crm_repo.link_guard_get(conv_id, f"smsdesk#contact#{contact_id}") is None

    _, mid = inbound(channel_id, num, "after", T0 + dt.timedelta(hours=1))
    stack.wait_streams()
    _deliver(stack, "message.received", {"message_id": mid, "conversation_id": conv_id})
    notes_after, _ = crm_repo.notes_page("contact", contact_id, limit=10, cursor=None)
    assert [texts(n) for n in notes_after] == [["hello"]]  # written before the delete; nothing new
    wait_notes(stack, http, f"leads/{lead['id']}", lambda n: sum(len(texts(x)) for x in n) == 2)
    assert [texts(n) for n in notes_of(stack, http, f"leads/{lead['id']}")] == [["hello", "after"]]

    # linking a contact that no longer exists is refused on its field
    s, _, err = http(
        "POST", f"{base}/v1/conversations/{conv_id}/links", headers=h, body={"kind": "contact", "item_id": contact_id}
    )
    assert s == 422 and err["error"]["field"] == "item_id", err


def test_a_contact_deleted_while_it_is_linked_is_not_linked(
    stack: LocalStack, http: Http, channel_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contact is deleted after the link read it and before the link's transaction: the link's
    check of the item refuses it (422 on ``item_id``), so no link survives its contact."""
    from smsdesk.auth import Caller
    from smsdesk.crm import contacts as crm_contacts
    from smsdesk.crm import links
    from smsdesk.errors import ValidationError

    base, h = stack.base_url, auth(stack.token)
    conv_id, _ = inbound(channel_id, number(), "hi", T0)
    contact_id = conversations.get(conv_id).contact_id  # type: ignore[union-attr]
    read = links._title

    def read_then_deleted(kind: str, item_id: str) -> str:
        title = read(kind, item_id)
        crm_contacts.delete(item_id)  # by someone else, meanwhile
        return title

    monkeypatch.setattr(links, "_title", read_then_deleted)
    with pytest.raises(ValidationError) as exc:
        links.link(Caller("u-admin", "admin", "admin"), conv_id, links.LinkIn(kind="contact", item_id=contact_id))
    assert exc.value.field == "item_id"
    assert http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)[2]["items"] == []


def test_deleting_a_deal_again_after_a_crash_finishes_its_links(stack: LocalStack, http: Http, channel_id: str) -> None:
    """A crash between deleting a deal and deleting its links leaves links behind; the retried DELETE
    answers 404 (the deal is gone) and removes them."""
    from smsdesk.crm import deals
    from smsdesk.data import crm as crm_repo

    base, h = stack.base_url, auth(stack.token)
    conv_id, _ = inbound(channel_id, number(), "hello", T0)
    contact_id = conversations.get(conv_id).contact_id  # type: ignore[union-attr]
    s, _, deal = http("POST", f"{base}/v1/deals", headers=h, body={"title": "Half", "person_id": contact_id})
    assert s == 201, deal
    link(stack, http, conv_id, kind="deal", item_id=deal["id"])
    deals.delete("deal", deal["id"])  # the crash: the deal went, its links stayed
    assert len(crm_repo.item_links("deal", deal["id"])) == 1
    s, _, _ = http("DELETE", f"{base}/v1/deals/{deal['id']}", headers=h)
    assert s == 404
    assert crm_repo.item_links("deal", deal["id"]) == []
    assert http("GET", f"{base}/v1/conversations/{conv_id}/links", headers=h)[2]["items"] == []
