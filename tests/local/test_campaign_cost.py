"""What a campaign recipient costs in writes (issue 11), through the local stack: a campaign message's
status changes rewrite no message index, outcomes are counted a batch per transaction, and the sender reserves the
rate-limit slots of a batch of campaign messages together."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest
from local_api import wait

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


@contextmanager
def metered() -> Iterator[list[tuple[str | None, str, dict[str, Any]]]]:
    """Every AWS call made meanwhile (in the stack's functions or here): (function or None, operation, params)."""
    from smsdesk.local.isolation import current_function

    calls: list[tuple[str | None, str, dict[str, Any]]] = []
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def metered_call(client: Any, operation: str, params: Any) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            with lock:
                calls.append((current_function(), operation, params))
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = metered_call  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def _keys(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(PK, SK) of every item a write touches."""
    bodies = [params]
    if "TransactItems" in params:
        bodies = [body for item in params["TransactItems"] for body in item.values()]
    out = []
    for body in bodies:
        key = body.get("Key") or body.get("Item") or {}
        if "PK" in key:
            out.append((key["PK"]["S"], key["SK"]["S"]))
    return out


def channel(api: Any, sender: str, mps: float) -> dict[str, Any]:
    body = {"name": f"Cost {sender}", "type": "two_way", "sender": sender, "provider": "sandbox", "throughput_mps": mps}
    return api("POST", "/v1/channels", body, 201)


def launch(api: Any, ch: dict[str, Any], nums: list[str], text: str) -> dict[str, Any]:
    body = {"title": text[:40], "channel_id": ch["id"], "text": text, "audience": {"numbers": nums}}
    campaign = api("POST", "/v1/campaigns", body, 201)
    return api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)


def delivered(api: Any, cid: str, n: int) -> Callable[[], bool]:
    def check() -> bool:
        c = api("GET", f"/v1/campaigns/{cid}", expect=200)
        return c["status"] == "completed" and c["counts"]["delivered"] == n

    return check


def recipients(api: Any, cid: str) -> list[dict[str, Any]]:
    return api("GET", f"/v1/campaigns/{cid}/recipients?limit=100", expect=200)["items"]


def index_entries(index: str, pk: str) -> list[dict[str, Any]]:
    from smsdesk import aws, config
    from smsdesk.data import table

    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        IndexName=index,
        KeyConditionExpression=f"{index}PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    return [table.deserialize(i) for i in resp["Items"]]


def campaign_items(campaign_id: str) -> list[dict[str, Any]]:
    from smsdesk import aws, config

    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}},
        ConsistentRead=True,
    )
    return list(resp["Items"])


@pytest.mark.usefixtures("fast_pipeline")
def test_a_campaign_messages_status_changes_write_no_index(stack: LocalStack, api: Any) -> None:
    """Found by channel and by recipient through one immutable index entry written with the message, so
    its sending, sent and delivered writes touch no GSI; the sent overview still lists it, by status too,
    also after the campaign is deleted (the messages it sent stay)."""
    from smsdesk.data import messages as repo

    ch = channel(api, "+3197010000301", mps=100)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "index"}, 201)
    nums = [f"+316301{i:05d}" for i in range(2, 6)]
    campaign = launch(api, ch, nums, "Indexed once")
    wait(delivered(api, campaign["id"], len(nums)), 60)
    rows = recipients(api, campaign["id"])
    by_channel = index_entries("GSI1", f"MSGS#{ch['id']}")
    assert sorted(r["number"] for r in rows) == nums
    for r in rows:
        mid = r["message_id"]
        row = repo.get(mid)
        assert row is not None and row["status"] == "delivered" and row["campaign_id"] == campaign["id"]
        assert not {"GSI1PK", "GSI2PK"} & row.keys(), "the row whose status changes is in no message index"
        mine = [e for e in by_channel if e.get("message_id") == mid or e["PK"] == f"MSG#{mid}"]
        by_number = [
            e
            for e in index_entries("GSI2", f"MSGTO#{r['number']}")
            if e.get("message_id") == mid or e["PK"] == f"MSG#{mid}"
        ]
        assert len(mine) == len(by_number) == 1 and mine[0] == by_number[0]
        assert "status" not in mine[0] and mine[0]["SK"] != "META"  # an entry that never changes
    listed = api("GET", f"/v1/messages?channel_id={ch['id']}&status=delivered&limit=50", expect=200)["items"]
    assert sorted(m["to"] for m in listed) == nums and {m["campaign_id"] for m in listed} == {campaign["id"]}
    assert not api("GET", f"/v1/messages?channel_id={ch['id']}&status=queued", expect=200)["items"]
    to = nums[0].replace("+", "%2B")
    assert [m["id"] for m in api("GET", f"/v1/messages?to={to}&status=delivered", expect=200)["items"]] == [
        rows[0]["message_id"]
    ]
    api("DELETE", f"/v1/campaigns/{campaign['id']}", expect=204)
    wait(lambda: not campaign_items(campaign["id"]), 30)
    listed = api("GET", f"/v1/messages?channel_id={ch['id']}&limit=50", expect=200)["items"]
    assert sorted(m["to"] for m in listed) == nums


@pytest.mark.usefixtures("fast_pipeline")
def test_outcomes_are_counted_in_batches_once(stack: LocalStack, api: Any) -> None:
    """A campaign's outcomes are counted a batch at a time (the campaign-results queue): per batch ONE
    transaction of a marker per message and one update of the counts (before: one transaction per
    message; before that, one per counter); a redelivered outcome counts nothing and writes nothing new."""
    from smsdesk.campaigns import results
    from smsdesk.envelopes import CampaignOutcomeJob

    ch = channel(api, "+3197010000302", mps=100)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "outcomes"}, 201)
    nums = [f"+316302{i:05d}" for i in range(2, 7)]
    with metered() as calls:
        campaign = launch(api, ch, nums, "Counted once")
        wait(delivered(api, campaign["id"], len(nums)), 60)
        stack.wait_streams()
        wait(lambda: api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]["delivered"] == len(nums), 30)
    stats = ("CAMPAIGN#" + campaign["id"], "STATS")
    outcome_writes = [
        (fn, op, p)
        for fn, op, p in calls
        if op in ("TransactWriteItems", "UpdateItem", "PutItem") and stats in _keys(p)
    ]
    # one ADD on STATS when the run is expanded (so it exists), then one transaction per batch of outcomes
    assert [(fn, op) for fn, op, _ in outcome_writes[:1]] == [("fanout", "UpdateItem")]
    batches = outcome_writes[1:]
    assert 1 <= len(batches) <= len(nums) and {(fn, op) for fn, op, _ in batches} == {("fanout", "TransactWriteItems")}
    # ... of a marker per message and the counts: no check of the campaign item, which a list of numbers
    # makes KBs large (a ConditionCheck is billed as a transactional write of the item it checks)
    markers = [k for _, _, p in batches for k in _keys(p) if k != stats]
    assert len(markers) == len(set(markers)) == len(nums)
    assert all(k[1].startswith("O#") for k in markers)
    print(f"{len(nums)} outcomes in {len(batches)} transactions")
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]
    assert (c["sent"], c["delivered"], c["failed"]) == (len(nums), len(nums), 0)
    mid = recipients(api, campaign["id"])[0]["message_id"]
    job = CampaignOutcomeJob(campaign_id=campaign["id"], message_id=mid, status="delivered", with_provider_id=True)
    with metered() as again:
        assert results.count(campaign["id"], [job]) == 0
    assert [op for _, op, _ in again] == ["TransactWriteItems"]
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]
    assert (c["sent"], c["delivered"], c["failed"]) == (len(nums), len(nums), 0)


@pytest.mark.usefixtures("fast_pipeline")
def test_a_campaign_message_takes_its_send_slot_with_one_update(stack: LocalStack, api: Any) -> None:
    """A campaign (bulk) message reserves its rate-limit slot with one conditional update, whether the
    channel is idle or busy for less than an interval (before: a failed "idle?" update first under a
    backlog, and on a fast channel a second slot because the first had passed by the time it was
    checked: 2.2 updates per message)."""
    ch = channel(api, "+3197010000303", mps=1000)
    api("POST", "/v1/credits/top-ups", {"credits": 40, "reference": "slots"}, 201)
    nums = [f"+316303{i:05d}" for i in range(2, 22)]
    with stack.configure("fanout", CAMPAIGN_SPREAD="0"), metered() as calls:
        campaign = launch(api, ch, nums, "One slot each")
        wait(delivered(api, campaign["id"], len(nums)), 60)
    rate = [
        p.get("ConditionExpression", op)
        for fn, op, p in calls
        if fn == "sender" and any(pk.startswith("RATE#") for pk, _ in _keys(p))
    ]
    claims = [op for fn, op, p in calls if fn == "sender" and op == "UpdateItem" and _keys(p)[0][0].startswith("MSG#")]
    print(f"rate-limit updates: {len(rate)}, message updates: {len(claims)} for {len(nums)} campaign messages")
    assert len(claims) == 2 * len(nums)  # claim and mark_sent
    assert len(rate) <= len(nums) * 1.25, json.dumps(rate)  # a wrong guess costs one more, rarely


@pytest.mark.usefixtures("fast_pipeline")
def test_outcomes_of_a_run_without_its_counts_item_are_counted_once(stack: LocalStack, api: Any) -> None:
    """A run expanded before the counts item was created with it (or whose item is missing for any
    reason) still counts each outcome once, and a deleted campaign's late outcome recreates nothing."""
    from smsdesk import aws, config
    from smsdesk.campaigns import results
    from smsdesk.data import table
    from smsdesk.envelopes import CampaignOutcomeJob

    ch = channel(api, "+3197010000304", mps=100)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "legacy"}, 201)
    nums = [f"+316304{i:05d}" for i in range(2, 5)]
    campaign = launch(api, ch, nums, "Counted without STATS")
    wait(delivered(api, campaign["id"], len(nums)), 60)
    pk = f"CAMPAIGN#{campaign['id']}"
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(pk, "STATS"))

    def outcome(message_id: str) -> int:
        """Count one delivered outcome; how many messages it counted (0: counted before, or deleted)."""
        job = CampaignOutcomeJob(campaign_id=campaign["id"], message_id=message_id, status="delivered")
        return results.count(campaign["id"], [job.model_copy(update={"with_provider_id": True})])

    assert outcome("m-x") == 1
    assert outcome("m-x") == 0
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]
    assert (c["sent"], c["delivered"]) == (1, 1)
    api("DELETE", f"/v1/campaigns/{campaign['id']}", expect=204)
    # while the purge runs: counted or not (the campaign reads as gone either way), nothing is left behind
    outcome("m-y")
    wait(lambda: not campaign_items(campaign["id"]), 30)
    assert outcome("m-z") == 0
    assert not campaign_items(campaign["id"])


