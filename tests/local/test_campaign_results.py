"""A campaign's outcome counts (sent / delivered / failed) through the local stack: each message's final
status reaches the ``campaign-results`` queue from its own stream record and the ``fanout`` function
counts a batch of them with one transaction per campaign; exactly once under redelivery."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from local_api import wait

from smsdesk import aws, config, manifest
from smsdesk.data import campaigns as repo
from smsdesk.data import credits as credits_repo
from smsdesk.data import table
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def job(campaign_id: str, message_id: str, status: str = "delivered", provider: bool = True) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "message_id": message_id, "status": status, "with_provider_id": provider}


def sqs_event(*jobs: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch of the campaign-results queue, as the event source mapping hands it to the function."""
    return {
        "Records": [
            {"messageId": f"r{n}", "receiptHandle": f"h{n}", "body": json.dumps(j), "eventSource": "aws:sqs"}
            for n, j in enumerate(jobs)
        ]
    }


def new_campaign(*, stats: bool = True, item: bool = True) -> str:
    """A campaign id with its counts item (as the expand makes it) and a campaign item (for the check
    made when the counts item is missing)."""
    cid = f"res{uuid.uuid4().hex[:10]}"
    if item:
        table.put({"PK": f"CAMPAIGN#{cid}", "SK": "META", "id": cid})
    if stats:
        repo.ensure_stats(cid)
    return cid


def counts(cid: str) -> dict[str, int] | None:
    return repo.stats([cid]).get(cid)


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """Every transaction the results code runs in this process (committed or cancelled)."""
    seen: list[list[dict[str, Any]]] = []
    real = credits_repo.transact

    def transact(items: list[dict[str, Any]]) -> None:
        seen.append(items)
        real(items)

    monkeypatch.setattr(credits_repo, "transact", transact)
    return seen


def test_a_batch_of_two_campaigns_is_one_transaction_per_campaign(stack: LocalStack, transactions: list) -> None:
    from smsdesk.campaigns import results

    a, b = new_campaign(), new_campaign()
    batch = sqs_event(
        job(a, "a1"),
        job(b, "b1", "failed", provider=False),  # never reached the provider: failed, not sent
        job(a, "a2", "undelivered"),
        job(a, "a3"),
        job(b, "b2", "failed"),  # failed after the provider had it: sent and failed
    )
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(a) == {"sent": 3, "delivered": 2, "failed": 1}
    assert counts(b) == {"sent": 1, "delivered": 0, "failed": 2}
    assert len(transactions) == 2  # one per campaign, not one per message
    assert sorted(len(t) for t in transactions) == [3, 4]  # a marker per message + one counts update


def test_the_same_outcome_twice_counts_once(stack: LocalStack, transactions: list) -> None:
    from smsdesk.campaigns import results

    cid = new_campaign()
    # twice in one batch (a duplicated stream record), then the whole batch again (a redelivered batch)
    batch = sqs_event(job(cid, "m1"), job(cid, "m1"), job(cid, "m2", "failed"))
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(cid) == {"sent": 2, "delivered": 1, "failed": 1}
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(cid) == {"sent": 2, "delivered": 1, "failed": 1}


def test_a_batch_with_an_outcome_counted_before_counts_the_others_once(stack: LocalStack, transactions: list) -> None:
    from smsdesk.campaigns import results

    cid = new_campaign()
    results.handle_batch(sqs_event(job(cid, "m2")))
    assert counts(cid) == {"sent": 1, "delivered": 1, "failed": 0}
    transactions.clear()
    batch = sqs_event(job(cid, "m1"), job(cid, "m2"), job(cid, "m3", "failed", provider=False))
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(cid) == {"sent": 2, "delivered": 2, "failed": 1}
    # the batch's transaction was cancelled by m2's marker: one transaction per message instead
    assert [len(t) for t in transactions] == [4, 2, 2, 2]


def test_without_a_counts_item_the_campaign_item_decides(stack: LocalStack) -> None:
    from smsdesk.campaigns import results

    live = new_campaign(stats=False)  # a run expanded before the expand made the counts item
    deleted = new_campaign(stats=False, item=False)  # a deleted campaign: its purge removed both
    batch = sqs_event(job(live, "m1"), job(live, "m2", "failed"), job(deleted, "m1"))
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(live) == {"sent": 2, "delivered": 1, "failed": 1}
    assert counts(deleted) is None  # nothing counted, nothing recreated
    assert not table.query(f"CAMPAIGN#{deleted}", limit=10)[0]


