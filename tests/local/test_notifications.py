"""Notifications on the local stack: preferences, the notifier turning bus events into feed items by
preference and channel access, read marks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from queue_helpers import avail, inbound, setup

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, utcnow

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def feed(stack: LocalStack, http: Http, token: str) -> list[dict[str, Any]]:
    s, _, out = http("GET", f"{stack.base_url}/v1/notifications", headers=auth(token))
    assert s == 200, out
    return out["items"]


def wait_feed(stack: LocalStack, http: Http, token: str, pred: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    deadline = time.monotonic() + 6
    items = feed(stack, http, token)
    while not pred(items) and time.monotonic() < deadline:
        time.sleep(0.2)
        items = feed(stack, http, token)
    return items


def test_preferences_round_trip(stack: LocalStack, http: Http, make_user: Any) -> None:
    _, tok = make_user("agent")
    url = f"{stack.base_url}/v1/me/notification-preferences"
    s, _, prefs = http("GET", url, headers=auth(tok))
    assert s == 200 and prefs == {
        "new_message_mine": True,
        "new_message_others": False,
        "new_message_unassigned": True,
        "assigned_to_me": True,
    }
    s, _, prefs = http("PUT", url, headers=auth(tok), body={"new_message_others": True})
    assert s == 200 and prefs["new_message_others"] is True and prefs["new_message_mine"] is True
    assert http("GET", url, headers=auth(tok))[2]["new_message_others"] is True
    s, _, err = http("PUT", url, headers=auth(tok), body={"bogus": True})
    assert s == 422 and err["error"]["field"] == "bogus"


def test_feed_by_preference_and_access(stack: LocalStack, http: Http, make_user: Any) -> None:
    base, h = stack.base_url, auth(stack.token)
    _, team = http("POST", f"{base}/v1/teams", headers=h, body={"name": f"N-{uuid.uuid4().hex[:6]}"})[1:]
    body = {
        "name": f"nt-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
    }
    s, _, ch = http("POST", f"{base}/v1/channels", headers=h, body=body)
    assert s == 201, ch
    assert http("PUT", f"{base}/v1/channels/{ch['id']}/teams", headers=h, body={"team_ids": [team["id"]]})[0] == 200
    a_id, a_tok = make_user("agent", [team["id"]])
    _, b_tok = make_user("agent", [team["id"]])
    _, quiet_tok = make_user("agent", [team["id"]])
    _, out_tok = make_user("agent")  # not in the team: never notified
    prefs = f"{base}/v1/me/notification-preferences"
    assert http("PUT", prefs, headers=auth(quiet_tok), body={"new_message_unassigned": False})[0] == 200
    assert http("PUT", f"{base}/v1/me/availability", headers=auth(a_tok), body={"available": True})[0] == 200

    channel = channels.get_channel(ch["id"])

    def inbound() -> str:
        sms = InboundSms(
            provider="sandbox",
            provider_id=f"SBXIN{uuid.uuid4().hex}",
            **{"from": "+31612300077"},
            to=channel.sender,
            text="hello",
            received_at=utcnow(),
        )
        return conversations.record_inbound(channel, sms).conversation.id

    conv_id = inbound()
    items = wait_feed(stack, http, b_tok, lambda i: len(i) >= 1)
    assert [(n["kind"], n["conversation_id"]) for n in items] == [("new_message_unassigned", conv_id)]
    assert items[0]["read_at"] is None
    assert wait_feed(stack, http, a_tok, lambda i: len(i) >= 1)[0]["kind"] == "new_message_unassigned"

    s, _, _ = http("POST", f"{base}/v1/conversations/{conv_id}/assign", headers=h, body={"user_id": a_id})
    assert s == 200
    items = wait_feed(stack, http, a_tok, lambda i: len(i) >= 2)
    assert items[0]["kind"] == "assigned_to_me"  # newest first

    inbound()  # now A's conversation: A gets "mine", B ("others" off by default) nothing more
    items = wait_feed(stack, http, a_tok, lambda i: len(i) >= 3)
    assert items[0]["kind"] == "new_message_mine"
    time.sleep(0.5)
    assert len(feed(stack, http, b_tok)) == 1
    assert feed(stack, http, quiet_tok) == [] and feed(stack, http, out_tok) == []

    nid = items[0]["id"]
    s, _, _ = http("POST", f"{base}/v1/notifications/{nid}/read", headers=auth(a_tok))
    assert s == 200
    assert feed(stack, http, a_tok)[0]["read_at"] is not None
    s, _, err = http("POST", f"{base}/v1/notifications/{nid}/read", headers=auth(b_tok))
    assert s == 404 and err["error"]["code"] == "not_found"  # someone else's


def test_a_queue_assignment_notifies_the_agent_not_the_whole_team(
    stack: LocalStack, http: Http, make_user: Any
) -> None:
    """On a distributing channel, an inbound the queue hands to A right away is A's message (and A's
    assignment); colleagues who follow unassigned conversations are not pinged for it."""
    channel_id, agents = setup(stack, http, make_user, "round_robin", 2)
    (a, ta), (_b, tb) = agents
    avail(stack, http, ta, True)
    conv_id = inbound(channel_id)
    got = conversations.get(conv_id)
    assert got is not None and got.assignee_id == a
    items = wait_feed(stack, http, ta, lambda i: len(i) >= 2)
    assert sorted(n["kind"] for n in items) == ["assigned_to_me", "new_message_mine"]
    assert {n["conversation_id"] for n in items} == {conv_id}
    time.sleep(1.0)  # the notifier had time to (wrongly) notify B
    assert feed(stack, http, tb) == []
