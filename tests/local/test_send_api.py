"""POST /v1/messages through the local stack: every check's error, Idempotency-Key, access, the sent
overview, and the status interface the pipeline uses (receipts out of order, duplicated, early)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest
from joserfc import jwk, jwt
from moto.utilities.utils import load_resource

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

NUMBER = "+31612345678"


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **extra}


def token_for(stack: LocalStack, user_id: str, role: str) -> str:
    """A token signed with moto's Cognito key, as the JWT authorizer accepts it."""
    now = int(time.time())
    claims = {
        "iss": stack.resources.issuer,
        "sub": user_id,
        "aud": stack.resources.user_pool_client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "cognito:groups": [role],
    }
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key)


def make_channel(stack: LocalStack, http: Any, **settings: Any) -> dict[str, Any]:
    body = {"name": f"ch-{uuid.uuid4().hex[:8]}", "type": "one_way", "sender": "Shop", "provider": "sandbox"}
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body={**body, **settings})
    assert status == 201, ch
    return ch


def top_up(stack: LocalStack, http: Any, n: int) -> None:
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack.token), body={"credits": n, "reference": "t"}
    )
    assert status == 201, body


def balance(stack: LocalStack, http: Any) -> int:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    assert status == 200, body
    return body["balance"]


def send(stack: LocalStack, http: Any, body: dict[str, Any], token: str | None = None, **headers: str) -> Any:
    return http("POST", f"{stack.base_url}/v1/messages", headers=auth(token or stack.token, **headers), body=body)


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Any) -> dict[str, Any]:
    ch = make_channel(stack, http)
    top_up(stack, http, 100)
    return ch


def test_send_queues_charges_and_is_delivered(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    before = balance(stack, http)
    text = "x" * 200  # 2 GSM-7 segments
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": "06 1234 5678", "text": text})
    assert status == 202, body
    assert body["status"] == "queued" and body["to"] == NUMBER and body["country"] == "NL"
    assert (body["segments"], body["credits"], body["encoding"]) == (2, 2, "GSM-7")
    assert body["created_by"] == stack.tokens.user_id and body["sender"] == "Shop"
    assert balance(stack, http) == before - 2

    deadline = time.monotonic() + 20
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, _, got = http("GET", f"{stack.base_url}/v1/messages/{body['id']}", headers=auth(stack.token))
        if got["status"] == "delivered":
            break
        time.sleep(0.2)
    assert got["status"] == "delivered", got
    assert [h["status"] for h in got["history"]] == ["queued", "sending", "sent", "delivered"]
    assert got["provider_id"] and got["credits"] == 2 and not got["refunded"]
    assert balance(stack, http) == before - 2


def test_unknown_channel_is_404(stack: LocalStack, http: Any) -> None:
    status, _, body = send(stack, http, {"channel_id": "nope", "to": NUMBER, "text": "hi"})
    assert status == 404 and body["error"]["field"] == "channel_id"


def test_disabled_channel_is_409(stack: LocalStack, http: Any) -> None:
    ch = make_channel(stack, http, enabled=False)
    status, _, body = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "hi"})
    assert status == 409, body
    assert body["error"]["code"] == "channel_disabled" and body["error"]["field"] == "channel_id"


@pytest.mark.parametrize("to", ["12", "0201234567", "+99912345678", "abc"])
def test_invalid_number_is_422_on_to(stack: LocalStack, http: Any, channel: dict[str, Any], to: str) -> None:
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": to, "text": "hi"})
    assert status == 422, body
    assert body["error"]["code"] == "invalid_phone_number" and body["error"]["field"] == "to"


def test_blocked_and_opted_out_numbers_are_refused(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from smsdesk import lists

    lists.add_block(channel["id"], "+31612340001", direction="outbound", reason="abuse", by=None)
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": "+31612340001", "text": "hi"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "recipient_blocked", "to")
    lists.opt_out(None, "+31612340002", reason="STOP reply", source="api", by=None)
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": "+31612340002", "text": "hi"})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "recipient_opted_out", "to")


def test_too_long_names_the_counts(stack: LocalStack, http: Any) -> None:
    ch = make_channel(stack, http, max_segments=1)
    status, _, body = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "€" * 81})
    assert status == 422, body
    err = body["error"]
    assert err["code"] == "message_too_long" and err["field"] == "text"
    assert (err["segments"], err["max_segments"], err["encoding"]) == (2, 1, "GSM-7")


