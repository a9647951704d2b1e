"""Transfers on the local stack: the receiver accepts (no return), takes it with a first reply, or does
not (it returns to the original agent after max_transfer_s through the timers queue); permissions."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from queue_helpers import Http, auth, avail, inbound, setup

from smsdesk.data import timers as timers_repo
from smsdesk.inbox import timers, transfers
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def desk(stack: LocalStack, http: Http, make_user: Any) -> dict[str, Any]:
    """A channel (max transfer 2 s) granted to a team of agents A, B (available) and C (unavailable)."""
    channel_id, agents = setup(stack, http, make_user, "manual", 3, max_transfer_s=2)
    named = dict(zip("ABC", agents, strict=True))
    for name in "AB":
        avail(stack, http, named[name][1], True)
    return {"ch": channel_id, "agents": named}


def assigned_to_a(stack: LocalStack, http: Http, desk: dict[str, Any]) -> str:
    conv_id = inbound(desk["ch"])
    a_id, _ = desk["agents"]["A"]
    s, _, out = http(
        "POST", f"{stack.base_url}/v1/conversations/{conv_id}/assign", headers=auth(stack.token), body={"user_id": a_id}
    )
    assert s == 200 and out["assignee_id"] == a_id, out
    return conv_id


def post(stack: LocalStack, http: Http, conv_id: str, action: str, token: str, body: Any = None) -> Any:
    return http("POST", f"{stack.base_url}/v1/conversations/{conv_id}/{action}", headers=auth(token), body=body)


def get(stack: LocalStack, http: Http, conv_id: str) -> dict[str, Any]:
    return http("GET", f"{stack.base_url}/v1/conversations/{conv_id}", headers=auth(stack.token))[2]


def test_not_taken_returns_to_the_original_agent(stack: LocalStack, http: Http, desk: dict[str, Any]) -> None:
    (a_id, a_tok), (b_id, _) = desk["agents"]["A"], desk["agents"]["B"]
    conv_id = assigned_to_a(stack, http, desk)
    s, _, out = post(stack, http, conv_id, "transfer", a_tok, {"user_id": b_id})
    assert s == 200, out
    assert out["assignee_id"] == b_id and out["transferred_from"] == a_id
    sent = time.monotonic()
    while time.monotonic() - sent < 6:
        conv = get(stack, http, conv_id)
        if conv["assignee_id"] == a_id:
            break
        time.sleep(0.2)
    assert conv["assignee_id"] == a_id and conv["transferred_from"] is None, conv
    assert time.monotonic() - sent >= 1.5  # not before the max transfer time


def test_accepted_transfer_stays(stack: LocalStack, http: Http, desk: dict[str, Any]) -> None:
    (_, a_tok), (b_id, b_tok) = desk["agents"]["A"], desk["agents"]["B"]
    conv_id = assigned_to_a(stack, http, desk)
    assert post(stack, http, conv_id, "transfer", a_tok, {"user_id": b_id})[0] == 200
    s, _, out = post(stack, http, conv_id, "accept", b_tok)
    assert s == 200 and out["assignee_id"] == b_id and out["transferred_from"] is None, out
    assert timers_repo.get(timers.timer_id(transfers.TRANSFER_RETURN, conv_id)) is None  # cancelled
    time.sleep(2.5)  # past the max transfer time: the (cancelled) SQS timer arrives and must do nothing
    assert get(stack, http, conv_id)["assignee_id"] == b_id


def test_return_racing_an_accept_does_nothing(stack: LocalStack, http: Http, desk: dict[str, Any]) -> None:
    """Controllable clock: the return action fired directly after the accept changes nothing."""
    from smsdesk.envelopes import TimerFired
    from smsdesk.models import iso

    (_, a_tok), (b_id, b_tok) = desk["agents"]["A"], desk["agents"]["B"]
    conv_id = assigned_to_a(stack, http, desk)
    _, _, out = post(stack, http, conv_id, "transfer", a_tok, {"user_id": b_id})
    at = dt.datetime.fromisoformat(out["transferred_at"])
    assert post(stack, http, conv_id, "accept", b_tok)[0] == 200
    transfers.transfer_return(
        TimerFired(
            timer_id=timers.timer_id(transfers.TRANSFER_RETURN, conv_id),
            kind=transfers.TRANSFER_RETURN,
            target_id=conv_id,
            due_at=at + dt.timedelta(seconds=2),
            data={"transferred_at": iso(at), "to": b_id},
        )
    )
    assert get(stack, http, conv_id)["assignee_id"] == b_id


def test_transfer_rules(stack: LocalStack, http: Http, desk: dict[str, Any], make_user: Any) -> None:
    (a_id, a_tok), (b_id, b_tok), (c_id, _) = (desk["agents"][k] for k in "ABC")
    conv_id = assigned_to_a(stack, http, desk)
    s, _, err = post(stack, http, conv_id, "transfer", b_tok, {"user_id": b_id})
    assert s == 403 and err["error"]["code"] == "forbidden"  # not B's conversation
    s, _, err = post(stack, http, conv_id, "transfer", a_tok, {"user_id": c_id})
    assert s == 409 and err["error"]["code"] == "user_unavailable"
    outsider, _ = make_user("agent")
    s, _, err = post(stack, http, conv_id, "transfer", a_tok, {"user_id": outsider})
    assert s == 422 and err["error"]["code"] == "cannot_assign"
    s, _, err = post(stack, http, conv_id, "accept", b_tok)
    assert s == 409 and err["error"]["code"] == "no_pending_transfer"
    s, _, err = post(stack, http, conv_id, "transfer", a_tok, {})
    assert s == 422 and err["error"]["field"] == "user_id"
    assert get(stack, http, conv_id)["assignee_id"] == a_id
