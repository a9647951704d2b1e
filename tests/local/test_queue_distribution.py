"""Queue distribution on the local stack (issue 6): strategies, capacity, availability changes,
arrival order and concurrent dispatchers. Inbounds go through ``conversations.record_inbound`` (what
the inbound consumer calls); agents act through the public API."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from queue_helpers import Http, assignee, auth, avail, inbound, open_count, setup

from smsdesk.inbox import conversations, queueing
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def test_manual_stays_unassigned(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1)
    avail(stack, http, agents[0][1], True)
    conv_id = inbound(channel_id)
    assert assignee(conv_id) is None
    conv = conversations.get(conv_id)
    assert conv is not None and conv.enqueued_at is not None


def test_round_robin_skips_unavailable(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "round_robin", 3)
    (a, ta), (b, tb), (c, tc) = agents
    avail(stack, http, ta, True)
    avail(stack, http, tc, True)
    got = [assignee(inbound(channel_id)) for _ in range(4)]
    assert got == [a, c, a, c]
    avail(stack, http, tb, True)
    got = [assignee(inbound(channel_id)) for _ in range(3)]
    assert got == [a, b, c]
    assert open_count(stack, http, a) == 3 and open_count(stack, http, b) == 1


def test_capacity_waits_in_arrival_order_and_frees_on_close(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "least_busy", 2)
    (a, ta), (b, tb) = agents
    convs = [inbound(channel_id) for _ in range(4)]  # nobody available: all wait
    assert [assignee(c) for c in convs] == [None] * 4
    me = avail(stack, http, ta, True, capacity=2)
    assert me["capacity"] == 2
    assert [assignee(c) for c in convs] == [a, a, None, None]  # the two oldest
    avail(stack, http, tb, True, capacity=1)
    assert [assignee(c) for c in convs] == [a, a, b, None]
    fifth = inbound(channel_id)
    assert assignee(fifth) is None
    status, _, _ = http("POST", f"{stack.base_url}/v1/conversations/{convs[0]}/close", headers=auth(ta))
    assert status == 200
    assert assignee(convs[3]) == a and assignee(fifth) is None  # arrival order
    assert open_count(stack, http, a) == 2 and open_count(stack, http, b) == 1
    # an admin raises b's capacity: the last one goes to b
    status, _, user = http("PATCH", f"{stack.base_url}/v1/users/{b}", headers=auth(stack.token), body={"capacity": 2})
    assert status == 200 and user["capacity"] == 2, user
    queueing.dispatch(channel_id, now=dt.datetime.now(dt.UTC))
    assert assignee(fifth) == b
    # unavailable: ongoing conversations stay, nothing new
    avail(stack, http, tb, False)
    sixth = inbound(channel_id)
    assert assignee(sixth) is None and assignee(fifth) == b


def test_unassign_frees_capacity(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "longest_idle", 1)
    (a, ta) = agents[0]
    avail(stack, http, ta, True, capacity=1)
    first, second = inbound(channel_id), inbound(channel_id)
    assert (assignee(first), assignee(second)) == (a, None)
    status, _, body = http("POST", f"{stack.base_url}/v1/conversations/{first}/unassign", headers=auth(ta))
    assert status == 200, body
    # `first` is back in the queue behind nobody (it kept its place), so it is offered first again
    assert assignee(first) == a and assignee(second) is None
    assert open_count(stack, http, a) == 1


def test_concurrent_dispatchers_never_exceed_capacity(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "round_robin", 2)
    convs = [inbound(channel_id) for _ in range(8)]
    for _, token in agents:
        avail(stack, http, token, False, capacity=3)
    from smsdesk.data import users as users_repo

    for uid, _ in agents:  # available without triggering a dispatch, so the threads race
        users_repo.set_available(uid, True)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            queueing.dispatch(channel_id, now=dt.datetime.now(dt.UTC))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    got = [assignee(c) for c in convs]
    assert got[:6].count(None) == 0 and got[6:] == [None, None]
    for uid, _ in agents:
        assert got.count(uid) == 3
        assert open_count(stack, http, uid) == 3


def test_enqueue_arms_queue_timeout_and_assignment_cancels_it(stack: LocalStack, http: Http, make_user: Any) -> None:
    from smsdesk.data import timers as timers_repo
    from smsdesk.inbox import timers

    channel_id, agents = setup(stack, http, make_user, "round_robin", 1)
    status, _, ch = http(
        "PATCH",
        f"{stack.base_url}/v1/channels/{channel_id}",
        headers=auth(stack.token),
        body={"queue": {"strategy": "round_robin", "max_queue_time_s": 600}},
    )
    assert status == 200, ch
    conv_id = inbound(channel_id)
    tid = timers.timer_id(timers.QUEUE_TIMEOUT, conv_id)
    assert timers_repo.get(tid) is not None and assignee(conv_id) is None
    avail(stack, http, agents[0][1], True)
    assert assignee(conv_id) == agents[0][0]
    assert timers_repo.get(tid) is None


def test_assign_and_transfer_respect_capacity(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capacity is a maximum for people too: assigning or transferring to a colleague at capacity is a
    clear 409 (nothing changes), re-assigning to the same colleague stays idempotent."""
    channel_id, agents = setup(stack, http, make_user, "manual", 2)
    (a, ta), (b, tb) = agents
    avail(stack, http, ta, True, capacity=1)
    avail(stack, http, tb, True, capacity=1)
    first, second, third = inbound(channel_id), inbound(channel_id), inbound(channel_id)
    base = f"{stack.base_url}/v1/conversations"
    status, _, body = http("POST", f"{base}/{first}/assign", headers=auth(ta), body={"user_id": a})
    assert status == 200, body
    status, _, body = http("POST", f"{base}/{first}/assign", headers=auth(ta), body={"user_id": a})
    assert status == 200 and body["assignee_id"] == a  # idempotent at capacity
    status, _, err = http("POST", f"{base}/{second}/assign", headers=auth(stack.token), body={"user_id": a})
    assert status == 409, err
    assert err["error"]["code"] == "user_at_capacity" and err["error"]["field"] == "user_id"
    assert (err["error"]["capacity"], err["error"]["open_count"]) == (1, 1)
    assert assignee(second) is None and open_count(stack, http, a) == 1
    # b takes the second; a cannot hand the first to b now
    status, _, body = http("POST", f"{base}/{second}/assign", headers=auth(tb), body={"user_id": b})
    assert status == 200, body
    status, _, err = http("POST", f"{base}/{first}/transfer", headers=auth(ta), body={"user_id": b})
    assert status == 409 and err["error"]["code"] == "user_at_capacity", err
    assert assignee(first) == a and open_count(stack, http, b) == 1
    # a stale read of b's load does not get past the write's own condition
    from smsdesk.data import users as users_repo

    real = users_repo.get_profile
    stale = {**real(b), "open_count": 0}  # type: ignore[dict-item]
    calls: list[str] = []

    def once_stale(user_id: str) -> Any:
        calls.append(user_id)
        return stale if len(calls) == 1 else real(user_id)

    monkeypatch.setattr(users_repo, "get_profile", once_stale)
    status, _, err = http("POST", f"{base}/{third}/assign", headers=auth(stack.token), body={"user_id": b})
    assert status == 409 and err["error"]["code"] == "user_at_capacity", err
    assert len(calls) == 2 and assignee(third) is None and open_count(stack, http, b) == 1


def test_dispatch_steps_over_an_index_that_lags(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue index is eventually consistent: it may still list a conversation that was assigned.
    Dispatch skips it and offers the next ones instead of re-reading the stale entry until it gives up."""
    from smsdesk.data import queueing as queue_repo

    channel_id, agents = setup(stack, http, make_user, "round_robin", 1)
    (a, ta) = agents[0]
    avail(stack, http, ta, True)
    taken = inbound(channel_id)
    avail(stack, http, ta, False)
    later = [inbound(channel_id), inbound(channel_id)]
    assert assignee(taken) == a and [assignee(c) for c in later] == [None, None]
    real, reads = queue_repo.waiting, []

    def lagging(channel: str, *, limit: int = 10) -> list[dict[str, Any]]:
        reads.append(limit)
        return [{"id": taken}, *real(channel, limit=limit)][:limit]  # `taken` is listed though assigned

    monkeypatch.setattr(queue_repo, "waiting", lagging)
    avail(stack, http, ta, True)
    assert [assignee(c) for c in later] == [a, a]
    assert len(reads) <= 8, reads
