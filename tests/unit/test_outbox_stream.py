"""The outbox's stream consumer and the local stream mapping, without AWS: batching, order, partial
failures, duplicates, filter criteria."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from smsdesk import aws, manifest, outbox, outbox_relay
from smsdesk.data.table import deserialize, serialize
from smsdesk.local.streams import StreamPoller, matches


def record(seq: int, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    ddb: dict[str, Any] = {"SequenceNumber": str(seq), "Keys": {"PK": {"S": "X"}, "SK": {"S": "Y"}}}
    if new is not None:
        ddb["NewImage"] = serialize(new)
    if old is not None:
        ddb["OldImage"] = serialize(old)
    return {"eventName": "MODIFY" if old else "INSERT", "dynamodb": ddb}


def item(ob_id: str | None, *events: str, jobs: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"PK": "X", "SK": "Y"}
    if ob_id:
        out["ob"] = {
            "id": ob_id,
            "events": [{"type": t, "detail": {"n": t}} for t in events],
            "jobs": [{"queue": "outbound", "body": f"{ob_id}-{j}"} for j in range(jobs)],
        }
    return out


class FakeAws:
    def __init__(self, fail_event: str | None = None, fail_job: str | None = None) -> None:
        self.puts: list[list[dict[str, Any]]] = []
        self.sends: list[list[dict[str, Any]]] = []
        self.fail_event, self.fail_job = fail_event, fail_job

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.puts.append(Entries)
        results = [{"ErrorCode": "X"} if e["DetailType"] == self.fail_event else {"EventId": "e"} for e in Entries]
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sends.append(Entries)
        return {"Failed": [{"Id": e["Id"]} for e in Entries if e["MessageBody"] == self.fail_job]}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    f = FakeAws()
    monkeypatch.setattr(aws, "events", lambda: f)
    monkeypatch.setattr(aws, "sqs", lambda: f)
    monkeypatch.setenv("EVENT_BUS_NAME", "bus")
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", "https://sqs/outbound")
    return f


def test_events_and_jobs_in_stream_order_batched_by_ten_with_stable_event_ids(fake: FakeAws) -> None:
    records = [record(i, item(f"ob{i}", "a", "b", jobs=1)) for i in range(1, 8)]
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": []}
    assert [len(c) for c in fake.puts] == [10, 4] and [len(c) for c in fake.sends] == [7]
    ids = [c["Detail"] for chunk in fake.puts for c in chunk]
    assert ids[0] == '{"n":"a","event_id":"ob1:0"}' and ids[1] == '{"n":"b","event_id":"ob1:1"}'
    assert ids[-1].endswith('"event_id":"ob7:1"}')
    assert [e["MessageBody"] for e in fake.sends[0]] == [f"ob{i}-0" for i in range(1, 8)]
    outbox_relay.handle({"Records": records[:1]})  # the same record again: the same event ids
    assert [c["Detail"] for c in fake.puts[-1]] == ids[:2]


def test_unchanged_or_missing_outbox_entries_are_not_republished(fake: FakeAws) -> None:
    same = record(1, item("ob1", "a"), old=item("ob1", "a"))  # a later write that kept the attribute
    none = record(2, item(None), old=item("ob1", "a"))
    removed = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "3", "OldImage": serialize(item("ob1", "a"))}}
    assert outbox_relay.handle({"Records": [same, none, removed]}) == {"batchItemFailures": []}
    assert fake.puts == [] and fake.sends == []


def test_the_first_failed_record_is_reported_and_later_jobs_wait(fake: FakeAws) -> None:
    fake.fail_event = "bad"
    records = [
        record(1, item("ob1", "a", jobs=1)),
        record(2, item("ob2", "bad", jobs=1)),
        record(3, item("ob3", "c", jobs=1)),
    ]
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [e["MessageBody"] for chunk in fake.sends for e in chunk] == ["ob1-0"]  # nothing after the failure


def test_a_rejected_job_fails_from_its_record(fake: FakeAws) -> None:
    fake.fail_job = "ob2-0"
    records = [record(i, item(f"ob{i}", jobs=1)) for i in (1, 2, 3)]
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "2"}]}


def test_a_message_status_event_is_built_from_the_new_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from smsdesk.models import Message, StatusChange, utcnow

    monkeypatch.setenv("MESSAGE_EVENTS", "all")  # message.sent is published in that mode only

    now = utcnow()
    msg = Message(
        id="m1",
        channel_id="c1",
        to="+31612345678",
        sender="Shop",
        country="NL",
        text="hi",
        encoding="GSM-7",
        segments=1,
        credits=1,
        status="sent",
        history=[StatusChange(status="queued", at=now), StatusChange(status="sent", at=now)],
        created_at=now,
        provider="sandbox",
        provider_id="p1",
    )
    new = {"PK": "MSG#m1", "SK": "META", **msg.model_dump(mode="json"), "version": 3}
    new["ob"] = outbox.change([outbox.status_event("sent")])
    old = {**new, "status": "sending", "ob": {"id": "older"}}
    [(kind, detail)], jobs = outbox_relay.pending(record(1, new, old))
    assert kind == "message.sent" and jobs == []
    assert detail["message_id"] == "m1" and detail["previous_status"] == "sending" and detail["provider_id"] == "p1"
    assert detail["event_id"] == f"{new['ob']['id']}:0"


def test_filter_criteria_pass_only_records_carrying_an_outbox_entry() -> None:
    flt = manifest.outbox_filter()
    assert matches(flt, record(1, item("ob1", "a")))
    assert not matches(flt, record(2, item(None)))
    assert not matches(flt, {"eventName": "REMOVE", "dynamodb": {"OldImage": serialize(item("ob1", "a"))}})
    assert matches({"eventName": ["INSERT", "MODIFY"]}, {"eventName": "INSERT"})
    assert not matches({"eventName": [{"anything-but": ["REMOVE"]}]}, {"eventName": "REMOVE"})


class _Functions:
    def __init__(self, answers: list[Any]) -> None:
        self.answers, self.calls = answers, []

    def invoke(self, fn: Any, event: dict[str, Any], **_: Any) -> Any:
        self.calls.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        answer = self.answers.pop(0) if self.answers else {"batchItemFailures": []}
        if isinstance(answer, Exception):
            raise answer
        return answer


class _Poller(StreamPoller):
    def __init__(self, functions: _Functions, retry_attempts: int = 3) -> None:
        trig = manifest.StreamTrigger(
            "t", manifest.MAIN_TABLE, batch_size=10, retry_attempts=retry_attempts, filter=manifest.outbox_filter()
        )
        super().__init__(
            function=manifest.OUTBOX,
            trigger=trig,
            table_name="t",
            region="eu-west-1",
            functions=functions,  # type: ignore[arg-type]
            stop=threading.Event(),
            dlq_url="dlq",
            moto=None,  # type: ignore[arg-type]  # the shard is never read: records are handed to process()
            retry_base_s=0,
        )
        self.done: list[str] = []
        self.dead: list[list[str]] = []

    def stream_arn(self) -> str:
        return "arn"

    def _done(self, records: list[dict[str, Any]]) -> None:
        self.done.extend(r["dynamodb"]["SequenceNumber"] for r in records)

    def _dead_letter(self, batch: list[dict[str, Any]]) -> None:
        self.dead.append([r["dynamodb"]["SequenceNumber"] for r in batch])


def test_local_mapping_retries_from_the_first_reported_failure_and_skips_filtered_records() -> None:
    fns = _Functions([{"batchItemFailures": [{"itemIdentifier": "3"}]}])
    poller = _Poller(fns)
    records = [record(1, item("a", "x")), record(2, item(None)), record(3, item("c", "x")), record(4, item("d", "x"))]
    poller.process(records)
    assert fns.calls == [["1", "3", "4"], ["3", "4"]]  # record 2 carries nothing: never delivered
    assert poller.done == ["1", "2", "3", "4"] and poller.dead == []


def test_local_mapping_bisects_a_failing_batch_then_dead_letters_the_poison_record() -> None:
    boom = RuntimeError("boom")
    fns = _Functions([boom, {"batchItemFailures": []}, boom, boom, boom])
    poller = _Poller(fns, retry_attempts=2)
    records = [record(i, item(f"o{i}", "x")) for i in (1, 2, 3, 4)]
    poller.process(records)
    assert fns.calls[:2] == [["1", "2", "3", "4"], ["1", "2"]]  # halved after the function failed
    assert poller.dead and poller.dead[0][0] == "3" and poller.done[-1] == "4"


# -- a message's derived entry: written by the relay from the row's INSERT (issue 11) -----------------


class FakeTable(FakeAws):
    """PutEvents/SendMessageBatch as :class:`FakeAws`, plus BatchWriteItem: ``unprocessed`` puts (by message id)
    are handed back once, as DynamoDB does under throttling."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[dict[str, Any]]] = []
        self.unprocessed: set[str] = set()

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        [(name, requests)] = RequestItems.items()
        assert 0 < len(requests) <= 25
        items = [deserialize(r["PutRequest"]["Item"]) for r in requests]
        assert len({(i["PK"], i["SK"]) for i in items}) == len(items)  # DynamoDB refuses duplicate keys
        self.writes.append(items)
        back = [r for r, i in zip(requests, items, strict=True) if i.get("message_id") in self.unprocessed]
        self.unprocessed.clear()
        return {"UnprocessedItems": {name: back} if back else {}}

    def written(self) -> list[dict[str, Any]]:
        return [i for chunk in self.writes for i in chunk]


