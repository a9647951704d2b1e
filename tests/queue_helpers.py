"""Helpers of the queue tests on the local stack (issue 6): a channel with a strategy granted to a team
of agents, availability through the API, inbounds through ``conversations.record_inbound`` (what the
inbound consumer calls)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

Http = Callable[..., tuple[int, dict[str, str], Any]]
_seq = iter(range(100, 10_000))


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def setup(
    stack: LocalStack, http: Http, make_user: Any, strategy: str, n_agents: int, **queue: Any
) -> tuple[str, list[tuple]]:
    """A channel with ``strategy`` (and other ``queue`` settings) granted to a new team of ``n_agents``
    agents (sorted by user id)."""
    base, owner = stack.base_url, auth(stack.token)
    status, _, team = http("POST", f"{base}/v1/teams", headers=owner, body={"name": f"q-{uuid.uuid4().hex[:8]}"})
    assert status == 201, team
    body = {
        "name": f"q-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "queue": {"strategy": strategy, **queue},
    }
    status, _, ch = http("POST", f"{base}/v1/channels", headers=owner, body=body)
    assert status == 201, ch
    status, _, ch = http("PUT", f"{base}/v1/channels/{ch['id']}/teams", headers=owner, body={"team_ids": [team["id"]]})
    assert status == 200, ch
    agents = sorted(make_user("agent", team_ids=[team["id"]]) for _ in range(n_agents))
    return ch["id"], agents


def avail(stack: LocalStack, http: Http, token: str, available: bool, capacity: int | None = None) -> Any:
    body: dict[str, Any] = {"available": available}
    if capacity is not None:
        body["capacity"] = capacity
    status, _, me = http("PUT", f"{stack.base_url}/v1/me/availability", headers=auth(token), body=body)
    assert status == 200, me
    return me


def inbound(channel_id: str) -> str:
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": f"+3162{next(_seq):07d}"},
        to=ch.sender,
        text="hello",
        received_at=dt.datetime.now(dt.UTC),
    )
    return conversations.record_inbound(ch, sms).conversation.id


def assignee(conv_id: str) -> str | None:
    conv = conversations.get(conv_id)
    assert conv is not None
    return conv.assignee_id


def open_count(stack: LocalStack, http: Http, user_id: str) -> int:
    status, _, user = http("GET", f"{stack.base_url}/v1/users/{user_id}", headers=auth(stack.token))
    assert status == 200, user
    return int(user["open_count"])