def test_smart_encoding_applies_before_counting(stack: LocalStack, http: Any) -> None:
    ch = make_channel(stack, http, smart_encoding=True, max_segments=1)
    status, _, body = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "“Hi” – it’s ready…"})
    assert status == 202, body
    assert body["encoding"] == "GSM-7" and body["text"] == '"Hi" - it\'s ready...'


def test_insufficient_credits_is_402_and_writes_nothing(stack: LocalStack, http: Any) -> None:
    ch = make_channel(stack, http, country_multipliers={"NL": 1000, "*": 1})
    bal = balance(stack, http)
    _, _, ledger_before = http("GET", f"{stack.base_url}/v1/credits/ledger?limit=100", headers=auth(stack.token))
    status, _, body = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "hi"})
    assert status == 402, body
    assert body["error"]["code"] == "insufficient_credits" and body["error"]["field"] is None
    assert (body["error"]["balance"], body["error"]["cost"]) == (bal, 1000)
    assert balance(stack, http) == bal
    _, _, ledger_after = http("GET", f"{stack.base_url}/v1/credits/ledger?limit=100", headers=auth(stack.token))
    assert ledger_after["items"] == ledger_before["items"]
    _, _, page = http("GET", f"{stack.base_url}/v1/messages?channel_id={ch['id']}", headers=auth(stack.token))
    assert page["items"] == []


