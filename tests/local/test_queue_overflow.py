"""Max interactions in queue (issue 6 item 3) on the local stack: once ``max_in_queue`` conversations
wait, new ones wait outside the queue (still in the Unassigned view) and enter in arrival order as
space frees; concurrent arrivals never exceed the cap; the size counters always match the conversations."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from queue_helpers import Http, assignee, auth, avail, inbound, setup

from smsdesk.data import queueing as queue_repo
from smsdesk.data import timers as timers_repo
from smsdesk.envelopes import TimerFired
from smsdesk.inbox import conversations, queueing, timers
from smsdesk.local.stack import LocalStack
from smsdesk.models import iso

pytestmark = pytest.mark.local


def state(conv_id: str) -> str | None:
    conv = conversations.get(conv_id)
    assert conv is not None
    return conv.queue_state()


def stats(stack: LocalStack, http: Http, channel_id: str) -> dict[str, Any]:
    status, _, body = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/stats", headers=auth(stack.token))
    assert status == 200, body
    return body


def act(stack: LocalStack, http: Http, token: str, conv_id: str, action: str, body: Any = None) -> dict[str, Any]:
    status, _, out = http(
        "POST", f"{stack.base_url}/v1/conversations/{conv_id}/{action}", headers=auth(token), body=body
    )
    assert status in (200, 201, 202), out
    return out


def counters_match(stack: LocalStack, http: Http, channel_id: str) -> tuple[int, int]:
    """The stored size counters agree with the conversations themselves (queue and overflow indexes)."""
    got = stats(stack, http, channel_id)
    size = queue_repo.size(channel_id)
    assert size == (got["unassigned_now"], got["overflow_now"]), (size, got)
    return size


def test_full_queue_overflows_and_admits_in_arrival_order(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1, max_in_queue=2)
    (a, ta) = agents[0]
    avail(stack, http, ta, True)
    convs = [inbound(channel_id) for _ in range(5)]
    assert [state(c) for c in convs] == ["waiting", "waiting", "overflow", "overflow", "overflow"]
    assert counters_match(stack, http, channel_id) == (2, 3)
    # nobody is lost: all five are in the Unassigned view, the overflow ones say since when they wait outside
    status, _, page = http(
        "GET", f"{stack.base_url}/v1/conversations?view=unassigned&channel_id={channel_id}", headers=auth(ta)
    )
    assert status == 200, page
    listed = {c["id"]: c for c in page["items"]}
    assert set(listed) == set(convs)
    assert listed[convs[2]]["overflow_at"] and listed[convs[2]]["enqueued_at"] is None
    # a customer writing again while outside keeps their place
    again = inbound_from(channel_id, convs[2])
    assert again == convs[2] and state(convs[2]) == "overflow"

    # an agent answers the oldest: its place admits the oldest waiting outside, not a newer one
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack.token), body={"credits": 5, "reference": "q"}
    )
    assert status in (200, 201), body
    act(stack, http, ta, convs[0], "messages", {"text": "Hello, how can we help?"})
    assert [state(c) for c in convs] == [None, "waiting", "waiting", "overflow", "overflow"]
    # closing a waiting one admits the next; a new arrival queues up behind the overflow
    act(stack, http, ta, convs[1], "close")
    sixth = inbound(channel_id)
    assert [state(c) for c in [*convs, sixth]] == [None, None, "waiting", "waiting", "overflow", "overflow"]
    admitted = conversations.get(convs[3])
    assert admitted is not None and admitted.overflow_at is not None and admitted.enqueued_at is not None
    assert admitted.arrived_at == admitted.overflow_at < admitted.enqueued_at
    counters_match(stack, http, channel_id)

    # an agent may still pick one from outside by hand; unassigned again it returns outside, in its place
    act(stack, http, ta, convs[4], "assign", {"user_id": a})
    assert state(convs[4]) is None and counters_match(stack, http, channel_id) == (2, 1)
    act(stack, http, ta, convs[4], "unassign")
    assert state(convs[4]) == "overflow" and counters_match(stack, http, channel_id) == (2, 2)

    # raising the cap lets the overflow in, oldest first
    status, _, ch = http(
        "PATCH",
        f"{stack.base_url}/v1/channels/{channel_id}",
        headers=auth(stack.token),
        body={"queue": {"strategy": "manual", "max_in_queue": 3}},
    )
    assert status == 200, ch
    assert [state(c) for c in [convs[4], sixth]] == ["waiting", "overflow"]
    # deleting a waiting one (owner) frees its place too
    status, _, _ = http("DELETE", f"{stack.base_url}/v1/conversations/{convs[2]}", headers=auth(stack.token))
    assert status in (200, 204)
    assert state(sixth) == "waiting"
    assert counters_match(stack, http, channel_id) == (3, 0)


def inbound_from(channel_id: str, conv_id: str) -> str:
    """Another inbound from the customer of ``conv_id``."""
    import uuid

    from smsdesk import channels
    from smsdesk.models import InboundSms, utcnow

    conv = conversations.get(conv_id)
    assert conv is not None
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": conv.number},
        to=ch.sender,
        text="still there?",
        received_at=utcnow(),
    )
    return conversations.record_inbound(ch, sms).conversation.id


def test_agents_take_the_queue_and_the_overflow_follows(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "round_robin", 1, max_in_queue=1)
    (a, ta) = agents[0]
    avail(stack, http, ta, True, capacity=1)
    convs = [inbound(channel_id) for _ in range(4)]
    # the first goes to the agent, the second waits in the queue, the rest outside
    assert [assignee(c) for c in convs] == [a, None, None, None]
    assert [state(c) for c in convs] == [None, "waiting", "overflow", "overflow"]
    act(stack, http, ta, convs[0], "close")
    # the queue's head goes to the agent, the oldest outside enters the queue
    assert [assignee(c) for c in convs] == [a, a, None, None]
    assert [state(c) for c in convs] == [None, None, "waiting", "overflow"]
    act(stack, http, ta, convs[1], "close")
    assert [state(c) for c in convs] == [None, None, None, "waiting"] and assignee(convs[2]) == a
    assert counters_match(stack, http, channel_id) == (1, 0)


def test_concurrent_arrivals_never_exceed_the_cap(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=3)
    barrier = threading.Barrier(8)
    made: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            made.append(inbound(channel_id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(made) == 8
    states = [state(c) for c in made]
    assert states.count("waiting") == 3 and states.count("overflow") == 5
    assert counters_match(stack, http, channel_id) == (3, 5)


def test_an_arrival_cannot_overtake_the_overflow(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Space freed but the overflow not admitted yet, and an arrival that read "not full": the admitting
    transaction's condition refuses it, and it waits outside behind the others."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1)
    first, second = inbound(channel_id), inbound(channel_id)
    assert (state(first), state(second)) == ("waiting", "overflow")
    with monkeypatch.context() as m:
        m.setattr(queueing, "left", lambda *a, **k: None)  # the admission after the close is late
        act(stack, http, stack.token, first, "close")
    assert queue_repo.size(channel_id) == (0, 1)
    real, reads = queueing.is_full, []

    def stale_once(channel: Any) -> bool:
        reads.append(channel.id)
        return False if len(reads) == 1 else real(channel)

    monkeypatch.setattr(queueing, "is_full", stale_once)
    third = inbound(channel_id)
    assert len(reads) == 2  # the stale read's transaction was refused; the second read saw the overflow
    assert state(third) == "overflow"
    assert [i["id"] for i in queue_repo.overflow(channel_id, limit=10)] == [second, third]
    queueing.dispatch(channel_id, now=dt.datetime.now(dt.UTC))  # the late admission
    assert (state(second), state(third)) == ("waiting", "overflow")
    counters_match(stack, http, channel_id)


def test_overflow_wait_counts_from_arrival(stack: LocalStack, http: Http, make_user: Any) -> None:
    """Service level and max time in queue measure the customer's wait, the time outside included."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1, max_queue_time_s=600)
    inbound(channel_id)
    second = inbound(channel_id)
    conv = conversations.get(second)
    assert conv is not None and conv.overflow_at is not None
    tid = timers.timer_id(timers.QUEUE_TIMEOUT, second)
    pending = timers_repo.get(tid)
    assert pending is not None  # armed at arrival, although outside the queue
    due = conv.overflow_at + dt.timedelta(seconds=600)
    fired = TimerFired(
        timer_id=tid,
        kind=timers.QUEUE_TIMEOUT,
        target_id=second,
        due_at=due,
        data={"arrived_at": iso(conv.overflow_at)},
    )
    assert timers.fire(fired, now=due) is True
    after = conversations.get(second)
    assert after is not None and after.timed_out_at is not None and after.queue_state() == "overflow"
    assert stats(stack, http, channel_id)["timed_out"] == 1
    assert counters_match(stack, http, channel_id) == (1, 1)


