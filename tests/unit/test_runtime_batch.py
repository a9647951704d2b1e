"""The SQS partial-batch contract every queue function relies on (``smsdesk.runtime``)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from smsdesk.runtime import BatchFailed, SQSRecord, process_queue_batch


class Job(BaseModel):
    n: int


def _record(message_id: str, body: object, *, receive_count: str = "1") -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1"},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:q",
    }


def test_only_the_records_that_raise_are_reported_and_the_others_are_handled() -> None:
    seen: list[tuple[int, str]] = []

    def handle(job: Job, record: SQSRecord) -> None:
        if job.n == 2:
            raise RuntimeError("boom")
        seen.append((job.n, record.message_id))

    event = {"Records": [_record("a", {"n": 1}), _record("b", {"n": 2}), _record("c", "not json")]}
    result = process_queue_batch(event, None, Job, handle)
    assert result == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}
    assert seen == [(1, "a")]


def test_a_batch_without_failures_reports_none() -> None:
    assert process_queue_batch({"Records": [_record("a", {"n": 1})]}, None, Job, lambda j, r: None) == {
        "batchItemFailures": []
    }


def test_when_every_record_fails_the_invocation_fails() -> None:
    def handle(job: Job, record: SQSRecord) -> None:
        raise ValueError(f"bad {job.n}")

    with pytest.raises(BatchFailed, match="bad 1") as err:
        process_queue_batch({"Records": [_record("a", {"n": 1}), _record("b", {"n": 2})]}, None, Job, handle)
    assert [str(e) for e in err.value.errors] == ["bad 1", "bad 2"]


def test_an_sns_envelope_is_unwrapped_and_the_record_attributes_read() -> None:
    got: list[tuple[int, str, str]] = []

    def handle(job: Job, record: SQSRecord) -> None:
        got.append((job.n, record.attributes.approximate_receive_count, record.body[:1]))

    wrapped = {"Type": "Notification", "Message": json.dumps({"n": 7})}
    process_queue_batch({"Records": [_record("a", wrapped, receive_count="3")]}, None, Job, handle)
    assert got == [(7, "3", "{")]


def test_an_event_without_records_is_refused() -> None:
    with pytest.raises(ValueError, match="Records"):
        process_queue_batch({"detail": {}}, None, Job, lambda j, r: None)
