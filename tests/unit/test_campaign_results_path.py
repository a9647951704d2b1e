"""A campaign message's outcome reaches its campaign's counts through the ``campaign-results`` queue,
fed by the outbox relay from the message row's own stream record (not from a bus event), and consumed
in batches by the ``fanout`` function. Pure: the manifest, the relay's job, the stream filter."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from smsdesk import aws, manifest, outbox, outbox_relay
from smsdesk.data.table import serialize
from smsdesk.envelopes import CampaignOutcomeJob
from smsdesk.local.pollers import QueuePoller
from smsdesk.local.streams import matches


def record(seq: int, new: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    ddb: dict[str, Any] = {"SequenceNumber": str(seq), "NewImage": serialize(new)}
    if old is not None:
        ddb["OldImage"] = serialize(old)
    return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": ddb}


def message_row(status: str, *, campaign_id: str | None = "c1", provider_id: str | None = "p1", ob: bool = True):
    out: dict[str, Any] = {"PK": "MSG#m1", "SK": "META", "id": "m1", "status": status, "version": 4}
    if campaign_id:
        out["campaign_id"] = campaign_id
    if provider_id:
        out["provider_id"] = provider_id
    if ob:
        out["ob"] = {"id": f"ob-{status}"}  # announces nothing here: only the outcome job is looked at
    return out


def results_jobs(rec: dict[str, Any]) -> list[dict[str, Any]]:
    _, jobs = outbox_relay.pending(rec)
    return [json.loads(j["body"]) for j in jobs if j["queue"] == manifest.CAMPAIGN_RESULTS_QUEUE.name]


# -- the manifest ---------------------------------------------------------------------------------------


def test_the_outcomes_come_from_a_queue_not_a_bus_rule() -> None:
    q = manifest.queue("campaign-results")
    assert q in manifest.QUEUES and q is manifest.CAMPAIGN_RESULTS_QUEUE and q.dlq_name == "campaign-results-dlq"
    fanout = manifest.function("fanout")
    assert not [t for t in fanout.triggers if isinstance(t, manifest.BusRule)]  # the bus rule is gone
    (trigger,) = [t for t in fanout.triggers if isinstance(t, manifest.QueueTrigger) and t.queue is q]
    assert trigger.batch_size >= 10 and trigger.max_batching_window_s >= 1  # outcomes come in batches
    assert manifest.Access(q, "send") in manifest.function("outbox").access  # the relay queues them
    for fn in manifest.FUNCTIONS:  # no other rule counts them either
        assert not [t for t in fn.triggers if isinstance(t, manifest.BusRule) and t.name == "campaign-results"]


# -- the relay: the job comes from the message row's stream record --------------------------------------


@pytest.mark.parametrize(
    ("status", "provider_id", "sent"),
    [("delivered", "p1", True), ("undelivered", "p1", True), ("failed", "p1", True), ("failed", None, False)],
)
def test_a_campaign_message_entering_a_final_status_queues_its_outcome(
    status: str, provider_id: str | None, sent: bool
) -> None:
    old = message_row("sent" if provider_id else "sending", provider_id=provider_id)
    [body] = results_jobs(record(1, message_row(status, provider_id=provider_id), old))
    job = CampaignOutcomeJob.model_validate(body)
    assert (job.campaign_id, job.message_id, job.status) == ("c1", "m1", status)
    assert job.with_provider_id is sent


def test_the_outcome_is_queued_even_when_the_write_announces_nothing() -> None:
    """A deployment that publishes no per-message events: the final write carries no ``ob``; the
    counts must not depend on it."""
    old = message_row("sent")
    [body] = results_jobs(record(1, message_row("delivered", ob=False), old))
    assert body["status"] == "delivered"
    events, jobs = outbox_relay.pending(record(1, message_row("delivered", ob=False), old))
    assert events == [] and len(jobs) == 1


def test_no_outcome_for_other_writes() -> None:
    final, sent = message_row("delivered"), message_row("sent")
    assert results_jobs(record(1, sent, message_row("sending"))) == []  # not final
    assert results_jobs(record(2, {**final, "ob": {"id": "later"}}, final)) == []  # was final already
    assert results_jobs(record(3, message_row("delivered", campaign_id=None), sent)) == []  # no campaign
    campaign_item = {"PK": "CAMPAIGN#c1", "SK": "META", "campaign_id": "c1", "status": "failed", "ob": {"id": "x"}}
    assert results_jobs(record(4, campaign_item, {**campaign_item, "status": "running"})) == []  # not a message


def test_a_message_born_final_counts() -> None:
    """An INSERT already final (no old image): its outcome counts."""
    [body] = results_jobs(record(1, message_row("failed", provider_id=None)))
    assert body["status"] == "failed" and body["with_provider_id"] is False


def test_the_outcome_job_rides_with_the_records_events_and_jobs() -> None:
    new = message_row("delivered")
    new["ob"] = outbox.change(jobs=[outbox.job(manifest.OUTBOUND_QUEUE, "x")])
    _, jobs = outbox_relay.pending(record(1, new, message_row("sent")))
    assert sorted(j["queue"] for j in jobs) == ["campaign-results", "outbound"]


# -- the stream filter: the relay sees a campaign message's final write with or without an ``ob`` -------


def test_the_outbox_filter_passes_a_campaign_messages_final_write_without_an_outbox_entry() -> None:
    (trigger,) = [t for t in manifest.function("outbox").triggers if isinstance(t, manifest.StreamTrigger)]
    assert 1 < len(trigger.filters) <= 5  # Lambda ORs a mapping's filters (5 at most)

    def passes(rec: dict[str, Any]) -> bool:
        return any(matches(p, rec) for p in trigger.filters)

    sent = message_row("sent", ob=False)
    assert passes(record(1, message_row("delivered", ob=False), sent))
    assert passes(record(2, message_row("delivered"), sent))  # an outbox entry, as before
    assert passes(record(3, message_row("failed", provider_id=None, ob=False)))
    assert not passes(record(4, sent, message_row("sending", ob=False)))  # nothing to announce or count
    assert not passes(record(5, message_row("delivered", campaign_id=None, ob=False), sent))


# -- the local stack honours the trigger's batching window ---------------------------------------------


class _Sqs:
    """Messages arriving one every ``gap_s`` (``n`` in all)."""

    def __init__(self, n: int, gap_s: float) -> None:
        self.t0, self.n, self.gap_s, self.given = time.monotonic(), n, gap_s, 0

    def receive_message(self, MaxNumberOfMessages: int, **_: Any) -> dict[str, Any]:
        arrived = min(self.n, 1 + int((time.monotonic() - self.t0) / self.gap_s))
        take = min(MaxNumberOfMessages, arrived - self.given)
        out = [{"MessageId": str(self.given + i), "ReceiptHandle": "h", "Body": "{}"} for i in range(take)]
        self.given += take
        return {"Messages": out}


@pytest.mark.parametrize(("window_s", "expected"), [(0.0, 1), (1.0, 5)])
def test_the_local_poller_gathers_a_batch_for_its_window(
    window_s: float, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five messages arriving over half a second: one batch of five with a 1 s window, else the first alone."""
    stop = threading.Event()
    poller = QueuePoller(
        name="campaign-results",
        function=manifest.FANOUT,
        queue=None,  # type: ignore[arg-type]  # the fake client ignores the URL
        functions=None,  # type: ignore[arg-type]
        stop=stop,
        batch_size=10,
        retry_visibility_s=1,
        wait_s=1,
        batching_window_s=window_s,
    )
    batches: list[int] = []

    def deliver(sqs: Any, messages: list[dict[str, Any]]) -> None:
        batches.append(len(messages))
        stop.set()

    poller.deliver = deliver  # type: ignore[method-assign]
    poller.queue = type("Q", (), {"url": "u"})()  # type: ignore[assignment]
    fake = _Sqs(5, 0.1)
    monkeypatch.setattr(aws, "sqs", lambda: fake)
    poller.run()
    assert batches == [expected]


