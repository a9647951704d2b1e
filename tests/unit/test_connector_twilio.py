"""The Twilio connector: signatures against Twilio's own RequestValidator, sending against a local fake
of the Messages API, status-callback parsing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from smsdesk.connectors.base import PermanentError, SignatureError, TransientError, WebhookRequest
from smsdesk.connectors.twilio import TwilioConnector, compute_signature
from smsdesk.models import Channel, Message, StatusChange

TOKEN = "12345678901234567890123456789012"
ACCOUNT = "AC" + "a" * 32
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/webhooks/twilio/CH1/status"
NOW = dt.datetime.now(dt.UTC)


def channel(**settings: str) -> Channel:
    return Channel(
        id="CH1",
        name="Twilio",
        type="two_way",
        sender="+31612345678",
        provider="twilio",
        provider_settings={"account_sid": ACCOUNT, **settings},
        created_at=NOW,
        updated_at=NOW,
        webhook_urls={"status": URL},
        validity_s=3600,
    )


def message(to: str = "+31687654321") -> Message:
    return Message(
        id="MSG1",
        channel_id="CH1",
        to=to,
        sender="+31612345678",
        text="Hello €",
        encoding="UCS-2",
        segments=1,
        credits=1,
        status="sending",
        history=[StatusChange(status="queued", at=NOW)],
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=600),
        provider="twilio",
    )


def form_request(params: dict[str, str], *, signature: str | None, url: str = URL, **headers: str) -> WebhookRequest:
    hdrs = {"content-type": "application/x-www-form-urlencoded", **{k.lower(): v for k, v in headers.items()}}
    if signature is not None:
        hdrs["x-twilio-signature"] = signature
    return WebhookRequest(url=url, method="POST", headers=hdrs, body=urlencode(params).encode())


CALLBACK = {
    "MessageSid": "SM" + "1" * 32,
    "MessageStatus": "delivered",
    "AccountSid": ACCOUNT,
    "From": "+31612345678",
    "To": "+31687654321",
    "ApiVersion": "2010-04-01",
    "SmsSid": "SM" + "1" * 32,
    "SmsStatus": "delivered",
}

# -- signatures ------------------------------------------------------------------------------------------


def test_request_signed_by_twilios_validator_verifies() -> None:
    sig = RequestValidator(TOKEN).compute_signature(URL, CALLBACK)
    TwilioConnector().verify(form_request(CALLBACK, signature=sig), {"auth_token": TOKEN})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "MessageStatus": "failed"},  # a changed value
        lambda p: {**p, "Extra": "1"},  # an added parameter
        lambda p: {k: v for k, v in p.items() if k != "To"},  # a removed parameter
    ],
)
def test_tampered_request_fails(tamper: Any) -> None:
    sig = RequestValidator(TOKEN).compute_signature(URL, CALLBACK)
    with pytest.raises(SignatureError):
        TwilioConnector().verify(form_request(tamper(CALLBACK), signature=sig), {"auth_token": TOKEN})


def test_other_url_wrong_token_or_missing_header_fail() -> None:
    good = RequestValidator(TOKEN).compute_signature(URL, CALLBACK)
    c = TwilioConnector()
    with pytest.raises(SignatureError):
        c.verify(form_request(CALLBACK, signature=good, url=URL.replace("CH1", "CH2")), {"auth_token": TOKEN})
    with pytest.raises(SignatureError):
        c.verify(form_request(CALLBACK, signature=good), {"auth_token": "x" * 32})
    with pytest.raises(SignatureError):
        c.verify(form_request(CALLBACK, signature=None), {"auth_token": TOKEN})
    with pytest.raises(SignatureError):
        c.verify(form_request(CALLBACK, signature=good), {})  # no token: nothing can verify


def test_port_and_query_string_variants_like_twilio() -> None:
    """Twilio may sign the URL with the default port; the query string is part of the URL."""
    with_query = URL + "?a=1&b=2"
    sig = RequestValidator(TOKEN).compute_signature(
        with_query.replace("amazonaws.com/", "amazonaws.com:443/"), CALLBACK
    )
    TwilioConnector().verify(form_request(CALLBACK, signature=sig, url=with_query), {"auth_token": TOKEN})
    local = "http://127.0.0.1:8787/webhooks/twilio/CH1/status"
    sig = RequestValidator(TOKEN).compute_signature(local, CALLBACK)
    TwilioConnector().verify(form_request(CALLBACK, signature=sig, url=local), {"auth_token": TOKEN})


class _Multi(dict):
    """A form with repeated names, as Twilio's validator sees Flask's MultiDict."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def test_repeated_parameters_and_sha256_shared_key() -> None:
    pairs = [("To", "+31687654321"), ("Tag", "b"), ("Tag", "a"), ("Body", "")]
    multi = _Multi({"To": ["+31687654321"], "Tag": ["b", "a"], "Body": [""]})
    sig = RequestValidator(TOKEN).compute_signature(URL, multi)
    req = WebhookRequest(url=URL, method="POST", headers={"x-twilio-signature": sig}, body=urlencode(pairs).encode())
    TwilioConnector().verify(req, {"auth_token": TOKEN})

    shared = "shared-secret"
    sig256 = RequestValidator(shared).compute_signature(URL, CALLBACK, algorithm="HMAC_SHA256")
    settings_header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    req = form_request(CALLBACK, signature=sig256, **{"X-Twilio-Webhooks-Signature-Settings": settings_header})
    TwilioConnector().verify(req, {"auth_token": TOKEN, "webhook_shared_key": shared})
    with pytest.raises(SignatureError):  # the SHA-256 signature is not an auth-token SHA-1 signature
        TwilioConnector().verify(form_request(CALLBACK, signature=sig256), {"auth_token": TOKEN})