def test_a_customer_back_after_a_close_starts_a_new_interaction(stack: LocalStack, http: Http, make_user: Any) -> None:
    """Closing ends the interaction: when the customer writes again (the conversation reopens) they join
    the back of the queue, held to the cap like any arrival, not their old place."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1)
    first = inbound(channel_id)
    act(stack, http, stack.token, first, "close")
    second = inbound(channel_id)
    assert state(second) == "waiting"
    again = inbound_from(channel_id, first)
    assert again == first  # reopened within the window
    back = conversations.get(first)
    assert back is not None and back.reopened_count == 1
    assert back.queue_state() == "overflow" and back.enqueued_at is None and back.overflow_at is not None
    got = stats(stack, http, channel_id)
    assert (got["abandoned"], got["unassigned_now"], got["overflow_now"]) == (1, 1, 1), got
    counters_match(stack, http, channel_id)


def test_an_agent_starting_a_waiting_conversation_frees_its_place(
    stack: LocalStack, http: Http, make_user: Any
) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1, max_in_queue=1)
    (a, ta) = agents[0]
    first, second = inbound(channel_id), inbound(channel_id)
    assert (state(first), state(second)) == ("waiting", "overflow")
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack.token), body={"credits": 5, "reference": "q"}
    )
    assert status in (200, 201), body
    number = conversations.get(first).number  # type: ignore[union-attr]
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/conversations",
        headers=auth(ta),
        body={"channel_id": channel_id, "to": number, "text": "Hi, this is A from support"},
    )
    assert status == 202 and body["created"] is False, body
    assert assignee(first) == a and state(second) == "waiting"
    counters_match(stack, http, channel_id)


def test_closes_racing_arrivals_keep_the_cap_the_order_and_the_counters(
    stack: LocalStack, http: Http, make_user: Any
) -> None:
    """Two closes (each admitting from outside) race four new arrivals: the queue never holds more than
    the cap, the ones admitted are the oldest outside, and the counters match the conversations."""
    from smsdesk.auth import Caller

    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=2)
    waiting = [inbound(channel_id) for _ in range(2)]
    outside = [inbound(channel_id) for _ in range(3)]
    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    arrived: list[str] = []

    def close(conv_id: str) -> None:
        try:
            barrier.wait()
            conversations.close(owner, conv_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def arrive() -> None:
        try:
            barrier.wait()
            arrived.append(inbound(channel_id))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(c,)) for c in waiting]
    threads += [threading.Thread(target=arrive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(arrived) == 4
    queueing.dispatch(channel_id, now=dt.datetime.now(dt.UTC))  # any admission a race left for later
    # the two oldest outside entered; the third and every new arrival wait outside, in arrival order
    assert [state(c) for c in outside] == ["waiting", "waiting", "overflow"]
    assert all(state(c) == "overflow" for c in arrived)
    order = [i["id"] for i in queue_repo.overflow(channel_id, limit=10)]
    assert order[0] == outside[2] and sorted(order[1:]) == sorted(arrived)
    assert counters_match(stack, http, channel_id) == (2, 5)


def test_admission_steps_over_an_index_that_lags(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overflow index is eventually consistent: it may still list one that left it. Admission skips
    it and takes the next, instead of re-reading the same stale entry."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1)
    first, second, third = inbound(channel_id), inbound(channel_id), inbound(channel_id)
    assert [state(c) for c in (first, second, third)] == ["waiting", "overflow", "overflow"]
    real, reads = queue_repo.overflow, []

    def lagging(channel: str, *, limit: int = 1) -> list[dict[str, Any]]:
        reads.append(limit)
        return [{"id": first}, *real(channel, limit=limit)][:limit]  # `first` is listed though not outside

    monkeypatch.setattr(queue_repo, "overflow", lagging)
    act(stack, http, stack.token, first, "close")
    assert [state(c) for c in (second, third)] == ["waiting", "overflow"]
    assert len(reads) <= 6, reads


def test_the_queue_view_lists_who_waits_in_order(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1, max_in_queue=2)
    (_a, ta) = agents[0]
    convs = [inbound(channel_id) for _ in range(4)]
    status, _, view = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue", headers=auth(ta))
    assert status == 200, view
    assert (view["strategy"], view["max_in_queue"]) == ("manual", 2)
    assert [(e["position"], e["conversation_id"]) for e in view["waiting"]] == [(1, convs[0]), (2, convs[1])]
    assert [(e["position"], e["conversation_id"]) for e in view["overflow"]] == [(1, convs[2]), (2, convs[3])]
    assert view["overflow"][0]["enqueued_at"] is None and view["waiting"][0]["enqueued_at"]
    assert view["waiting"][0]["waited_s"] >= view["waiting"][1]["waited_s"] >= 0
    assert view["waiting"][0]["last_message_preview"] == "hello"
    status, _, view = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue?limit=1", headers=auth(ta))
    assert status == 200 and len(view["waiting"]) == 1 and len(view["overflow"]) == 1, view
    status, _, err = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue?limit=0", headers=auth(ta))
    assert status == 422 and "limit" in json.dumps(err), err
    _, outsider_token = make_user("agent")
    status, _, err = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue", headers=auth(outsider_token))
    assert status == 403 and err["error"]["field"] == "channel_id", err
