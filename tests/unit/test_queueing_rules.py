"""Queue rules (issue 6), pure: eligibility, each strategy's choice, enqueueing and overflow, load and
queue-size deltas."""

from __future__ import annotations

import datetime as dt

import pytest

from smsdesk.data.queueing import load_delta, size_delta, with_counters, with_load
from smsdesk.inbox.queueing import Agent, admitted, eligible, enqueue, entries, full, pick, starts_interaction
from smsdesk.models import Conversation


@pytest.fixture(autouse=True)
def _table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "t")


T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def agent(
    uid: str, *, available: bool = True, capacity: int = 0, open_count: int = 0, idle_s: int | None = None
) -> Agent:
    last = None if idle_s is None else T0 - dt.timedelta(seconds=idle_s)
    return Agent(uid, available, capacity, open_count, last)


def conv(**kw: object) -> Conversation:
    base: dict[str, object] = {
        "id": "c1",
        "channel_id": "ch",
        "contact_id": "k",
        "number": "+31612345678",
        "status": "open",
        "created_at": T0,
        "last_activity_at": T0,
    }
    return Conversation.model_validate(base | kw)


def test_eligible_needs_availability_and_capacity() -> None:
    pool = [
        agent("a", available=False),
        agent("b", capacity=2, open_count=2),
        agent("c", capacity=2, open_count=1),
        agent("d", capacity=0, open_count=99),
    ]
    assert [a.user_id for a in eligible(pool)] == ["c", "d"]


def test_manual_and_nobody_pick_none() -> None:
    assert pick("manual", [agent("a")]) is None
    assert pick("round_robin", [agent("a", available=False)]) is None
    assert pick("least_busy", []) is None


def test_round_robin_cycles_in_user_order_skipping_ineligible() -> None:
    pool = [agent("c"), agent("a"), agent("b", available=False)]
    got = []
    last = None
    for _ in range(4):
        chosen = pick("round_robin", pool, last_rr=last)
        assert chosen is not None
        got.append(chosen.user_id)
        last = chosen.user_id
    assert got == ["a", "c", "a", "c"]
    assert pick("round_robin", pool, last_rr="b").user_id == "c"  # type: ignore[union-attr]


def test_least_busy_fewest_open_then_longest_idle() -> None:
    pool = [agent("a", open_count=2), agent("b", open_count=1, idle_s=10), agent("c", open_count=1, idle_s=50)]
    assert pick("least_busy", pool).user_id == "c"  # type: ignore[union-attr]
    pool.append(agent("d", open_count=0, capacity=1))
    assert pick("least_busy", pool).user_id == "d"  # type: ignore[union-attr]


def test_longest_idle_prefers_never_assigned_then_oldest() -> None:
    pool = [agent("a", idle_s=5), agent("b", idle_s=500, open_count=3), agent("c", idle_s=60)]
    assert pick("longest_idle", pool).user_id == "b"  # type: ignore[union-attr]
    pool.append(agent("z"))
    assert pick("longest_idle", pool).user_id == "z"  # type: ignore[union-attr]
    pool.append(agent("y", capacity=1, open_count=1))  # never assigned but full
    assert pick("longest_idle", pool).user_id == "z"  # type: ignore[union-attr]


def test_enqueue_only_open_unassigned_not_already_waiting() -> None:
    now = T0 + dt.timedelta(minutes=1)
    assert enqueue(conv(), now).enqueued_at == now
    waiting = conv(enqueued_at=T0)
    assert enqueue(waiting, now).enqueued_at == T0  # keeps its place
    assert enqueue(conv(assignee_id="a"), now).enqueued_at is None
    assert enqueue(conv(status="closed"), now).enqueued_at is None
    answered = conv(enqueued_at=T0, answered_at=T0, answered_by="a", timed_out_at=T0)
    again = enqueue(answered, now)
    assert (again.enqueued_at, again.answered_at, again.answered_by, again.timed_out_at) == (now, None, None, None)


def _deltas(items: list[dict]) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [
        (i["Update"]["Key"]["PK"]["S"], i["Update"]["ExpressionAttributeValues"][":d"]["N"])
        for i in items
        if "Update" in i
    ]


