"""50 concurrent sends against a balance of 20 credits: exactly 20 accepted, and the ledger adds up."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


FINAL = {"delivered", "failed", "undelivered", "expired"}


def settle(stack: LocalStack, http: Any, message_ids: list[str], timeout: float = 30.0) -> None:
    """Wait until every message has a final status."""
    deadline = time.monotonic() + timeout
    pending = set(message_ids)
    while pending and time.monotonic() < deadline:
        for mid in list(pending):
            status, _, msg = http("GET", f"{stack.base_url}/v1/messages/{mid}", headers=auth(stack.token))
            if status == 200 and msg["status"] in FINAL:
                pending.discard(mid)
        time.sleep(0.2)
    assert not pending, f"not final after {timeout} s: {sorted(pending)}"


def all_ledger(stack: LocalStack, http: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        url = f"{stack.base_url}/v1/credits/ledger?limit=7" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = http("GET", url, headers=auth(stack.token))
        assert status == 200, page
        entries += page["items"]
        cursor = page["cursor"]
        if not cursor:
            return entries
    raise AssertionError("ledger pagination does not end")


def test_fifty_concurrent_sends_against_twenty_credits(stack: LocalStack, http: Any) -> None:
    status, _, ch = http(
        "POST",
        f"{stack.base_url}/v1/channels",
        headers=auth(stack.token),
        body={"name": "Load", "type": "one_way", "sender": "Shop", "provider": "sandbox", "throughput_mps": 50},
    )
    assert status == 201, ch
    status, _, _ = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 20, "reference": "load-test"},
    )
    assert status == 201

    def send(i: int) -> tuple[int, Any]:
        status, _, body = http(
            "POST",
            f"{stack.base_url}/v1/messages",
            headers=auth(stack.token),
            body={"channel_id": ch["id"], "to": f"+3161234{i:04d}", "text": f"load {uuid.uuid4().hex[:6]}"},
        )
        return status, body

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, range(1, 51)))

    counts = Counter(status for status, _ in results)
    assert counts == {202: 20, 402: 30}, counts
    for status, body in results:
        if status == 402:
            assert body["error"]["code"] == "insufficient_credits" and body["error"]["cost"] == 1
    accepted = {body["id"] for status, body in results if status == 202}
    assert len(accepted) == 20

    settle(stack, http, sorted(accepted))  # the ledger and the balance are compared at rest
    _, _, bal = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    entries = all_ledger(stack, http)
    assert len({e["id"] for e in entries}) == len(entries)
    kinds = Counter(e["kind"] for e in entries)
    assert kinds["top_up"] == 1 and kinds["charge"] == 20, kinds
    assert {e["message_id"] for e in entries if e["kind"] == "charge"} == accepted
    # Refunds can only come from the pipeline failing a message; the invariant holds either way.
    assert sum(e["amount"] for e in entries) == bal["balance"] == kinds["refund"]
    # newest first (as instants: the JSON drops a fraction of .000, so the strings do not sort)
    ats = [dt.datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True)

    # Every accepted message is recorded once, in the overview of its channel.
    _, _, page = http("GET", f"{stack.base_url}/v1/messages?channel_id={ch['id']}&limit=100", headers=auth(stack.token))
    assert {m["id"] for m in page["items"]} == accepted


def test_fifty_truly_parallel_sends_in_the_package_against_twenty_credits(stack: LocalStack, http: Any) -> None:
    """The same race without the gateway: the local gateway runs HTTP invocations one at a time (as one
    Lambda container would), so here 50 threads call ``messages.send`` at once, as 50 concurrent
    Lambda containers would, and only DynamoDB's conditional transaction stands between them."""
    from smsdesk import credits
    from smsdesk.auth import caller_from_claims
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    status, _, ch = http(
        "POST",
        f"{stack.base_url}/v1/channels",
        headers=auth(stack.token),
        body={"name": "Parallel", "type": "one_way", "sender": "Parallel", "provider": "sandbox", "throughput_mps": 50},
    )
    assert status == 201, ch
    before = credits.balance()
    assert (
        http(
            "POST",
            f"{stack.base_url}/v1/credits/top-ups",
            headers=auth(stack.token),
            body={"credits": 20, "reference": "parallel"},
        )[0]
        == 201
    )
    owner = caller_from_claims({"sub": "parallel-owner", "cognito:groups": ["owner"]})

    def send(i: int) -> str:
        req = SendRequest(channel_id=ch["id"], to=f"+3162234{i:04d}", text="parallel")
        try:
            return messages.send(owner, req, idempotency_key=None).id
        except Exception as exc:
            return type(exc).__name__

    # No number ending 0000 (the sandbox fails it): its refund could come back while the race is still
    # on and rightly pay for a 21st send.
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(send, range(1, 51)))
    accepted = [o for o in outcomes if len(o) == 26]  # message ids; the rest are exception names
    assert len(accepted) == 20, Counter(outcomes)
    assert Counter(o for o in outcomes if len(o) != 26) == {"PaymentRequired": 30}
    # Let the pipeline finish (anything it fails is refunded meanwhile), so the
    # ledger and the balance are read at rest: the 20 charges took exactly the top-up, refunds gave back.
    settle(stack, http, accepted)
    entries = all_ledger(stack, http)
    charges = [e for e in entries if e["kind"] == "charge" and e["message_id"] in set(accepted)]
    assert len(charges) == 20
    assert sum(e["amount"] for e in entries) == credits.balance()
    assert (
        credits.balance()
        - before
        - sum(e["amount"] for e in entries if e["kind"] == "refund" and e["message_id"] in set(accepted))
        == 0
    )
