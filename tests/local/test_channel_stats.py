"""Service-level stats on the local stack (issue 6): answered on the first agent reply, abandoned on
close/delete before that, waiting now, compliance, average and p90 wait, window validation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from smsdesk import channels
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

Http = Callable[..., tuple[int, dict[str, str], Any]]
_seq = iter(range(100, 10_000))


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def inbound(channel_id: str, enqueued_at: dt.datetime) -> str:
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": f"+3163{next(_seq):07d}"},
        to=ch.sender,
        text="hello",
        received_at=enqueued_at,
    )
    return conversations.record_inbound(ch, sms, now=enqueued_at).conversation.id


def test_channel_stats(stack: LocalStack, http: Http, make_user: Any) -> None:
    base, owner = stack.base_url, auth(stack.token)
    status, _, body = http("POST", f"{base}/v1/credits/top-ups", headers=owner, body={"credits": 20, "reference": "s"})
    assert status == 201, body
    channel = {
        "name": f"stats-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "throughput_mps": 50,
        "queue": {"strategy": "manual", "service_level_s": 60},
    }
    status, _, ch = http("POST", f"{base}/v1/channels", headers=owner, body=channel)
    assert status == 201, ch
    now = dt.datetime.now(dt.UTC)
    fast = inbound(ch["id"], now - dt.timedelta(seconds=30))
    slow = inbound(ch["id"], now - dt.timedelta(seconds=120))
    gone = inbound(ch["id"], now - dt.timedelta(seconds=10))
    deleted = inbound(ch["id"], now - dt.timedelta(seconds=5))
    waiting = inbound(ch["id"], now - dt.timedelta(seconds=1))
    for conv_id in (fast, slow, fast):  # a second reply does not count again
        status, _, msg = http(
            "POST", f"{base}/v1/conversations/{conv_id}/messages", headers=owner, body={"text": "On it!"}
        )
        assert status in (200, 201, 202), msg
    for conv_id, method, path in ((gone, "POST", "/close"), (deleted, "DELETE", "")):
        status, _, body = http(method, f"{base}/v1/conversations/{conv_id}{path}", headers=owner)
        assert status in (200, 204), body
    frm = (now - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    to = (now + dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    status, _, got = http("GET", f"{base}/v1/channels/{ch['id']}/stats?from={frm}&to={to}", headers=owner)
    assert status == 200, got
    assert (got["answered"], got["answered_within_level"], got["abandoned"], got["timed_out"]) == (2, 1, 2, 0)
    assert got["compliance_pct"] == 25.0 and got["service_level_s"] == 60
    assert (got["waiting_now"], got["unassigned_now"]) == (1, 1)
    assert 70 <= got["avg_wait_s"] <= 90 and 120 <= got["p90_wait_s"] <= 135
    assert waiting

    # an earlier window holds none of them
    early = (now - dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    status, _, none = http("GET", f"{base}/v1/channels/{ch['id']}/stats?from={early}&to={frm}", headers=owner)
    assert status == 200 and none["answered"] == 0 and none["compliance_pct"] is None, none

    status, _, err = http("GET", f"{base}/v1/channels/{ch['id']}/stats?from={to}&to={frm}", headers=owner)
    assert status == 422 and err["error"]["field"] == "from", err
    status, _, err = http("GET", f"{base}/v1/channels/{ch['id']}/stats?from=yesterday", headers=owner)
    assert status == 422 and err["error"]["field"] == "from", err
    _, outsider = make_user("agent")
    status, _, err = http("GET", f"{base}/v1/channels/{ch['id']}/stats", headers=auth(outsider))
    assert status == 403, err