def test_load_delta_follows_open_assignment() -> None:
    assert load_delta(conv(), conv(assignee_id="a")) and _deltas(load_delta(None, conv(assignee_id="a"))) == [
        ("USER#a", "1")
    ]
    assert _deltas(load_delta(conv(assignee_id="a"), conv(assignee_id="b"))) == [("USER#a", "-1"), ("USER#b", "1")]
    assert _deltas(load_delta(conv(assignee_id="a"), conv(assignee_id="a", status="closed"))) == [("USER#a", "-1")]
    assert _deltas(load_delta(conv(assignee_id="a", status="closed"), conv(assignee_id="a"))) == [("USER#a", "1")]
    assert _deltas(load_delta(conv(assignee_id="a"), None)) == [("USER#a", "-1")]
    assert load_delta(conv(assignee_id="a"), conv(assignee_id="a")) == []
    assert load_delta(conv(status="closed", assignee_id="a"), None) == []


def test_with_load_merges_into_an_existing_check_of_the_same_profile() -> None:
    check = {
        "ConditionCheck": {
            "TableName": "t",
            "Key": {"PK": {"S": "USER#b"}, "SK": {"S": "PROFILE"}},
            "ConditionExpression": "available = :t",
            "ExpressionAttributeValues": {":t": {"BOOL": True}},
        }
    }
    items = with_load([{"Put": {}}, check], conv(assignee_id="a"), conv(assignee_id="b"))
    assert len(items) == 3
    merged = items[1]["Update"]
    assert merged["ConditionExpression"] == "available = :t"
    assert merged["ExpressionAttributeValues"][":d"] == {"N": "1"}
    assert _deltas([items[2]]) == [("USER#a", "-1")]


def test_summarize_compliance_and_waits() -> None:
    from smsdesk.inbox.stats import p90, summarize

    outcomes = [{"kind": "answered", "wait_s": w} for w in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)]
    outcomes += [{"kind": "abandoned", "wait_s": 5}, {"kind": "timed_out", "wait_s": 300}]
    got = summarize(outcomes, service_level_s=60)
    assert (got["answered"], got["answered_within_level"], got["abandoned"], got["timed_out"]) == (10, 6, 1, 1)
    assert got["compliance_pct"] == round(600 / 11, 2)
    assert got["avg_wait_s"] == 55 and got["p90_wait_s"] == 90
    assert p90([]) is None and p90([7.0]) == 7.0
    empty = summarize([], 60)
    assert empty["compliance_pct"] is None and empty["avg_wait_s"] is None


def test_stats_window_rules() -> None:
    from smsdesk.errors import ValidationError
    from smsdesk.inbox.stats import window

    assert window(None, None, T0) == (T0 - dt.timedelta(days=1), T0)
    with pytest.raises(ValidationError):
        window(T0, T0, T0)
    with pytest.raises(ValidationError):
        window(T0 - dt.timedelta(days=32), T0, T0)
    with pytest.raises(ValidationError):
        window(dt.datetime(2026, 1, 1), T0, T0)  # naive


T1 = T0 + dt.timedelta(minutes=1)
T2 = T0 + dt.timedelta(minutes=2)


def test_queue_state_waiting_overflow_or_none() -> None:
    assert conv().queue_state() is None  # never enqueued
    assert conv(enqueued_at=T0).queue_state() == "waiting"
    assert conv(overflow_at=T0).queue_state() == "overflow"
    assert conv(overflow_at=T0, enqueued_at=T1).queue_state() == "waiting"  # admitted from the overflow
    assert conv(overflow_at=T0, assignee_id="u").queue_state() is None
    assert conv(enqueued_at=T0, answered_at=T1).queue_state() is None
    assert conv(enqueued_at=T0, status="closed").queue_state() is None
    assert conv(overflow_at=T0, enqueued_at=T1).arrived_at == T0 and conv(enqueued_at=T1).arrived_at == T1


def test_full_only_with_a_limit_and_never_ahead_of_the_overflow() -> None:
    assert full(0, 100, 5) is False  # no limit
    assert full(2, 1, 0) is False
    assert full(2, 2, 0) is True
    assert full(2, 0, 1) is True  # space, but others wait outside: they go first