def test_json_webhook_with_body_hash() -> None:
    body = json.dumps({"MessageSid": "SM1", "MessageStatus": "sent"}).encode()
    url = f"{URL}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    sig = RequestValidator(TOKEN).compute_signature(url, {})
    ok = WebhookRequest(url=url, method="POST", headers={"x-twilio-signature": sig}, body=body)
    TwilioConnector().verify(ok, {"auth_token": TOKEN})
    bad = WebhookRequest(url=url, method="POST", headers={"x-twilio-signature": sig}, body=body + b" ")
    with pytest.raises(SignatureError):
        TwilioConnector().verify(bad, {"auth_token": TOKEN})


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(params=st.dictionaries(st.text(min_size=1, max_size=8).filter(str.strip), _text, max_size=6), key=_text)
def test_signature_equals_twilios_for_any_form(params: dict[str, str], key: str) -> None:
    expected = RequestValidator(key).compute_signature(URL, params)
    assert compute_signature(URL, {k: [v] for k, v in params.items()}, key) == expected


# -- sending against a local fake of the Messages API -----------------------------------------------------


class FakeTwilio:
    """Twilio's Messages endpoint on 127.0.0.1: records requests, answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.delay_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "form": parse_qs(body)})
                time.sleep(fake.delay_s)
                status, payload, headers = fake.script.pop(0) if fake.script else fake.accepted(parse_qs(body))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def accepted(form: dict[str, list[str]]) -> tuple[int, dict[str, Any], dict[str, str]]:
        return (
            201,
            {
                "sid": "SM" + "f" * 32,
                "status": "queued",
                "to": form["To"][0],
                "body": form["Body"][0],
                "num_segments": "1",
                "account_sid": ACCOUNT,
            },
            {},
        )

    @staticmethod
    def error(status: int, code: int, text: str, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        more = f"https://www.twilio.com/docs/errors/{code}"
        return status, {"code": code, "message": text, "more_info": more, "status": status}, headers


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    f = FakeTwilio()
    yield f
    f.server.shutdown()
    f.server.server_close()


def test_send_posts_the_messages_api_request(fake: FakeTwilio) -> None:
    result = TwilioConnector(api_base=fake.base).send(channel(), message(), {"auth_token": TOKEN})
    assert result.provider_id == "SM" + "f" * 32 and result.parts == 1
    (req,) = fake.requests
    assert req["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    form = {k: v[0] for k, v in req["form"].items()}
    assert form["To"] == "+31687654321" and form["From"] == "+31612345678" and form["Body"] == "Hello €"
    assert form["StatusCallback"] == URL + "?smsdesk_message_id=MSG1"  # receipts name their message
    assert 2990 <= int(form["ValidityPeriod"]) <= 3000  # validity 3600 s, created 600 s ago


def test_send_with_messaging_service(fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_API_BASE", fake.base)  # the environment override the deployment uses
    TwilioConnector().send(channel(messaging_service_sid="MG" + "b" * 32), message(), {"auth_token": TOKEN})
    form = fake.requests[0]["form"]
    assert form["MessagingServiceSid"] == ["MG" + "b" * 32] and "From" not in form


def test_send_errors_are_typed(fake: FakeTwilio) -> None:
    c = TwilioConnector(api_base=fake.base)
    fake.script.append(FakeTwilio.error(400, 21211, "The 'To' number is not a valid phone number."))
    with pytest.raises(PermanentError) as perm:
        c.send(channel(), message(), {"auth_token": TOKEN})
    assert perm.value.code == "twilio_21211" and "not a valid" in perm.value.message

    fake.script.append(FakeTwilio.error(400, 21610, "Attempt to send to unsubscribed recipient"))
    with pytest.raises(PermanentError, match="twilio_21610"):
        c.send(channel(), message(), {"auth_token": TOKEN})

    fake.script.append(FakeTwilio.error(429, 20429, "Too Many Requests", **{"Retry-After": "7"}))
    with pytest.raises(TransientError) as throttled:
        c.send(channel(), message(), {"auth_token": TOKEN})
    assert throttled.value.code == "twilio_20429" and throttled.value.retry_after_s == 7

    fake.script.append(FakeTwilio.error(500, 20500, "Internal Server Error"))
    with pytest.raises(TransientError, match="twilio_20500"):
        c.send(channel(), message(), {"auth_token": TOKEN})

    fake.script.append(FakeTwilio.error(401, 20003, "Authenticate"))
    with pytest.raises(PermanentError, match="twilio_20003"):
        c.send(channel(), message(), {"auth_token": TOKEN})


def test_unreachable_or_slow_twilio_is_transient(fake: FakeTwilio) -> None:
    fake.delay_s = 0.5
    with pytest.raises(TransientError, match="twilio_unreachable"):
        TwilioConnector(api_base=fake.base, timeout_s=0.1).send(channel(), message(), {"auth_token": TOKEN})
    with pytest.raises(TransientError, match="twilio_unreachable"):
        TwilioConnector(api_base="http://127.0.0.1:9").send(channel(), message(), {"auth_token": TOKEN})


def test_missing_credentials_are_permanent() -> None:
    with pytest.raises(PermanentError, match="twilio_not_configured"):
        TwilioConnector(api_base="http://127.0.0.1:9").send(channel(), message(), {})


# -- status callbacks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "twilio_status,ours",
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("queued", None),
        ("sending", None),
    ],
)
def test_status_callbacks_map_to_receipts(twilio_status: str, ours: str | None) -> None:
    params = {**CALLBACK, "MessageStatus": twilio_status, "SmsStatus": twilio_status}
    if twilio_status in ("undelivered", "failed"):
        params["ErrorCode"] = "30003"
    at = "2026-01-02T03:04:05.678Z"
    req = form_request(params, signature="x", **{"X-Smsdesk-Received-At": at})
    receipts = TwilioConnector().parse_receipts(req)
    if ours is None:
        assert receipts == []
        return
    (r,) = receipts
    assert (r.provider, r.provider_id, r.status) == ("twilio", CALLBACK["MessageSid"], ours)
    assert r.at == dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert r.error_code == ("twilio_30003" if ours in ("undelivered", "failed") else None)
    # The same callback again is the same receipt (de-duplicated downstream); another status is not.
    assert TwilioConnector().parse_receipts(req)[0].raw_id == r.raw_id
    other = form_request({**params, "MessageStatus": "read"}, signature="x")
    assert TwilioConnector().parse_receipts(other)[0].raw_id != r.raw_id


def test_inbound_form_is_parsed() -> None:
    req = form_request(
        {"MessageSid": "SM9", "From": "+31687654321", "To": "+31612345678", "Body": "STOP"}, signature=""
    )
    sms = TwilioConnector().parse_inbound(req)
    assert (sms.provider_id, sms.from_, sms.to, sms.text) == ("SM9", "+31687654321", "+31612345678", "STOP")
