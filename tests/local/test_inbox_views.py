"""The inbox on the local stack: views (unassigned, mine, others, closed) and who may see what,
pagination across channels, assign (only available users with channel access), unassign, close,
reopen, and the conversation events they publish."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smsdesk import channels, events
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
_seq = iter(range(5000, 10_000))


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def customer() -> str:
    return f"+3162{next(_seq):07d}"


def inbound(channel_id: str, number: str, text: str = "Hi", **kw: Any) -> Any:
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=dt.datetime.now(dt.UTC),
    )
    return conversations.record_inbound(ch, sms, **kw)


@pytest.fixture(scope="module")
def world(stack: LocalStack, http: Http, make_user: Any) -> dict[str, Any]:
    """Channels A and C granted to team T, B granted to nobody; agents inside and outside T."""
    base, h = stack.base_url, auth(stack.token)
    status, _, team = http("POST", f"{base}/v1/teams", headers=h, body={"name": f"T-{uuid.uuid4().hex[:6]}"})
    assert status == 201, team
    chans = {}
    for name in "ABC":
        body = {
            "name": f"inbox-{name}-{uuid.uuid4().hex[:6]}",
            "type": "two_way",
            "sender": f"+3164{uuid.uuid4().int % 10**7:07d}",
            "provider": "sandbox",
        }
        status, _, ch = http("POST", f"{base}/v1/channels", headers=h, body=body)
        assert status == 201, ch
        chans[name] = ch["id"]
    for name in "AC":
        status, _, out = http(
            "PUT", f"{base}/v1/channels/{chans[name]}/teams", headers=h, body={"team_ids": [team["id"]]}
        )
        assert status == 200, out
    in_id, in_token = make_user("agent", [team["id"]])
    out_id, out_token = make_user("agent")
    return {"ch": chans, "team": team["id"], "in": (in_id, in_token), "out": (out_id, out_token)}


@pytest.fixture()
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    real = events.publish_many

    def capture(batch: list[tuple[str, dict[str, Any]]]) -> None:
        seen.extend(batch)
        real(batch)

    monkeypatch.setattr(events, "publish_many", capture)
    yield seen


def view(stack: LocalStack, http: Http, token: str, name: str, **params: Any) -> tuple[int, Any]:
    query = "&".join([f"view={name}", *(f"{k}={v}" for k, v in params.items())])
    status, _, body = http("GET", f"{stack.base_url}/v1/conversations?{query}", headers=auth(token))
    return status, body


def ids_in(stack: LocalStack, http: Http, token: str, name: str, **params: Any) -> list[str]:
    status, body = view(stack, http, token, name, **params)
    assert status == 200, body
    return [c["id"] for c in body["items"]]


def act(stack: LocalStack, http: Http, token: str, conv_id: str, action: str, body: Any = None) -> Any:
    return http("POST", f"{stack.base_url}/v1/conversations/{conv_id}/{action}", headers=auth(token), body=body)


def test_who_sees_what(stack: LocalStack, http: Http, world: dict) -> None:
    a = inbound(world["ch"]["A"], customer()).conversation
    b = inbound(world["ch"]["B"], customer()).conversation
    owner, (_, agent_in), (_, agent_out) = stack.token, world["in"], world["out"]

    assert {a.id, b.id} <= set(ids_in(stack, http, owner, "unassigned"))
    assert a.id in ids_in(stack, http, owner, "unassigned", channel_id=world["ch"]["A"])
    assert b.id not in ids_in(stack, http, owner, "unassigned", channel_id=world["ch"]["A"])

    seen = ids_in(stack, http, agent_in, "unassigned")
    assert a.id in seen and b.id not in seen
    assert ids_in(stack, http, agent_out, "unassigned") == []
    status, body = view(stack, http, agent_in, "unassigned", channel_id=world["ch"]["B"])
    assert status == 403 and body["error"]["code"] == "forbidden"

    url = f"{stack.base_url}/v1/conversations"
    assert http("GET", f"{url}/{a.id}", headers=auth(agent_in))[0] == 200
    for token, conv_id in ((agent_in, b.id), (agent_out, a.id)):
        status, _, body = http("GET", f"{url}/{conv_id}", headers=auth(token))
        assert status == 404 and body["error"]["code"] == "not_found"
        status, _, body = act(stack, http, token, conv_id, "close")
        assert status == 404
    assert http("GET", f"{url}?view=everything", headers=auth(owner))[0] == 422


def test_assign_rules_and_views(stack: LocalStack, http: Http, world: dict, published: list) -> None:
    conv = inbound(world["ch"]["A"], customer(), "please help").conversation
    owner = stack.token
    (in_id, agent_in), (out_id, agent_out) = world["in"], world["out"]
    http("PUT", f"{stack.base_url}/v1/me/availability", headers=auth(agent_in), body={"available": False})

    status, _, err = act(stack, http, owner, conv.id, "assign", {"user_id": in_id})
    assert status == 409 and err["error"]["code"] == "user_unavailable" and err["error"]["field"] == "user_id"
    for token in (agent_in, agent_out):
        assert (
            http("PUT", f"{stack.base_url}/v1/me/availability", headers=auth(token), body={"available": True})[0] == 200
        )
    status, _, err = act(stack, http, owner, conv.id, "assign", {"user_id": out_id})
    assert status == 422 and err["error"]["code"] == "cannot_assign"
    status, _, err = act(stack, http, owner, conv.id, "assign", {"user_id": "nobody"})
    assert status == 422 and err["error"]["code"] == "cannot_assign"

    status, _, out = act(stack, http, owner, conv.id, "assign", {"user_id": in_id})
    assert status == 200 and out["assignee_id"] == in_id
    assert conv.id in ids_in(stack, http, agent_in, "mine")
    assert conv.id not in ids_in(stack, http, agent_in, "others")
    assert conv.id in ids_in(stack, http, owner, "others")
    assert conv.id not in ids_in(stack, http, owner, "mine")
    assert conv.id not in ids_in(stack, http, owner, "unassigned")
    assigned = [d for t, d in published if t == "conversation.assigned"]
    assert assigned and assigned[-1]["assignee_id"] == in_id and assigned[-1]["previous_assignee_id"] is None
    assert assigned[-1]["by"] == stack.tokens.user_id and assigned[-1]["conversation_id"] == conv.id

    # an agent of the channel may unassign; it is back under Unassigned
    status, _, out = act(stack, http, agent_in, conv.id, "unassign")
    assert status == 200 and out["assignee_id"] is None
    assert conv.id in ids_in(stack, http, owner, "unassigned") and conv.id not in ids_in(stack, http, agent_in, "mine")
    assert published[-1][0] == "conversation.unassigned" and published[-1][1]["previous_assignee_id"] == in_id


def test_close_reopen_and_conflict(stack: LocalStack, http: Http, world: dict, published: list) -> None:
    owner, number = stack.token, customer()
    conv = inbound(world["ch"]["C"], number).conversation
    status, _, out = act(stack, http, owner, conv.id, "close")
    assert status == 200 and out["status"] == "closed" and out["closed_by"] == stack.tokens.user_id
    assert act(stack, http, owner, conv.id, "close")[0] == 200  # idempotent
    assert [t for t, _ in published].count("conversation.closed") == 1
    assert conv.id in ids_in(stack, http, owner, "closed") and conv.id not in ids_in(stack, http, owner, "unassigned")
    status, _, err = act(stack, http, owner, conv.id, "assign", {"user_id": world["in"][0]})
    assert status == 409 and err["error"]["code"] == "conversation_closed"

    status, _, out = act(stack, http, owner, conv.id, "reopen")
    assert status == 200 and out["status"] == "open" and out["reopened_count"] == 1 and out["closed_at"] is None
    assert published[-1][0] == "conversation.reopened"
    assert inbound(world["ch"]["C"], number).conversation.id == conv.id

    # closed, then a new conversation after the window: the old one cannot be reopened next to it
    assert act(stack, http, owner, conv.id, "close")[0] == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    fresh = inbound(world["ch"]["C"], number, now=later).conversation
    assert fresh.id != conv.id
    status, _, err = act(stack, http, owner, conv.id, "reopen")
    assert status == 409 and err["error"]["code"] == "conversation_open_exists"
    assert err["error"]["open_conversation_id"] == fresh.id
    # close the new one: now the old one may be reopened, and inbounds go to it
    assert act(stack, http, owner, fresh.id, "close")[0] == 200
    assert act(stack, http, owner, conv.id, "reopen")[0] == 200
    assert inbound(world["ch"]["C"], number).conversation.id == conv.id


def test_pagination_most_recent_first_across_channels(stack: LocalStack, http: Http, world: dict) -> None:
    agent_in = world["in"][1]
    made = [inbound(world["ch"][name], customer(), f"n{i}").conversation.id for i, name in enumerate("ACACA")]
    first_status, first = view(stack, http, agent_in, "unassigned", limit=2)
    assert first_status == 200 and len(first["items"]) == 2 and first["cursor"]
    got, cursor = list(first["items"]), first["cursor"]
    while cursor:
        status, page = view(stack, http, agent_in, "unassigned", limit=2, cursor=cursor)
        assert status == 200 and len(page["items"]) <= 2
        got.extend(page["items"])
        cursor = page["cursor"]
    ids = [c["id"] for c in got]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i in made] == list(reversed(made))
    activity = [c["last_activity_at"] for c in got]
    assert activity == sorted(activity, reverse=True)
    assert {c["channel_id"] for c in got} <= {world["ch"]["A"], world["ch"]["C"]}
    assert view(stack, http, agent_in, "unassigned", cursor="not-a-cursor")[0] == 422