def test_body_validation_names_the_field(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": NUMBER})
    assert status == 422 and body["error"]["field"] == "text"


def test_idempotency_key_makes_retries_safe(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    key = uuid.uuid4().hex
    req = {"channel_id": channel["id"], "to": NUMBER, "text": "once"}
    bal = balance(stack, http)
    s1, _, first = send(stack, http, req, **{"Idempotency-Key": key})
    s2, _, second = send(stack, http, req, **{"Idempotency-Key": key})
    assert (s1, s2) == (202, 202), (first, second)
    assert first["id"] == second["id"]
    assert balance(stack, http) == bal - 1
    status, _, body = send(stack, http, {**req, "text": "other"}, **{"Idempotency-Key": key})
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused", body
    s3, _, third = send(stack, http, req, **{"Idempotency-Key": uuid.uuid4().hex})
    assert s3 == 202 and third["id"] != first["id"]
    assert balance(stack, http) == bal - 2


def test_idempotency_key_is_per_caller(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    status, _, admin = http(
        "POST",
        f"{stack.base_url}/v1/users",
        headers=auth(stack.token),
        body={"email": f"adm-{uuid.uuid4().hex[:6]}@example.com", "name": "Adm", "role": "admin"},
    )
    assert status == 201, admin
    key = uuid.uuid4().hex
    req = {"channel_id": channel["id"], "to": NUMBER, "text": "mine"}
    _, _, a = send(stack, http, req, **{"Idempotency-Key": key})
    _, _, b = send(stack, http, req, token_for(stack, admin["user_id"], "admin"), **{"Idempotency-Key": key})
    assert a["id"] != b["id"] and b["created_by"] == admin["user_id"]


def test_agent_access(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    other = make_channel(stack, http)
    _, _, team = http("POST", f"{stack.base_url}/v1/teams", headers=auth(stack.token), body={"name": "Support"})
    status, _, _ = http(
        "PUT",
        f"{stack.base_url}/v1/channels/{other['id']}/teams",
        headers=auth(stack.token),
        body={"team_ids": [team["id"]]},
    )
    assert status == 200
    status, _, agent = http(
        "POST",
        f"{stack.base_url}/v1/users",
        headers=auth(stack.token),
        body={"email": f"ag-{uuid.uuid4().hex[:6]}@example.com", "name": "Ag", "team_ids": [team["id"]]},
    )
    assert status == 201, agent
    tok = token_for(stack, agent["user_id"], "agent")

    # Outside the channel's teams: 403 on send, 404 on the owner's message, not in the overview.
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": NUMBER, "text": "hi"}, tok)
    assert status in (403, 404) and body["error"]["field"] == "channel_id"
    _, _, owners = send(stack, http, {"channel_id": channel["id"], "to": NUMBER, "text": "owner's"})
    status, _, body = http("GET", f"{stack.base_url}/v1/messages/{owners['id']}", headers=auth(tok))
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, _ = http("GET", f"{stack.base_url}/v1/messages?channel_id={channel['id']}", headers=auth(tok))
    assert status in (403, 404)

    # In the team: may send on it and sees only that channel's messages.
    status, _, mine = send(stack, http, {"channel_id": other["id"], "to": NUMBER, "text": "agent's"}, tok)
    assert status == 202, mine
    assert mine["created_by"] == agent["user_id"]
    assert stack.wait_streams()  # listed through its charge, which the outbox writes
    status, _, page = http("GET", f"{stack.base_url}/v1/messages?limit=100", headers=auth(tok))
    assert status == 200
    assert {m["channel_id"] for m in page["items"]} == {other["id"]}
    status, _, got = http("GET", f"{stack.base_url}/v1/messages/{mine['id']}", headers=auth(tok))
    assert status == 200 and got["id"] == mine["id"]
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(tok), body={"credits": 5, "reference": "x"}
    )
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_sent_overview_filters_and_pages(stack: LocalStack, http: Any) -> None:
    a, b = make_channel(stack, http), make_channel(stack, http)
    start = dt.datetime.now(dt.UTC)
    ids = []
    for i, (ch, to) in enumerate([(a, "+31612345671"), (b, "+31612345672"), (a, "+31612345672"), (b, "+31612345671")]):
        status, _, m = send(stack, http, {"channel_id": ch["id"], "to": to, "text": f"n{i}"})
        assert status == 202, m
        ids.append(m["id"])
    assert stack.wait_streams()  # listed through their charges, which the outbox writes
    base = f"{stack.base_url}/v1/messages"
    since = start.isoformat().replace("+00:00", "Z")

    # All channels merged, newest first, two per page.
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        url = f"{base}?limit=2&since={since}" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = http("GET", url, headers=auth(stack.token))
        assert status == 200, page
        assert len(page["items"]) <= 2
        seen += [m["id"] for m in page["items"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    _, _, page = http("GET", f"{base}?channel_id={a['id']}", headers=auth(stack.token))
    assert [m["id"] for m in page["items"]] == [ids[2], ids[0]]
    _, _, page = http("GET", f"{base}?to=0612345672&since={since}", headers=auth(stack.token))
    assert [m["id"] for m in page["items"]] == [ids[2], ids[1]]
    _, _, page = http("GET", f"{base}?to=%2B31612345672&channel_id={b['id']}", headers=auth(stack.token))
    assert [m["id"] for m in page["items"]] == [ids[1]]
    status, _, body = http("GET", f"{base}?status=bogus", headers=auth(stack.token))
    assert status == 422 and body["error"]["field"] == "status"
    status, _, body = http("GET", f"{base}?cursor=%%%", headers=auth(stack.token))
    assert status == 422 and body["error"]["field"] == "cursor"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    _, _, page = http("GET", f"{base}?since={future}", headers=auth(stack.token))
    assert page["items"] == []


def test_status_filter(stack: LocalStack, http: Any, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from smsdesk import outbox as outbox_mod
    from smsdesk.auth import Caller
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    ch = make_channel(stack, http)
    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    m1 = messages.build(owner, messages.access.require_channel(owner, ch["id"]), SendRequest(**_req(ch, "a")))
    m2 = messages.build(owner, messages.access.require_channel(owner, ch["id"]), SendRequest(**_req(ch, "b")))
    real_change = outbox_mod.change
    with monkeypatch.context() as m:  # recorded without their jobs, so the pipeline does not move them
        m.setattr(outbox_mod, "change", lambda events=(), jobs=(): real_change(events))
        messages.record(m1)
        messages.record(m2)
    messages.fail(m2.id, code="expired", message="too old")
    assert stack.wait_streams()  # listed through their charges, which the outbox writes
    url = f"{stack.base_url}/v1/messages?channel_id={ch['id']}"
    _, _, page = http("GET", f"{url}&status=failed", headers=auth(stack.token))
    assert [m["id"] for m in page["items"]] == [m2.id]
    assert page["items"][0]["error"] == {"code": "expired", "message": "too old"} and page["items"][0]["refunded"]
    _, _, page = http("GET", f"{url}&status=queued", headers=auth(stack.token))
    assert [m["id"] for m in page["items"]] == [m1.id]


def _req(ch: dict[str, Any], text: str) -> dict[str, str]:
    return {"channel_id": ch["id"], "to": NUMBER, "text": text}


# -- the status interface used by the sender and receipts consumers -----------------------------------


def _recorded(stack: LocalStack, http: Any, text: str = "hello") -> Any:
    from smsdesk import access
    from smsdesk.auth import Caller
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    ch = make_channel(stack, http)
    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    msg = messages.build(owner, access.require_channel(owner, ch["id"]), SendRequest(**_req(ch, text)))
    messages.record(msg)
    return msg


def _receipt(provider_id: str, status: str, raw_id: str, **kw: Any) -> Any:
    from smsdesk.models import Receipt

    return Receipt(
        provider="sandbox", provider_id=provider_id, status=status, at=dt.datetime.now(dt.UTC), raw_id=raw_id, **kw
    )


def test_out_of_order_and_duplicate_receipts(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from smsdesk.sending import messages

    msg = _recorded(stack, http)
    claimed = messages.claim(msg.id, attempt=0, lease_s=30)
    assert claimed is not None and claimed.entered and claimed.message.status == "sending"
    with pytest.raises(messages.ClaimInProgress):  # the same job delivered twice: the first one holds it
        messages.claim(msg.id, attempt=0, lease_s=30)
    messages.release(msg.id, attempt=0)  # attempt 0 failed transiently
    assert messages.claim(msg.id, attempt=0, lease_s=30) is None  # ...so its duplicate cannot send
    retry = messages.claim(msg.id, attempt=1, lease_s=30)  # the retry may try again
    assert retry is not None and not retry.entered
    pid = f"p-{uuid.uuid4().hex}"
    messages.mark_sent(msg.id, provider_id=pid, parts=1, attempt=1)
    assert messages.claim(msg.id, attempt=2, lease_s=30) is None  # already with the provider: never send twice
    delivered = _receipt(pid, "delivered", "r-d", message_id=msg.id)
    for r in (
        delivered,
        _receipt(pid, "sent", "r-s", message_id=msg.id),
        delivered,
        _receipt(pid, "undelivered", "r-u", message_id=msg.id),
    ):
        messages.apply_receipt(r)
    got = messages.get(msg.id)
    assert got is not None and got.status == "delivered" and got.provider_id == pid
    assert [h.status for h in got.history] == ["queued", "sending", "sent", "delivered"]
    assert messages.claim(msg.id, attempt=0, lease_s=30) is None


def test_receipts_before_mark_sent_are_applied_at_once(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    """Receipts name their message, so one that overtakes mark_sent is applied, not parked."""
    from smsdesk.sending import messages

    msg = _recorded(stack, http, "x" * 200)
    messages.claim(msg.id, attempt=0, lease_s=30)
    pid = f"p-{uuid.uuid4().hex}"
    messages.apply_receipt(_receipt(pid, "delivered", "e1", part=1, parts=2, message_id=msg.id))
    messages.apply_receipt(_receipt(pid, "delivered", "e1", part=1, parts=2, message_id=msg.id))  # duplicate
    got = messages.get(msg.id)
    assert got is not None and (got.status, got.parts_delivered, got.provider_id) == ("sent", 1, pid)
    messages.apply_receipt(_receipt(pid, "delivered", "e2", part=2, parts=2, message_id=msg.id))
    messages.mark_sent(msg.id, provider_id=pid, parts=2, attempt=0)
    got = messages.get(msg.id)
    assert got is not None and got.status == "delivered" and got.provider_id == pid
    assert (got.parts_total, got.parts_delivered) == (2, 2)
    assert [h.status for h in got.history] == ["queued", "sending", "sent", "delivered"]
    # A receipt naming the message but another provider message id is not applied to it.
    other = _recorded(stack, http)
    messages.claim(other.id, attempt=0, lease_s=30)
    messages.mark_sent(other.id, provider_id="p-mine", parts=1, attempt=0)
    messages.apply_receipt(_receipt("p-not-mine", "failed", "x1", message_id=other.id))
    assert messages.get(other.id).status == "sent"  # type: ignore[union-attr]


def test_concurrent_receipts_never_regress(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from smsdesk.sending import messages

    msg = _recorded(stack, http, "x" * 400)  # 3 parts
    messages.claim(msg.id, attempt=0, lease_s=30)
    pid = f"p-{uuid.uuid4().hex}"
    messages.mark_sent(msg.id, provider_id=pid, parts=3, attempt=0)
    receipts = [
        _receipt(pid, s, f"{s}-{p}", part=p, parts=3, message_id=msg.id)
        for p in (1, 2, 3)
        for s in ("sent", "delivered")
    ]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(messages.apply_receipt, receipts * 2))
    got = messages.get(msg.id)
    assert got is not None and got.status == "delivered" and got.parts_delivered == 3
    assert [h.status for h in got.history] == ["queued", "sending", "sent", "delivered"]


def test_a_final_receipt_applied_by_the_webhook_and_the_receipts_function_at_once_applies_once(
    stack: LocalStack, http: Any, channel: dict[str, Any]
) -> None:
    """Receipts are applied in two places (the status webhook's ``apply_receipt_at_once``, the receipts
    function's ``apply_receipt``), racing on the same callback: one status change, one event; a carrier's
    ``failed`` moves the message once and refunds nothing (the provider took it). The webhook settles
    only what one write can: a multi-part receipt, a non-final one or a missing message is left (False)
    for the receipts queue."""
    from concurrent.futures import ThreadPoolExecutor

    from smsdesk.data import messages as repo
    from smsdesk.sending import messages

    for final in ("delivered", "failed"):
        msg = _recorded(stack, http)
        messages.claim(msg.id, attempt=0, lease_s=30)
        pid = f"p-{uuid.uuid4().hex}"
        messages.mark_sent(msg.id, provider_id=pid, parts=1, attempt=0)
        receipt = _receipt(pid, final, f"{final}-1", message_id=msg.id, error_code="c1" if final == "failed" else None)
        paths = [messages.apply_receipt_at_once, messages.apply_receipt] * 4
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda f, r=receipt: f(r), paths))
        assert results[::2] == [True] * 4  # the webhook's: applied, or found applied (nothing to queue)
        item = repo.get(msg.id)
        assert item is not None and item["receipt_ids"] == [f"{final}-1"]
        got, _ = repo.split(item)
        assert got.status == final and not got.refunded
        assert [h.status for h in got.history] == ["queued", "sending", "sent", final]
    multi = _recorded(stack, http, "x" * 200)
    messages.claim(multi.id, attempt=0, lease_s=30)
    part = _receipt("p-m", "delivered", "m1", part=1, parts=2, message_id=multi.id)
    assert messages.apply_receipt_at_once(part) is False
    assert messages.apply_receipt_at_once(_receipt("p-m", "sent", "m2", message_id=multi.id)) is False
    assert messages.apply_receipt_at_once(_receipt("p-m", "delivered", "m3")) is False  # names no message
    assert messages.apply_receipt_at_once(_receipt("p-x", "delivered", "x", message_id="NOSUCH")) is False
    assert messages.get(multi.id).status == "sending"  # type: ignore[union-attr]


def test_concurrent_whole_message_receipts_apply_once(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from smsdesk.sending import messages

    msg = _recorded(stack, http)
    messages.claim(msg.id, attempt=0, lease_s=30)
    pid = f"p-{uuid.uuid4().hex}"
    receipts = [_receipt(pid, "delivered", "d", message_id=msg.id), _receipt(pid, "sent", "s", message_id=msg.id)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(messages.apply_receipt, receipts * 4))
    messages.mark_sent(msg.id, provider_id=pid, parts=1, attempt=0)
    got = messages.get(msg.id)
    assert got is not None and got.status == "delivered" and got.provider_id == pid
    statuses = [h.status for h in got.history]
    assert statuses in (["queued", "sending", "delivered"], ["queued", "sending", "sent", "delivered"])


def test_fail_refunds_exactly_once(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from smsdesk import credits
    from smsdesk.sending import messages

    bal = credits.balance()
    msg = _recorded(stack, http, "x" * 200)
    assert credits.balance() == bal - 2
    messages.claim(msg.id, attempt=0, lease_s=30)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: messages.fail(msg.id, code="provider_rejected", message="bad"), range(4)))
    messages.fail(msg.id, code="expired", message="late")
    got = messages.get(msg.id)
    assert got is not None and got.status == "failed" and got.refunded
    assert got.error is not None and got.error.code == "provider_rejected"
    assert credits.balance() == bal
    page = credits.ledger(limit=100)
    refunds = [e for e in page.items if e.kind == "refund" and e.message_id == msg.id]
    assert len(refunds) == 1 and refunds[0].amount == 2
    # A failed message stays failed: receipts and sends cannot revive it.
    messages.apply_receipt(_receipt("whatever", "delivered", "x", message_id=msg.id))
    assert messages.claim(msg.id, attempt=1, lease_s=30) is None


def capture_events(stack: LocalStack, prefixes: list[str]) -> Any:
    """A rule on the smsdesk bus → a fresh SQS queue; returns a function that drains it."""
    import json

    import boto3

    name = f"capture-{uuid.uuid4().hex[:8]}"
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=stack.region)
    ev = boto3.client("events", endpoint_url=stack.endpoint, region_name=stack.region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.env["EVENT_BUS_NAME"]
    pattern = {"source": ["smsdesk"], "detail-type": [{"prefix": p} for p in prefixes]}
    ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    ev.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def drain(pred: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not pred(got) and time.monotonic() < deadline:
            resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            got += [json.loads(m["Body"]) for m in resp.get("Messages", [])]
            if not pred(got):
                time.sleep(0.1)
        return got

    return drain


def test_status_changes_are_events(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    from smsdesk.sending import messages

    drain = capture_events(stack, ["message.", "credits."])
    with stack.configure_all(MESSAGE_EVENTS="all"):  # message.queued is published in that mode only
        status, _, sent = send(stack, http, {"channel_id": channel["id"], "to": NUMBER, "text": "evented"})
        assert status == 202
        recorded = _recorded(stack, http, "refund me")
        messages.fail(recorded.id, code="expired", message="too old")
        messages.fail(recorded.id, code="expired", message="too old")

    def done(evs: list[dict[str, Any]]) -> bool:
        return {(e["detail-type"], e["detail"].get("message_id")) for e in evs} >= {
            ("message.queued", sent["id"]),
            ("message.failed", recorded.id),
            ("credits.refunded", recorded.id),
        }

    evs = drain(done)
    assert done(evs), [e["detail-type"] for e in evs]
    by = {(e["detail-type"], e["detail"].get("message_id")): e["detail"] for e in evs}
    queued = by[("message.queued", sent["id"])]
    assert queued["status"] == "queued" and queued["previous_status"] is None
    assert (queued["to"], queued["credits"], queued["channel_id"]) == (NUMBER, 1, channel["id"])
    failed = by[("message.failed", recorded.id)]
    assert failed["error"] == {"code": "expired", "message": "too old"} and failed["refunded"] is True
    refund = by[("credits.refunded", recorded.id)]
    assert (refund["kind"], refund["amount"], refund["reason"]) == ("refund", 1, "expired")
    time.sleep(0.5)
    evs += drain(lambda _: False, timeout=0.3)
    refunds = [e for e in evs if e["detail-type"] == "credits.refunded" and e["detail"]["message_id"] == recorded.id]
    assert len(refunds) == 1


class _Died(Exception):
    """The invocation dying between the charge-and-record transaction and queueing the job."""


def test_a_keyed_retry_finishes_a_send_that_died_before_queueing(
    stack: LocalStack, http: Any, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt charged and recorded the message, then died before answering. The retry with
    the same Idempotency-Key answers with that message (queued by the outbox with its record, delivered)
    instead of sending a second one: charged once, one SMS."""
    from smsdesk.sending import messages

    key, bal = uuid.uuid4().hex, balance(stack, http)
    req = {"channel_id": channel["id"], "to": NUMBER, "text": f"resumed {key[:6]}"}
    real = messages.record
    with monkeypatch.context() as m:

        def dies(message: Any) -> Any:
            real(message)
            raise _Died

        m.setattr(messages, "record", dies)
        status, _, _ = send(stack, http, req, **{"Idempotency-Key": key})
    assert status == 500 and messages.record is real
    assert balance(stack, http) == bal - 1  # charged and recorded; the answer never left
    status, _, again = send(stack, http, req, **{"Idempotency-Key": key})
    assert status == 202, again
    deadline = time.monotonic() + 20
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = http("GET", f"{stack.base_url}/v1/messages/{again['id']}", headers=auth(stack.token))[2]
        if got["status"] == "delivered":
            break
        time.sleep(0.2)
    assert got["status"] == "delivered", got
    assert balance(stack, http) == bal - 1
    page = http("GET", f"{stack.base_url}/v1/messages?channel_id={channel['id']}&limit=100", headers=auth(stack.token))[
        2
    ]
    assert [m["id"] for m in page["items"] if m["text"] == req["text"]] == [again["id"]]


def test_a_key_names_one_message_even_after_its_record_expired(
    stack: LocalStack, http: Any, channel: dict[str, Any]
) -> None:
    from smsdesk.auth import Caller
    from smsdesk.errors import AppError
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    req = SendRequest(channel_id=channel["id"], to=NUMBER, text="first body")
    first = messages._send(owner, req, message_id="01KEYEDSEND0000000000000A1")
    again = messages._send(owner, req, message_id="01KEYEDSEND0000000000000A1")
    assert again.id == first.id
    with pytest.raises(AppError) as err:
        messages._send(owner, req.model_copy(update={"text": "other body"}), message_id="01KEYEDSEND0000000000000A1")
    assert err.value.code == "idempotency_key_reused"


def _index_entries(index: str, pk: str, message_id: str) -> list[dict[str, Any]]:
    from smsdesk import aws, config
    from smsdesk.data import table

    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        IndexName=index,
        KeyConditionExpression=f"{index}PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )
    items = [table.deserialize(i) for i in resp["Items"]]
    return [i for i in items if i["PK"] == f"MSG#{message_id}" or i.get("message_id") == message_id]


def test_status_changes_rewrite_no_index_entry(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    """A sent message is found by channel and by recipient through an immutable index entry (its
    charge in the credit ledger, written by the outbox from the row's INSERT), so its status changes
    (sending, sent, delivered) write no GSI (each would cost a write unit per index)."""
    from smsdesk.data import messages as repo

    to = "+31612345699"
    status, _, m = send(stack, http, {"channel_id": channel["id"], "to": to, "text": "indexed"})
    assert status == 202, m
    assert stack.wait_streams()
    queued = (_index_entries("GSI1", f"MSGS#{channel['id']}", m["id"]), _index_entries("GSI2", f"MSGTO#{to}", m["id"]))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (repo.get(m["id"]) or {}).get("status") != "delivered":
        time.sleep(0.2)
    row = repo.get(m["id"])
    assert row is not None and row["status"] == "delivered"
    assert not {"GSI1PK", "GSI2PK"} & row.keys()  # the row that changes is in no message index
    delivered = (
        _index_entries("GSI1", f"MSGS#{channel['id']}", m["id"]),
        _index_entries("GSI2", f"MSGTO#{to}", m["id"]),
    )
    assert delivered == queued and len(queued[0]) == len(queued[1]) == 1
    entry = queued[0][0]
    assert entry["PK"].startswith("LEDGER#") and entry["kind"] == "charge" and "status" not in entry
    # ... and the sent overview still finds it, by channel, recipient and status.
    base = f"{stack.base_url}/v1/messages"
    for query in (f"channel_id={channel['id']}&status=delivered", f"to={to.replace('+', '%2B')}&status=delivered"):
        _, _, page = http("GET", f"{base}?{query}", headers=auth(stack.token))
        assert m["id"] in [i["id"] for i in page["items"]], query
        assert next(i for i in page["items"] if i["id"] == m["id"])["status"] == "delivered"
    _, _, page = http("GET", f"{base}?channel_id={channel['id']}&status=queued", headers=auth(stack.token))
    assert m["id"] not in [i["id"] for i in page["items"]]


def test_rows_indexed_the_old_way_stay_listed(stack: LocalStack, http: Any) -> None:
    """Messages recorded before the index entry existed keep their keys on the row, through status
    changes, and are listed next to the new ones."""
    from smsdesk.auth import Caller
    from smsdesk.data import credits as credits_repo
    from smsdesk.data import messages as repo
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    ch = make_channel(stack, http)
    top_up(stack, http, 5)
    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    old = messages.build(owner, messages.access.require_channel(owner, ch["id"]), SendRequest(**_req(ch, "old")))
    credits_repo.transact([repo.put_new(old)])  # as written before: keys on the row, no job
    messages.fail(old.id, code="expired", message="too old")
    assert {"GSI1PK", "GSI2PK"} <= (repo.get(old.id) or {}).keys()
    status, _, new = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "new"})
    assert status == 202, new
    assert stack.wait_streams()
    url = f"{stack.base_url}/v1/messages?channel_id={ch['id']}"
    _, _, page = http("GET", url, headers=auth(stack.token))
    assert [i["id"] for i in page["items"]] == [new["id"], old.id]
    _, _, page = http("GET", f"{url}&status=failed", headers=auth(stack.token))
    assert [i["id"] for i in page["items"]] == [old.id]


def _counted_send(stack: LocalStack, http: Any, body: dict[str, Any], token: str | None = None) -> Any:
    """The AWS calls of a send right after a warm-up send (the channel then cached), counted within the
    channel cache's window: a loaded machine can take longer than it between the two, then again."""
    from bench import bench_aws_calls as calls
    from smsdesk.channels import CHANNEL_CACHE_S

    calls._install()
    for _ in range(5):
        started = time.monotonic()
        assert send(stack, http, {**body, "text": "warm"}, token)[0] == 202
        with calls.counting() as counted:
            assert send(stack, http, {**body, "text": "counted"}, token)[0] == 202
        if time.monotonic() - started < CHANNEL_CACHE_S:
            break
    return counted


def test_a_send_makes_two_aws_calls(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    """Accepting a send: one read (the caller's role and the recipient's list entries together) and the
    charge-and-record transaction. The channel is read once per few seconds per container, not per send."""
    counted = _counted_send(stack, http, {"channel_id": channel["id"], "to": NUMBER})
    api = {op: n for (label, op), n in counted.items() if label == "api:POST"}
    assert api == {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1}


def test_the_role_read_with_the_lists_is_the_profiles(
    stack: LocalStack, http: Any, channel: dict[str, Any], make_user: Any
) -> None:
    """The role a send checks comes from the caller's profile (read with the recipient's list entries),
    not from the token: a token that still says admin gets no admin rights once the profile says agent,
    and an admin without a profile keeps the token's role."""
    agent_id, _ = make_user("agent")
    stale = token_for(stack, agent_id, "admin")  # issued before a demotion
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": NUMBER, "text": "hi"}, token=stale)
    assert status == 403 and body["error"]["field"] == "channel_id", body
    no_profile = token_for(stack, f"ext-{uuid.uuid4().hex[:8]}", "admin")
    status, _, body = send(stack, http, {"channel_id": channel["id"], "to": NUMBER, "text": "hi"}, token=no_profile)
    assert status == 202, body


def test_an_agents_send_reads_role_teams_and_lists_at_once(stack: LocalStack, http: Any) -> None:
    """An agent's send: one read for their role, their teams and the recipient's list entries, then the
    transaction (before: the role, the teams and the lists were three reads); a member removed from
    the channel's team is refused at once."""

    ch = make_channel(stack, http)
    top_up(stack, http, 5)
    _, _, team = http("POST", f"{stack.base_url}/v1/teams", headers=auth(stack.token), body={"name": "Sales"})
    assert (
        http(
            "PUT",
            f"{stack.base_url}/v1/channels/{ch['id']}/teams",
            headers=auth(stack.token),
            body={"team_ids": [team["id"]]},
        )[0]
        == 200
    )
    status, _, agent = http(
        "POST",
        f"{stack.base_url}/v1/users",
        headers=auth(stack.token),
        body={"email": f"ag-{uuid.uuid4().hex[:6]}@example.com", "name": "Ag", "team_ids": [team["id"]]},
    )
    assert status == 201, agent
    tok = token_for(stack, agent["user_id"], "agent")
    counted = _counted_send(stack, http, {"channel_id": ch["id"], "to": NUMBER}, tok)
    api = {op: n for (label, op), n in counted.items() if label == "api:POST"}
    assert api == {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1}
    status, _, body = http(
        "PUT", f"{stack.base_url}/v1/teams/{team['id']}/members", headers=auth(stack.token), body={"user_ids": []}
    )
    assert status == 200, body
    status, _, body = send(stack, http, {"channel_id": ch["id"], "to": NUMBER, "text": "after"}, tok)
    assert status == 403 and body["error"]["field"] == "channel_id", body