@pytest.fixture
def table_fake(fake: FakeAws, monkeypatch: pytest.MonkeyPatch) -> FakeTable:
    f = FakeTable()
    for name in ("events", "sqs", "dynamodb"):
        monkeypatch.setattr(aws, name, lambda f=f: f)
    monkeypatch.setenv("TABLE_NAME", "main")
    monkeypatch.setenv("MESSAGE_EVENTS", "all")  # the INSERTs below announce message.queued, as in that mode
    return f


def _message(n: int, **fields: Any) -> Any:
    import datetime as dt

    from smsdesk.models import Message, StatusChange

    at = dt.datetime(2026, 11, 30, 3, 0, n, 250_000, tzinfo=dt.UTC)
    fields = {"id": f"m{n}", **fields}
    return Message(
        channel_id="c1",
        to=f"+3161234567{n}",
        sender="Shop",
        country="NL",
        text="hi",
        encoding="GSM-7",
        segments=1,
        credits=2,
        status="queued",
        history=[StatusChange(status="queued", at=at)],
        created_by="u1",
        created_at=at,
        provider="sandbox",
        **fields,
    )


def _insert(seq: int, msg: Any, entry: str) -> dict[str, Any]:
    """The stream record of the message row's first write, as the accept/fan-out transaction writes it."""
    from smsdesk.data import messages as repo

    [put] = repo.new_items(msg, ob=outbox.change([outbox.status_event("queued")]), entry=entry)  # type: ignore[arg-type]
    return record(seq, deserialize(put["Put"]["Item"]))


