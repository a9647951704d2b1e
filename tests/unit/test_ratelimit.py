"""Per-channel send slots (smsdesk.sending.ratelimit) with a controllable clock, in memory and on DynamoDB (moto),
and how the sender paces jobs with them (sleep, or back on the queue with the reserved slot)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from smsdesk import aws
from smsdesk.data import ratelimit as ddb_store
from smsdesk.envelopes import OutboundJob
from smsdesk.models import Channel, Message, StatusChange
from smsdesk.sending import ratelimit, sender

T0 = 1_800_000_000.0  # a fixed "now" (epoch seconds)
_RESERVE = ratelimit.reserve  # the real one, before any test replaces it
_RESERVE_MANY = ratelimit.reserve_many


def approx(value: Any) -> Any:
    """Epoch seconds compared to 10 µs (pytest.approx's default tolerance is relative)."""
    return pytest.approx(value, rel=0, abs=1e-5)


@pytest.fixture(autouse=True)
def _fresh_hints() -> Iterator[None]:
    ratelimit.forget()
    yield
    ratelimit.forget()


def test_slots_are_spaced_by_the_rate() -> None:
    store = ratelimit.MemoryStore()
    slots = [ratelimit.reserve("ch", 4, now=T0, store=store) for _ in range(8)]
    assert slots == approx([T0 + i * 0.25 for i in range(8)])


def test_fractional_rates() -> None:
    store = ratelimit.MemoryStore()
    assert [ratelimit.reserve("half", 0.5, now=T0, store=store) for _ in range(3)] == approx([T0, T0 + 2, T0 + 4])
    assert [ratelimit.reserve("odd", 2.5, now=T0, store=store) for _ in range(3)] == approx([T0, T0 + 0.4, T0 + 0.8])


def test_idle_time_is_not_saved_up_as_a_burst() -> None:
    store = ratelimit.MemoryStore()
    ratelimit.reserve("ch", 1, now=T0, store=store)
    assert ratelimit.reserve("ch", 1, now=T0 + 60, store=store) == approx(T0 + 60)
    assert ratelimit.reserve("ch", 1, now=T0 + 60, store=store) == approx(T0 + 61)


def test_channels_are_independent() -> None:
    store = ratelimit.MemoryStore()
    ratelimit.reserve("a", 1, now=T0, store=store)
    assert ratelimit.reserve("b", 1, now=T0, store=store) == approx(T0)


def test_a_stale_guess_costs_one_extra_call_at_most() -> None:
    store = ratelimit.MemoryStore()
    ratelimit.reserve("ch", 1, now=T0, store=store)  # 1 call: idle
    ratelimit.forget()  # another process: guesses idle, the channel is busy
    assert ratelimit.reserve("ch", 1, now=T0, store=store) == approx(T0 + 1)
    assert store.calls == 3
    ratelimit.reserve("ch", 1, now=T0, store=store)  # now it knows: busy, 1 call
    assert store.calls == 4


def test_concurrent_reservations_get_distinct_evenly_spaced_slots() -> None:
    store = ratelimit.MemoryStore()
    with ThreadPoolExecutor(8) as pool:
        slots = sorted(pool.map(lambda _: ratelimit.reserve("ch", 10, now=T0, store=store), range(200)))
    assert slots == approx([T0 + i * 0.1 for i in range(200)])


def test_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        ratelimit.interval_us(0)


# -- the DynamoDB store (moto) ------------------------------------------------------------------------------


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("TABLE_NAME", "main-test")
    with mock_aws():
        aws.reset()
        boto3.client("dynamodb").create_table(
            TableName="main-test",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
    aws.reset()


@pytest.mark.usefixtures("ddb")
def test_dynamodb_store_spaces_slots_whatever_each_caller_guesses() -> None:
    """Sequential on purpose: the atomicity of one UpdateItem is DynamoDB's guarantee, and moto's
    in-process backend does not serialise concurrent updates (the threaded test above covers the
    algorithm with a store that does)."""
    assert ratelimit.reserve("ch", 2, now=T0) == approx(T0)
    assert ratelimit.reserve("ch", 2, now=T0 + 0.1) == approx(T0 + 0.5)
    slots = []
    for i in range(20):
        if i % 3 == 0:
            ratelimit.forget()  # a fresh container guesses "idle" and is corrected by the condition
        slots.append(ratelimit.reserve("ch", 2, now=T0 + 0.2))
    assert slots == approx([T0 + 1.0 + i * 0.5 for i in range(20)])
    item = boto3.client("dynamodb").get_item(TableName="main-test", Key={"PK": {"S": "RATE#ch"}, "SK": {"S": "GCRA"}})
    assert int(item["Item"]["tat"]["N"]) == int((T0 + 11.0) * 1_000_000)
    assert ratelimit.reserve("ch", 2, now=T0 + 30) == approx(T0 + 30)  # idle again: no saved-up burst


@pytest.mark.usefixtures("ddb")
def test_dynamodb_store_conditions() -> None:
    step = 1_000_000
    now = int(T0 * 1_000_000)
    assert ddb_store.take_next("c", now_us=now, interval_us=step) is None  # nothing reserved: idle
    assert ddb_store.take_idle("c", now_us=now, interval_us=step)
    assert not ddb_store.take_idle("c", now_us=now, interval_us=step)  # busy until now + 1 s
    assert ddb_store.take_next("c", now_us=now, interval_us=step) == now + step
    assert ddb_store.take_idle("c", now_us=now + 2 * step, interval_us=step)  # idle again at tat


# -- the sender's pacing ------------------------------------------------------------------------------------


def test_backoff_doubles_honours_retry_after_and_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENDER_BACKOFF_BASE_S", raising=False)
    assert [sender.backoff_s(a) for a in range(6)] == [2, 4, 8, 16, 32, 64]
    assert sender.backoff_s(0, retry_after_s=30) == 30
    assert sender.backoff_s(20) == 900
    monkeypatch.setenv("SENDER_BACKOFF_BASE_S", "0")
    assert sender.backoff_s(3) == 0


class Pacing:
    """The sender with its collaborators replaced: records sleeps, re-enqueues and send attempts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, mps: float, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.enqueued: list[tuple[OutboundJob, int]] = []
        self.sent: list[OutboundJob] = []
        self.store = ratelimit.MemoryStore()
        ratelimit.forget()
        created = dt.datetime.fromtimestamp(now, dt.UTC)
        self.channel = Channel(
            id="ch",
            name="c",
            type="one_way",
            sender="Acme",
            provider="sandbox",
            throughput_mps=mps,
            created_at=created,
            updated_at=created,
        )
        msg = Message(
            id="m",
            channel_id="ch",
            to="+31612345678",
            sender="Acme",
            text="hi",
            encoding="GSM-7",
            segments=1,
            credits=1,
            status="queued",
            history=[StatusChange(status="queued", at=created)],
            created_at=dt.datetime.now(dt.UTC),
            provider="sandbox",
        )
        clock = self

        class Time:
            @staticmethod
            def time() -> float:
                return clock.now

            @staticmethod
            def sleep(s: float) -> None:
                clock.sleeps.append(s)
                clock.now += s

        monkeypatch.setattr(sender, "time", Time)
        monkeypatch.setattr(sender.messages, "get", lambda _id: msg)
        monkeypatch.setattr(sender.channels, "get_channel_cached", lambda _id, **_: self.channel)
        monkeypatch.setattr(
            sender.ratelimit, "reserve", lambda cid, mps: _RESERVE(cid, mps, now=clock.now, store=self.store)
        )
        monkeypatch.setattr(sender, "_enqueue", lambda job, delay: self.enqueued.append((job, delay)))
        monkeypatch.setattr(sender, "_send_attempt", lambda ch, job: self.sent.append(job) or "sent")


def test_sender_sleeps_for_a_near_slot_and_requeues_a_far_one(monkeypatch: pytest.MonkeyPatch) -> None:
    p = Pacing(monkeypatch, mps=1, now=T0)
    assert [sender.process(OutboundJob(message_id="m")) for _ in range(2)] == ["sent", "sent"]
    assert p.sleeps == approx([1.0])  # the second slot was 1 s away: within the horizon

    p = Pacing(monkeypatch, mps=0.5, now=T0)
    assert [sender.process(OutboundJob(message_id="m")) for _ in range(3)] == ["sent", "rate_delayed", "rate_delayed"]
    assert p.sleeps == []
    (job_b, delay_b), (job_c, delay_c) = p.enqueued
    assert (job_b.slot_at, delay_b) == (approx(T0 + 2), 1)
    assert (job_c.slot_at, delay_c) == (approx(T0 + 4), 3)
    # A job that comes back for its slot uses it without reserving again.
    p.now = T0 + 3.4
    assert sender.process(job_c) == "sent"
    assert p.sleeps == approx([0.6]) and p.store.calls == 3
    # A job that comes back after its slot has passed reserves a new one instead of bursting.
    p.now = T0 + 10
    assert sender.process(job_b) == "sent"
    assert p.store.calls == 4 and p.store.tat["ch"] == int((T0 + 12) * 1_000_000)


def test_sender_achieves_the_limit_under_a_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    """100 jobs at 5/s: every job is sent exactly once, in slots 0.2 s apart (ratio to the limit = 1)."""
    p = Pacing(monkeypatch, mps=5, now=T0)
    pending: list[tuple[float, OutboundJob]] = [(T0, OutboundJob(message_id="m", attempt=i)) for i in range(100)]
    sent_at: list[float] = []
    while pending:
        pending.sort(key=lambda x: x[0])
        at, job = pending.pop(0)
        p.now = max(p.now, at)
        before = len(p.enqueued)
        outcome = sender.process(job)
        if outcome == "sent":
            sent_at.append(p.now)
        for j, delay in p.enqueued[before:]:
            pending.append((p.now + delay + 0.3, j))  # SQS hands it back a little after the delay
    assert len(sent_at) == 100 and sorted(j.attempt for j in p.sent) == list(range(100))
    rate = (len(sent_at) - 1) / (sent_at[-1] - sent_at[0])
    assert rate == pytest.approx(5, rel=0.01)
    assert all(b - a >= 0.2 - 1e-6 for a, b in itertools.pairwise(sent_at))


# -- slots reserved per batch -------------------------------------------------------------------------------


def test_reserve_many_is_one_update_for_consecutive_slots() -> None:
    store = ratelimit.MemoryStore()
    assert ratelimit.reserve_many("ch", 4, 3, now=T0, store=store) == approx([T0, T0 + 0.25, T0 + 0.5])
    assert store.calls == 1
    # the next reservation (a batch or a single job, any process) continues after the batch
    assert ratelimit.reserve_many("ch", 4, 2, now=T0, store=store) == approx([T0 + 0.75, T0 + 1.0])
    assert ratelimit.reserve("ch", 4, now=T0, store=store) == approx(T0 + 1.25)
    assert store.calls == 3


@pytest.mark.usefixtures("ddb")
def test_reserve_many_on_dynamodb_shares_the_rate_with_single_reservations() -> None:
    assert ratelimit.reserve_many("ch", 2, 4, now=T0) == approx([T0, T0 + 0.5, T0 + 1.0, T0 + 1.5])
    ratelimit.forget()  # another container
    assert ratelimit.reserve("ch", 2, now=T0 + 0.1) == approx(T0 + 2.0)
    assert ratelimit.reserve_many("ch", 2, 2, now=T0 + 0.1) == approx([T0 + 2.5, T0 + 3.0])


def test_sender_reserves_a_batch_of_one_channel_with_one_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of 10 jobs of one channel: one rate-limit update, every job sent in its own slot, spaced by
    the rate (before: one update per job)."""
    p = Pacing(monkeypatch, mps=20, now=T0)
    monkeypatch.setattr(
        sender.ratelimit,
        "reserve_many",
        lambda cid, mps, n: _RESERVE_MANY(cid, mps, n, now=p.now, store=p.store),
    )
    created = dt.datetime.fromtimestamp(T0, dt.UTC)
    jobs = [OutboundJob(message_id=f"m{i}", channel_id="ch", created_at=created) for i in range(10)]
    sender.reserve_batch(jobs)
    sent_at = []
    for job in jobs:
        assert sender.process(job) == "sent"
        sent_at.append(p.now)
    assert p.store.calls == 1
    assert sent_at == approx([T0 + i * 0.05 for i in range(10)])
    # the batch's slots are the channel's: the next job (another batch) comes after them
    assert sender.process(OutboundJob(message_id="x", channel_id="ch", created_at=created)) == "sent"
    assert p.now == approx(T0 + 0.5) and p.store.calls == 2


# -- bulk (campaign) slots: one update each -----------------------------------------------------------------


def test_a_bulk_slot_is_one_update_whether_the_channel_is_idle_or_about_to_be_free() -> None:
    store = ratelimit.MemoryStore()
    assert ratelimit.reserve_bulk("ch", 4, now=T0, store=store) == (approx(T0), 0.0)  # idle
    assert store.calls == 1
    # busy for less than an interval (this process knows): the next slot in line, one update
    assert ratelimit.reserve_bulk("ch", 4, now=T0 + 0.1, store=store) == (approx(T0 + 0.25), 0.0)
    assert store.calls == 2
    # busy for longer than an interval: no slot, and when it frees; still one update (it returns the tat)
    assert ratelimit.reserve_bulk("ch", 4, now=T0 + 0.1, store=store) == (None, approx(T0 + 0.5))
    assert store.calls == 3
    # idle again (this process knows when the channel frees up): one update
    assert ratelimit.reserve_bulk("ch", 4, now=T0 + 2, store=store) == (approx(T0 + 2), 0.0)
    assert store.calls == 4
    # another process guessed wrong ("busy" when idle): one failed update more
    store.tat["ch"] = int((T0 + 2.1) * 1_000_000)
    ratelimit._remember("ch", int((T0 + 10) * 1_000_000))
    assert ratelimit.reserve_bulk("ch", 4, now=T0 + 3, store=store) == (approx(T0 + 3), 0.0)
    assert store.calls == 6


def test_a_bulk_slot_never_books_ahead_of_a_reply() -> None:
    """A fresh container guessing "idle" on a channel a reply has booked ahead learns the tat from the
    failed update and books nothing; the reply's next slot is unchanged."""
    store = ratelimit.MemoryStore()
    assert ratelimit.reserve_many("ch", 2, 3, now=T0, store=store) == approx([T0, T0 + 0.5, T0 + 1.0])
    ratelimit.forget()
    assert ratelimit.reserve_bulk("ch", 2, now=T0 + 0.1, store=store) == (None, approx(T0 + 1.5))
    assert store.calls == 2
    assert ratelimit.reserve("ch", 2, now=T0 + 0.1, store=store) == approx(T0 + 1.5)


@pytest.mark.usefixtures("ddb")
def test_bulk_slots_on_dynamodb() -> None:
    assert ratelimit.reserve_bulk("ch", 2, now=T0) == (approx(T0), 0.0)
    ratelimit.forget()  # another container: guesses idle, the failed update says until when it is busy
    assert ratelimit.reserve_bulk("ch", 2, now=T0 + 0.1) == (approx(T0 + 0.5), 0.0)
    assert ratelimit.reserve_bulk("ch", 2, now=T0 + 0.1) == (None, approx(T0 + 1.0))
    assert ddb_store.take_idle_or_tat("ch", now_us=int(T0 * 1e6), interval_us=1) == (False, int((T0 + 1.0) * 1e6))