def test_enqueue_full_waits_outside_and_keeps_its_place() -> None:
    outside = enqueue(conv(), T0, full=True)
    assert (outside.enqueued_at, outside.overflow_at, outside.queue_state()) == (None, T0, "overflow")
    assert not starts_interaction(outside) and enqueue(outside, T1, full=False) == outside
    inside = enqueue(conv(answered_at=T0, enqueued_at=T0, overflow_at=T0), T1, full=False)
    assert (inside.enqueued_at, inside.overflow_at, inside.answered_at) == (T1, None, None)  # a new interaction
    entered = admitted(outside, T2)
    assert entered is not None and (entered.enqueued_at, entered.overflow_at) == (T2, T0)
    assert admitted(entered, T2) is None and admitted(conv(), T2) is None


def _size(items: list) -> dict:
    (only,) = items
    return only["Update"]


def test_size_delta_counts_moves_between_queue_and_overflow() -> None:
    waiting, outside = conv(enqueued_at=T0), conv(overflow_at=T0)
    assert size_delta(waiting, waiting.model_copy(update={"last_activity_at": T1})) == []
    up = _size(size_delta(None, waiting))
    assert up["Key"] == {"PK": {"S": "QUEUE#ch"}, "SK": {"S": "SIZE"}}
    assert up["UpdateExpression"] == "ADD waiting :dw" and up["ExpressionAttributeValues"][":dw"] == {"N": "1"}
    assert "ConditionExpression" not in up  # no limit
    assigned = _size(size_delta(waiting, waiting.model_copy(update={"assignee_id": "u"})))
    assert assigned["ExpressionAttributeValues"][":dw"] == {"N": "-1"} and "ConditionExpression" not in assigned
    move = _size(size_delta(outside, admitted(outside, T1), cap=3))
    assert move["UpdateExpression"] == "ADD waiting :dw, overflow :do"
    assert move["ExpressionAttributeValues"][":do"] == {"N": "-1"}
    assert move["ConditionExpression"] == "(attribute_not_exists(waiting) OR waiting < :cap)"


def test_size_delta_holds_new_arrivals_to_the_cap_but_never_returns() -> None:
    arrival = _size(size_delta(conv(), conv(enqueued_at=T0), cap=2))
    assert "waiting < :cap" in arrival["ConditionExpression"] and "overflow <= :zero" in arrival["ConditionExpression"]
    assert arrival["ExpressionAttributeValues"][":cap"] == {"N": "2"}
    # a new interaction on an answered conversation is an arrival too
    again = _size(size_delta(conv(enqueued_at=T0, answered_at=T0), conv(enqueued_at=T1), cap=2))
    assert "ConditionExpression" in again
    # an unassigned conversation going back to the queue is not refused by a full queue
    back = _size(size_delta(conv(enqueued_at=T0, assignee_id="u"), conv(enqueued_at=T0), cap=2))
    assert "ConditionExpression" not in back
    # deleting a waiting conversation takes it out
    gone = _size(size_delta(conv(overflow_at=T0), None))
    assert gone["UpdateExpression"] == "ADD overflow :do"


def test_with_counters_adds_load_and_size() -> None:
    items = with_counters([], conv(enqueued_at=T0), conv(enqueued_at=T0, assignee_id="u"))
    keys = [i["Update"]["Key"]["PK"]["S"] for i in items]
    assert keys == ["USER#u", "QUEUE#ch"]


def test_queue_entries_number_positions_and_wait_from_arrival() -> None:
    now = T0 + dt.timedelta(minutes=10)
    inside = conv(id="c1", enqueued_at=T1)
    admitted_from_outside = conv(id="c2", overflow_at=T0, enqueued_at=T2)
    got = entries([inside, admitted_from_outside], now)
    assert [(e.position, e.conversation_id) for e in got] == [(1, "c1"), (2, "c2")]
    assert got[0].waited_s == 540.0 and got[1].waited_s == 600.0  # the time outside counts
    assert got[1].arrived_at == T0 and got[1].enqueued_at == T2