def test_the_accept_transaction_records_the_row_alone_and_announces_its_charge(table_fake: FakeTable) -> None:
    """The row (no index keys, a few bytes more) says what to derive; the charge's ledger entry, with the
    message's index keys, is derived from it by the relay: deterministic, so a redelivery rewrites it."""
    from smsdesk import credits, ids

    msg = _message(1)
    assert credits.charge_items(msg) == [credits.repo.debit(2)]  # the balance: the ledger entry left
    rec = _insert(1, msg, "charge")
    row = deserialize(rec["dynamodb"]["NewImage"])
    assert not {"GSI1PK", "GSI2PK"} & row.keys() and row["ob"]["entry"] == "charge"
    assert outbox_relay.handle({"Records": [rec]}) == {"batchItemFailures": []}
    sort = "2026-11-30T03:00:01.250Z#m1"
    entry_id = ids.stable_id("charge", "m1")
    assert table_fake.written() == [
        {
            "PK": "LEDGER#2026-11",
            "SK": f"2026-11-30T03:00:01.250Z#{entry_id}",
            "id": entry_id,
            "kind": "charge",
            "amount": -2,
            "at": "2026-11-30T03:00:01.250Z",
            "message_id": "m1",
            "by": "u1",
            "GSI1PK": "MSGS#c1",
            "GSI1SK": sort,
            "GSI2PK": "MSGTO#+31612345671",
            "GSI2SK": sort,
            "channel_id": "c1",
        }
    ]
    outbox_relay.handle({"Records": [rec, rec]})  # delivered again (twice in one batch): the same item, once a call
    assert table_fake.writes[1] == table_fake.writes[0]