@pytest.mark.usefixtures("fast_pipeline")
def test_a_wave_records_rows_and_messages_and_the_outbox_writes_their_index_entries(
    stack: LocalStack, api: Any
) -> None:
    """A wave's transaction is the reservation update plus, per recipient, its row and its message
    (2n + 1 items: a transaction bills each twice); each message's immutable ``INDEX`` entry is derived
    from the message's INSERT and written by the outbox with BatchWriteItem (a plain put), before its
    job is queued, and the overview lists the messages by it."""
    ch = channel(api, "+3197010000305", mps=100)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "entries"}, 201)
    nums = [f"+316305{i:05d}" for i in range(2, 6)]
    with metered() as calls:
        campaign = launch(api, ch, nums, "Entries by the outbox")
        wait(delivered(api, campaign["id"], len(nums)), 60)
        stack.wait_streams()
    waves = [
        p
        for fn, op, p in calls
        if fn == "fanout" and op == "TransactWriteItems" and any(pk.startswith("MSG#") for pk, _ in _keys(p))
    ]
    recorded = [k for p in waves for k in _keys(p) if k[0].startswith("MSG#")]
    assert sorted(sk for _, sk in recorded) == ["META"] * len(nums)
    assert sum(len(p["TransactItems"]) for p in waves) == len(waves) + 2 * len(nums)
    entries = [
        (r["PutRequest"]["Item"]["PK"]["S"], r["PutRequest"]["Item"]["SK"]["S"])
        for fn, op, p in calls
        if fn == "outbox" and op == "BatchWriteItem"
        for requests in p["RequestItems"].values()
        for r in requests
    ]
    assert sorted(entries) == sorted((pk, "INDEX") for pk, _ in recorded)
    listed = api("GET", f"/v1/messages?channel_id={ch['id']}&limit=50", expect=200)["items"]
    assert sorted(m["to"] for m in listed) == nums