def test_a_failing_campaign_fails_only_its_records(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from smsdesk.campaigns import results

    good, bad = new_campaign(), new_campaign()
    real = credits_repo.transact

    def transact(items: list[dict[str, Any]]) -> None:
        if bad in json.dumps(items):
            raise RuntimeError("throttled")
        real(items)

    monkeypatch.setattr(credits_repo, "transact", transact)
    batch = sqs_event(job(good, "m1"), job(bad, "m1"), job(good, "m2"), {"campaign_id": good})  # + unreadable
    assert results.handle_batch(batch) == {"batchItemFailures": [{"itemIdentifier": "r1"}, {"itemIdentifier": "r3"}]}
    assert counts(good) == {"sent": 2, "delivered": 2, "failed": 0}


# -- through the queue and the stream ------------------------------------------------------------------


def queue_idle(stack: LocalStack) -> bool:
    attrs = aws.sqs().get_queue_attributes(
        QueueUrl=stack.resources.queues[manifest.CAMPAIGN_RESULTS_QUEUE.name].url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_redelivered_job_on_the_queue_counts_once(stack: LocalStack) -> None:
    cid = new_campaign()
    url = stack.resources.queues[manifest.CAMPAIGN_RESULTS_QUEUE.name].url
    body = json.dumps(job(cid, "m1"))
    aws.sqs().send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": body}])
    wait(lambda: counts(cid) == {"sent": 1, "delivered": 1, "failed": 0}, 30, every=0.2)
    aws.sqs().send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": body} for n in range(3)])
    wait(lambda: queue_idle(stack), 30, every=0.2)
    time.sleep(0.5)
    assert counts(cid) == {"sent": 1, "delivered": 1, "failed": 0}


def test_a_final_status_written_without_an_outbox_entry_is_counted(stack: LocalStack) -> None:
    """A deployment that publishes no event for a campaign message's final status (its write carries no
    ``ob``): the stream record of the status change itself is what counts; no bus rule is involved."""
    cid = new_campaign()
    row = {"PK": "MSG#rm1", "SK": "META", "id": "rm1", "campaign_id": cid, "status": "sent", "provider_id": "p"}
    table.put(row)
    aws.dynamodb().update_item(
        TableName=config.table_name(),
        Key=table.key("MSG#rm1", "META"),
        UpdateExpression="SET #s = :s REMOVE ob",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "delivered"}},
    )
    assert stack.wait_streams(30)
    wait(lambda: counts(cid) == {"sent": 1, "delivered": 1, "failed": 0}, 30, every=0.2)
    # a later write on the final row counts nothing more
    aws.dynamodb().update_item(
        TableName=config.table_name(),
        Key=table.key("MSG#rm1", "META"),
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": {"N": "9"}},
    )
    assert stack.wait_streams(30)
    wait(lambda: queue_idle(stack), 30, every=0.2)
    assert counts(cid) == {"sent": 1, "delivered": 1, "failed": 0}
    assert not [r for r in stack.wiring()["rules"] if r[1] == "campaign-results"]


def test_a_batch_larger_than_a_transaction_is_chunked(stack: LocalStack, transactions: list) -> None:
    from smsdesk.campaigns import results

    cid = new_campaign()
    batch = sqs_event(*(job(cid, f"m{i}") for i in range(150)))
    assert results.handle_batch(batch) == {"batchItemFailures": []}
    assert counts(cid) == {"sent": 150, "delivered": 150, "failed": 0}
    assert [len(t) for t in transactions] == [100, 52]  # DynamoDB's 100 items at most


def test_a_conflict_with_a_concurrent_batch_is_tried_again(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two batches of one campaign at once: DynamoDB cancels one transaction on the shared counts item
    (TransactionConflict); it is tried again in the invocation rather than after the queue's visibility."""
    from smsdesk.campaigns import results

    cid = new_campaign()
    real, tries = credits_repo.transact, []

    def transact(items: list[dict[str, Any]]) -> None:
        tries.append(len(items))
        if len(tries) == 1:
            raise credits_repo.TransactionCanceled(["None", "None", "TransactionConflict"])
        real(items)

    monkeypatch.setattr(credits_repo, "transact", transact)
    assert results.handle_batch(sqs_event(job(cid, "m1"), job(cid, "m2"))) == {"batchItemFailures": []}
    assert tries == [3, 3] and counts(cid) == {"sent": 2, "delivered": 2, "failed": 0}