def test_a_conversation_messages_charge_carries_no_index_keys(table_fake: FakeTable) -> None:
    """Its row keeps the keys (GSI3 finds a conversation's messages): the charge is a plain ledger entry."""
    msg = _message(2, conversation_id="conv1")
    rec = _insert(1, msg, "charge")
    assert "GSI1PK" in deserialize(rec["dynamodb"]["NewImage"])
    outbox_relay.handle({"Records": [rec]})
    [entry] = table_fake.written()
    assert entry["kind"] == "charge" and entry["message_id"] == "m2" and "GSI1PK" not in entry


def test_a_campaign_messages_index_entry_is_derived_from_its_insert(table_fake: FakeTable) -> None:
    msg = _message(3, campaign_id="k1")
    outbox_relay.handle({"Records": [_insert(1, msg, "index")]})
    sort = "2026-11-30T03:00:03.250Z#m3"
    assert table_fake.written() == [
        {
            "PK": "MSG#m3",
            "SK": "INDEX",
            "GSI1PK": "MSGS#c1",
            "GSI1SK": sort,
            "GSI2PK": "MSGTO#+31612345673",
            "GSI2SK": sort,
            "channel_id": "c1",
            "message_id": "m3",
        }
    ]


def test_only_the_insert_writes_the_entry(table_fake: FakeTable) -> None:
    """A later write of the row announces other things (or keeps the INSERT's ``ob``): no entry again."""
    rec = _insert(1, _message(4), "charge")
    row = deserialize(rec["dynamodb"]["NewImage"])
    kept = record(2, {**row, "status": "sending"}, old=row)
    later = record(3, {**row, "ob": outbox.change([outbox.status_event("sent")])}, old=row)
    outbox_relay.handle({"Records": [kept, later]})
    assert table_fake.writes == []


def test_an_unprocessed_entry_fails_its_record_so_lambda_retries_from_it(table_fake: FakeTable) -> None:
    """BatchWriteItem hands back what it did not write: that record and every later one are retried
    (their events and jobs wait); the records before it are done."""
    records = [_insert(i, _message(i), "charge") for i in (1, 2, 3)]
    table_fake.unprocessed = {"m2"}
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    published = [e["Detail"] for chunk in table_fake.puts for e in chunk]
    assert len(published) == 1 and '"message_id":"m1"' in published[0]  # m2 and m3 wait for the retry
    assert outbox_relay.handle({"Records": records[1:]}) == {"batchItemFailures": []}
    assert sorted(i["message_id"] for i in table_fake.written()) == ["m1", "m2", "m2", "m3", "m3"]


def test_a_failing_batch_write_fails_from_the_first_record_with_an_entry(table_fake: FakeTable) -> None:
    def boom(RequestItems: Any) -> Any:
        raise RuntimeError("throttled")

    table_fake.batch_write_item = boom  # type: ignore[method-assign]
    records = [record(1, item("ob1", "a")), _insert(2, _message(2), "charge"), _insert(3, _message(3), "index")]
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [e["Detail"] for chunk in table_fake.puts for e in chunk] == ['{"n":"a","event_id":"ob1:0"}']


def test_entries_are_written_25_to_a_call(table_fake: FakeTable) -> None:
    records = [_insert(i, _message(i % 10, id=f"m{i}"), "index") for i in range(1, 31)]
    assert outbox_relay.handle({"Records": records}) == {"batchItemFailures": []}
    assert [len(c) for c in table_fake.writes] == [25, 5]