# -- the fanout function's routing ------------------------------------------------------------------------


def test_an_unreadable_first_record_does_not_send_a_batch_of_outcomes_down_the_fan_out_path() -> None:
    from smsdesk.campaigns import results

    outcome = {"campaign_id": "c1", "message_id": "m1", "status": "delivered"}
    batch = {"Records": [{"body": "not json"}, {"body": json.dumps(outcome)}]}
    assert results.is_batch(batch)
    assert not results.is_batch({"Records": [{"body": json.dumps({"campaign_id": "c1", "phase": "send"})}]})
    assert not results.is_bus_event(batch)


def test_an_outcome_from_the_previous_releases_bus_rule_is_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """While an upgrade removes the bus rule, an event it delivers (or retries) reaches the new code."""
    from smsdesk.campaigns import results

    seen: list[tuple[str, list[CampaignOutcomeJob]]] = []
    monkeypatch.setattr(results, "count", lambda cid, jobs: seen.append((cid, jobs)) or 1)
    event = {
        "detail-type": "message.undelivered",
        "source": "smsdesk",
        "detail": {"campaign_id": "c1", "message_id": "m1", "provider_id": "p1"},
    }
    assert results.is_bus_event(event) and not results.is_batch(event)
    assert results.apply_bus_event(event) == 1
    [(cid, [job])] = seen
    assert (cid, job.message_id, job.status, job.with_provider_id) == ("c1", "m1", "undelivered", True)
    assert results.apply_bus_event({"detail-type": "message.delivered", "detail": {"message_id": "m2"}}) == 0
