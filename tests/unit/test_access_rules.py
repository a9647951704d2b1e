"""Pure rules of access, channel settings, user creation rights, list checks and the secret cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from smsdesk import access, channels, lists, users
from smsdesk.auth import Caller
from smsdesk.errors import AppError, Forbidden
from smsdesk.models import Channel, utcnow

TWILIO = {"account_sid": "AC" + "0" * 32}


@pytest.mark.parametrize(
    ("role", "user_teams", "channel_teams", "ok"),
    [
        ("owner", set(), [], True),
        ("admin", set(), ["t1"], True),
        ("agent", set(), [], False),
        ("agent", {"t1"}, [], False),
        ("agent", {"t1"}, ["t2"], False),
        ("agent", {"t1", "t2"}, ["t2", "t3"], True),
    ],
)
def test_may_use(role: str, user_teams: set[str], channel_teams: list[str], ok: bool) -> None:
    assert access.may_use(role, user_teams, channel_teams) is ok


@pytest.mark.parametrize(
    ("caller_role", "new_role", "allowed"),
    [
        ("owner", "owner", True),
        ("owner", "admin", True),
        ("owner", "agent", True),
        ("admin", "agent", True),
        ("admin", "admin", False),
        ("admin", "owner", False),
        ("agent", "agent", False),
    ],
)
def test_who_may_create_whom(caller_role: str, new_role: str, allowed: bool) -> None:
    who = Caller("u", caller_role, "u")  # type: ignore[arg-type]
    if allowed:
        users.check_may_create(who, new_role)  # type: ignore[arg-type]
    else:
        with pytest.raises(Forbidden):
            users.check_may_create(who, new_role)  # type: ignore[arg-type]


def test_webhook_urls() -> None:
    assert channels.webhook_urls("abc.execute-api.eu-west-1.amazonaws.com", "twilio", "C1") == {
        "status": "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/twilio/C1/status",
        "inbound": "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/twilio/C1/inbound",
    }
    assert channels.webhook_urls("127.0.0.1:8787", "sandbox", "C2")["status"] == (
        "http://127.0.0.1:8787/webhooks/sandbox/C2/status"
    )
    assert channels.webhook_urls("localhost", "sandbox", "C2")["status"].startswith("http://localhost/")
    assert channels.webhook_urls("localhost.example.com", "sandbox", "C2")["status"].startswith("https://")


def test_two_way_sender_error_names_sender() -> None:
    with pytest.raises(PydanticValidationError) as exc:
        channels.ChannelCreate(name="x", type="two_way", sender="Acme", provider="twilio", provider_settings=TWILIO)
    assert exc.value.errors()[0]["loc"] == ("sender",)
    ok = channels.ChannelCreate(
        name="x", type="two_way", sender="+31 6 1234 5678", provider="twilio", provider_settings=TWILIO
    )
    assert ok.sender == "+31612345678"
    with pytest.raises(AppError) as exc2:  # one-way: the text engine's sender-ID rules
        channels.ChannelCreate(name="x", type="one_way", sender="A&B", provider="twilio", provider_settings=TWILIO)
    assert exc2.value.field == "sender" and exc2.value.code == "invalid_sender_id"


def test_sandbox_only_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMSDESK_LOCAL", raising=False)
    body = channels.ChannelCreate(name="x", type="one_way", sender="Acme", provider="sandbox")
    with pytest.raises(AppError) as exc:
        channels.create_channel(body, host="h")
    assert (exc.value.status, exc.value.field) == (422, "provider")


def test_secret_for_sandbox_generates_signing_key() -> None:
    generated = channels._secret_for("sandbox", None)
    assert len(generated["signing_key"]) == 64
    assert channels._secret_for("sandbox", {"signing_key": "k"}) == {"signing_key": "k"}
    assert channels._secret_for("twilio", None) == {}


def _channel(has_secret: bool = True, cid: str = "C-cache") -> Channel:
    now = utcnow()
    return Channel(
        id=cid,
        name="n",
        type="one_way",
        sender="Acme",
        provider="twilio",
        provider_settings=TWILIO,
        created_at=now,
        updated_at=now,
        has_secret=has_secret,
    )


def test_provider_secret_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class FakeSecrets:
        def get_secret_value(self, SecretId: str) -> dict[str, Any]:
            calls.append(SecretId)
            return {"SecretString": json.dumps({"auth_token": "t"})}

    monkeypatch.setenv("SECRETS_PREFIX", "smsdesk/test/providers/")
    monkeypatch.setattr(channels.aws, "secrets", lambda: FakeSecrets())
    channels._secret_cache.clear()
    ch = _channel()
    assert channels.get_provider_secret(ch) == {"auth_token": "t"}
    got = channels.get_provider_secret(ch)
    got["auth_token"] = "mutated"  # callers get copies
    assert channels.get_provider_secret(ch) == {"auth_token": "t"}
    assert calls == ["smsdesk/test/providers/C-cache"]
    monkeypatch.setattr(channels.time, "monotonic", lambda: 1e12)  # past the 60 s TTL
    channels.get_provider_secret(ch)
    assert len(calls) == 2
    assert channels.get_provider_secret(_channel(has_secret=False, cid="C-none")) == {}  # no call at all
    assert len(calls) == 2


def _entry(kind: str, scope: str, **kw: Any) -> dict[str, Any]:
    item = {"PK": f"{kind}#{scope}", "SK": "+31612345678"}
    if scope != "ALL":
        item["channel_id"] = scope
    return {**item, **kw}


@pytest.mark.parametrize(
    ("entries", "error"),
    [
        ([], None),
        ([_entry("BLOCK", "ALL", direction="inbound")], None),
        ([_entry("BLOCK", "C1", direction="outbound")], lists.RecipientBlocked),
        ([_entry("BLOCK", "ALL", direction="both")], lists.RecipientBlocked),
        ([_entry("OPTOUT", "C1")], lists.RecipientOptedOut),
        ([_entry("OPTOUT", "ALL"), _entry("BLOCK", "C1", direction="both")], lists.RecipientBlocked),
    ],
)
def test_check_outbound(monkeypatch: pytest.MonkeyPatch, entries: list[dict], error: type | None) -> None:
    monkeypatch.setattr(lists.repo, "entries_for", lambda *_: entries)
    if error is None:
        lists.check_outbound("C1", "+31612345678")
    else:
        with pytest.raises(error) as exc:
            lists.check_outbound("C1", "+31612345678")
        assert exc.value.status == 422 and exc.value.field == "to"


def test_normalise_accepts_any_valid_number() -> None:
    assert lists.normalise("06 1234 5678", "NL") == "+31612345678"
    assert lists.normalise("020 123 4567", "NL") == "+31201234567"  # landline: fine for lists
    assert lists.normalise("0032 470 12 34 56", "NL") == "+32470123456"
    with pytest.raises(AppError) as exc:
        lists.normalise("+3161", "NL", field="number")
    assert exc.value.field == "number"
