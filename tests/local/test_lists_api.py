"""Blocklists, opt-outs and the consent history through the local stack; check_outbound semantics."""

from __future__ import annotations

from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def channels(stack: LocalStack, http: Any) -> tuple[str, str]:
    ids = []
    for name in ("A", "B"):
        body = {"name": name, "type": "one_way", "sender": "Acme", "provider": "sandbox"}
        status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
        assert status == 201, ch
        ids.append(ch["id"])
    return ids[0], ids[1]


def test_blocklist_crud(stack: LocalStack, http: Any, channels: tuple[str, str]) -> None:
    base, h = stack.base_url, auth(stack.token)
    a, b = channels
    status, _, e = http("POST", f"{base}/v1/blocklist", headers=h, body={"number": "06 1111 0001", "reason": "abuse"})
    assert status == 201, e
    assert e["number"] == "+31611110001" and e["channel_id"] is None and e["direction"] == "both"
    status, _, e = http(
        "POST",
        f"{base}/v1/blocklist",
        headers=h,
        body={"number": "+31611110002", "channel_id": a, "direction": "inbound"},
    )
    assert status == 201 and e["channel_id"] == a
    # landlines may be blocked too
    status, _, e = http("POST", f"{base}/v1/blocklist", headers=h, body={"number": "020 123 4567", "channel_id": b})
    assert status == 201 and e["number"] == "+31201234567"

    _, _, page = http("GET", f"{base}/v1/blocklist", headers=h)
    numbers = {(x["channel_id"], x["number"]) for x in page["items"]}
    assert {(None, "+31611110001"), (a, "+31611110002"), (b, "+31201234567")} <= numbers
    _, _, page = http("GET", f"{base}/v1/blocklist?channel_id={a}", headers=h)
    assert [(x["number"], x["direction"]) for x in page["items"]] == [("+31611110002", "inbound")]
    _, _, page = http("GET", f"{base}/v1/blocklist?account_wide=true", headers=h)
    assert {x["channel_id"] for x in page["items"]} == {None}

    status, _, _ = http("DELETE", f"{base}/v1/blocklist/%2B31611110002?channel_id={a}", headers=h)
    assert status == 204
    status, _, out = http("DELETE", f"{base}/v1/blocklist/%2B31611110002?channel_id={a}", headers=h)
    assert status == 404 and out["error"]["field"] == "number"
    assert http("DELETE", f"{base}/v1/blocklist/0611110001", headers=h)[0] == 204  # national form, account scope


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"number": "hello"}, 422, "number"),
        ({"number": "+3161"}, 422, "number"),
        ({"number": "+31612345678", "direction": "sideways"}, 422, "direction"),
        ({"number": "+31612345678", "channel_id": "nope"}, 404, "channel_id"),
    ],
)
def test_blocklist_validation(stack: LocalStack, http: Any, body: dict, status: int, field: str) -> None:
    got, _, out = http("POST", f"{stack.base_url}/v1/blocklist", headers=auth(stack.token), body=body)
    assert got == status and out["error"]["field"] == field, out


def test_opt_outs_and_consent_history(stack: LocalStack, http: Any, channels: tuple[str, str]) -> None:
    base, h = stack.base_url, auth(stack.token)
    a, _ = channels
    status, _, out = http("POST", f"{base}/v1/opt-outs", headers=h, body={"number": "+31622220001"})
    assert status == 422 and out["error"]["field"] == "reason"
    status, _, o = http(
        "POST",
        f"{base}/v1/opt-outs",
        headers=h,
        body={"number": "0622220001", "channel_id": a, "reason": "asked by phone"},
    )
    assert status == 201 and o["number"] == "+31622220001" and o["source"] == "api" and o["created_by"]
    _, _, page = http("GET", f"{base}/v1/opt-outs?channel_id={a}", headers=h)
    assert [x["number"] for x in page["items"]] == ["+31622220001"]

    status, _, out = http("DELETE", f"{base}/v1/opt-outs/%2B31622220001?channel_id={a}", headers=h)
    assert status == 422 and out["error"]["field"] == "reason"  # removing consent needs a reason too
    status, _, _ = http("DELETE", f"{base}/v1/opt-outs/%2B31622220001?channel_id={a}&reason=re-subscribed", headers=h)
    assert status == 204
    status, _, out = http("DELETE", f"{base}/v1/opt-outs/%2B31622220001?channel_id={a}&reason=again", headers=h)
    assert status == 404  # nothing to remove: and nothing recorded

    _, _, hist = http("GET", f"{base}/v1/opt-outs/%2B31622220001/history", headers=h)
    assert [(r["event"], r["reason"], r["channel_id"]) for r in hist["items"]] == [
        ("opt_out", "asked by phone", a),
        ("opt_in", "re-subscribed", a),
    ]
    assert all(r["by"] for r in hist["items"])


def test_check_outbound_semantics(stack: LocalStack, channels: tuple[str, str]) -> None:
    from smsdesk import lists

    a, b = channels
    n = "+31633330001"
    lists.check_outbound(a, n)  # nothing listed
    lists.add_block(a, n, direction="inbound", reason=None, by=None)
    lists.check_outbound(a, n)  # inbound-only blocks do not stop sends
    assert lists.is_blocked(a, n, "inbound") and not lists.is_blocked(a, n, "outbound")
    assert not lists.is_blocked(b, n, "inbound")  # per channel
    lists.add_block(a, n, direction="outbound", reason=None, by=None)  # replaces the entry
    with pytest.raises(lists.RecipientBlocked) as exc:
        lists.check_outbound(a, n)
    assert (exc.value.status, exc.value.code, exc.value.field) == (422, "recipient_blocked", "to")
    lists.check_outbound(b, n)  # the other channel is unaffected
    lists.add_block(None, n, direction="both", reason=None, by=None)
    with pytest.raises(lists.RecipientBlocked):
        lists.check_outbound(b, n)  # account-wide applies to every channel
    assert lists.is_blocked(b, n, "inbound")

    m = "+31633330002"
    lists.opt_out(b, m, reason="STOP", source="keyword", by=None)
    with pytest.raises(lists.RecipientOptedOut) as exc2:
        lists.check_outbound(b, m)
    assert (exc2.value.status, exc2.value.code, exc2.value.field) == (422, "recipient_opted_out", "to")
    lists.check_outbound(a, m)
    assert lists.is_opted_out(b, m) and not lists.is_opted_out(a, m) and not lists.is_opted_out(None, m)
    lists.opt_out(None, m, reason="STOP ALL", source="keyword", by=None)
    with pytest.raises(lists.RecipientOptedOut):
        lists.check_outbound(a, m)
    assert lists.opt_in(None, m, reason="START", source="keyword", by=None) is True
    assert lists.opt_in(None, m, reason="START", source="keyword", by=None) is False  # recorded anyway
    lists.check_outbound(a, m)
    with pytest.raises(lists.RecipientOptedOut):
        lists.check_outbound(b, m)  # the channel opt-out still stands
    history, _ = lists.consent_history(m)
    assert [r.event for r in history] == ["opt_out", "opt_out", "opt_in", "opt_in"]
