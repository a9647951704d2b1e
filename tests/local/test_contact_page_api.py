"""What a contact's page shows, through the local stack (issue 13): the contact's conversations (every
channel the caller may use, most recent first, paged) and every group it is in, dynamic ones included."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(stack: LocalStack, http: Any) -> Any:
    def call(method: str, path: str, body: Any = None, expect: int | None = None, token: str | None = None) -> Any:
        status, _, out = http(method, f"{stack.base_url}{path}", headers=auth(token or stack.token), body=body)
        if expect is not None:
            assert status == expect, (method, path, status, out)
            return out
        return status, out

    return call


def inbound(channel_id: str, number: str, text: str = "Hi") -> Any:
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=dt.datetime.now(dt.UTC),
    )
    return conversations.record_inbound(ch, sms).conversation


def _channel(api: Any, name: str) -> str:
    body = {
        "name": f"{name}-{uuid.uuid4().hex[:6]}",
        "type": "two_way",
        "sender": f"+3166{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "queue": {"reopen_window_h": 0},
    }
    return api("POST", "/v1/channels", body, 201)["id"]


def test_a_contacts_conversations_on_every_channel_the_caller_may_use(api: Any, make_user: Any) -> None:
    team = api("POST", "/v1/teams", {"name": f"T-{uuid.uuid4().hex[:6]}"}, 201)["id"]
    a, b = _channel(api, "A"), _channel(api, "B")
    api("PUT", f"/v1/channels/{a}/teams", {"team_ids": [team]}, 200)
    _, agent = make_user("agent", [team])

    contact = api("POST", "/v1/contacts", {"first_name": "Conv", "mobile": "+31612340101"}, 201)
    first = inbound(a, "+31612340101", "first")
    api("POST", f"/v1/conversations/{first.id}/close", expect=200)
    second = inbound(a, "+31612340101", "again")  # closed: a new one
    on_b = inbound(b, "+31612340101", "other channel")
    inbound(a, "+31612340102", "someone else")
    assert len({first.id, second.id, on_b.id}) == 3

    page = api("GET", f"/v1/contacts/{contact['id']}/conversations", expect=200)
    assert [c["id"] for c in page["items"]] == [on_b.id, second.id, first.id]  # most recent activity first
    assert page["cursor"] is None
    assert [c["status"] for c in page["items"]] == ["open", "open", "closed"]
    assert {c["number"] for c in page["items"]} == {"+31612340101"}

    # paged
    one = api("GET", f"/v1/contacts/{contact['id']}/conversations?limit=2", expect=200)
    assert [c["id"] for c in one["items"]] == [on_b.id, second.id] and one["cursor"]
    rest = api("GET", f"/v1/contacts/{contact['id']}/conversations?limit=2&cursor={one['cursor']}", expect=200)
    assert [c["id"] for c in rest["items"]] == [first.id] and rest["cursor"] is None

    # an agent sees only the channels it may use
    mine = api("GET", f"/v1/contacts/{contact['id']}/conversations", expect=200, token=agent)
    assert [c["id"] for c in mine["items"]] == [second.id, first.id]

    # new activity moves a conversation up; a deleted conversation is gone
    inbound(a, "+31612340101", "later")
    page = api("GET", f"/v1/contacts/{contact['id']}/conversations", expect=200)
    assert [c["id"] for c in page["items"]] == [second.id, on_b.id, first.id]
    api("DELETE", f"/v1/conversations/{first.id}", expect=200)
    page = api("GET", f"/v1/contacts/{contact['id']}/conversations", expect=200)
    assert [c["id"] for c in page["items"]] == [second.id, on_b.id]

    # a cursor of another list, an unknown contact, a contact without a mobile
    status, err = api("GET", f"/v1/contacts/{contact['id']}/conversations?cursor=eyJrIjp7fX0=")
    assert status == 422 and err["error"]["field"] == "cursor", err
    status, err = api("GET", "/v1/contacts/NOPE/conversations")
    assert status == 404 and err["error"]["field"] == "contact_id", err
    nobody = api("POST", "/v1/contacts", {"first_name": "No number"}, 201)
    assert api("GET", f"/v1/contacts/{nobody['id']}/conversations", expect=200) == {"items": [], "cursor": None}


def test_a_contacts_groups_include_the_dynamic_groups_it_matches(api: Any) -> None:
    api("POST", "/v1/contact-fields", {"key": "town", "label": "Town", "type": "text"}, 201)
    api("POST", "/v1/contact-fields", {"key": "years", "label": "Years", "type": "number"}, 201)
    rule = {
        "all": [{"field": "town", "op": "equals", "value": "Lyon"}, {"field": "years", "op": "greater", "value": 17}]
    }
    adults = api("POST", "/v1/groups", {"name": "Lyon adults", "kind": "dynamic", "rule": rule}, 201)
    tagged = api(
        "POST",
        "/v1/groups",
        {"name": "Choir dyn", "kind": "dynamic", "rule": {"field": "tags", "op": "equals", "value": "choir"}},
        201,
    )
    static = api("POST", "/v1/groups", {"name": "Board"}, 201)

    lea = api("POST", "/v1/contacts", {"first_name": "Léa", "custom_fields": {"town": "lyon", "years": 30}}, 201)
    tom = api("POST", "/v1/contacts", {"first_name": "Tom", "custom_fields": {"town": "Paris", "years": 30}}, 201)
    api("POST", f"/v1/groups/{static['id']}/members", {"contact_ids": [lea["id"]]}, 200)

    def groups(contact_id: str) -> list[tuple[str, str]]:
        items = api("GET", f"/v1/contacts/{contact_id}/groups", expect=200)["items"]
        return [(g["id"], g["kind"]) for g in items]

    assert groups(lea["id"]) == [(static["id"], "static"), (adults["id"], "dynamic")]  # by name
    assert groups(tom["id"]) == []
    api("PATCH", f"/v1/contacts/{tom['id']}", {"custom_fields": {"town": "Lyon"}, "tags": ["choir"]}, 200)
    assert groups(tom["id"]) == [(tagged["id"], "dynamic"), (adults["id"], "dynamic")]
