"""Inbound SMS as each provider delivers it: parsing, the queue envelope round trip, Twilio signatures."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from smsdesk.connectors import sandbox
from smsdesk.connectors._util import RECEIVED_AT_HEADER
from smsdesk.connectors.aws_sms import AwsSmsConnector
from smsdesk.connectors.base import SignatureError, WebhookRequest
from smsdesk.connectors.twilio import TwilioConnector
from smsdesk.envelopes import InboundEnvelope
from smsdesk.inbound.consumer import parse, request_from_envelope
from smsdesk.webhooks.routes import raw_record

TOKEN = "0" * 32
URL = "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/twilio/CH1/inbound"
RECEIVED = dt.datetime(2026, 11, 21, 14, 50, 25, 123000, tzinfo=dt.UTC)

#: What Twilio posts for an incoming SMS (Messaging webhook, form-encoded).
TWILIO_INBOUND = {
    "ToCountry": "NL",
    "ToState": "",
    "SmsMessageSid": "SM" + "a" * 32,
    "NumMedia": "0",
    "ToCity": "",
    "FromZip": "",
    "SmsSid": "SM" + "a" * 32,
    "FromState": "",
    "SmsStatus": "received",
    "FromCity": "",
    "Body": "Hoi, waar blijft mijn pakket? €",
    "FromCountry": "NL",
    "To": "+3197010000001",
    "ToZip": "",
    "NumSegments": "1",
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": "AC" + "1" * 32,
    "From": "+31612345678",
    "ApiVersion": "2010-04-01",
}

#: What AWS End User Messaging SMS publishes to the inbound SNS topic for a two-way SMS.
AWS_INBOUND = {
    "originationNumber": "+31612345678",
    "destinationNumber": "+3197010000002",
    "messageKeyword": "KEYWORD_123456789012",
    "messageBody": "STOP",
    "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
    "previousPublishedMessageId": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def twilio_request(params: dict[str, str], signature: str | None, url: str = URL) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return WebhookRequest(url=url, method="POST", headers=headers, body=urlencode(params).encode())


# -- twilio ---------------------------------------------------------------------------------------------


def test_twilio_inbound_signed_as_twilio_signs_is_verified_and_parsed() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, TWILIO_INBOUND)
    req = twilio_request(TWILIO_INBOUND, signature)
    TwilioConnector().verify(req, {"auth_token": TOKEN})
    sms = TwilioConnector().parse_inbound(req)
    assert (sms.provider, sms.provider_id, sms.from_, sms.to) == (
        "twilio",
        "SM" + "a" * 32,
        "+31612345678",
        "+3197010000001",
    )
    assert sms.text == "Hoi, waar blijft mijn pakket? €"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "Body": "STOP"},  # another text
        lambda p: {**p, "From": "+31600000000"},  # another sender
        lambda p: {**p, "Extra": "1"},  # a parameter added
        lambda p: {k: v for k, v in p.items() if k != "NumMedia"},  # a parameter removed
    ],
)
def test_twilio_inbound_tampered_is_refused(tamper: object) -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, TWILIO_INBOUND)
    req = twilio_request(tamper(TWILIO_INBOUND), signature)  # type: ignore[operator]
    with pytest.raises(SignatureError):
        TwilioConnector().verify(req, {"auth_token": TOKEN})


def test_twilio_inbound_signed_for_another_url_or_key_is_refused() -> None:
    other_url = RequestValidator(TOKEN).compute_signature(URL.replace("CH1", "CH2"), TWILIO_INBOUND)
    other_key = RequestValidator("1" * 32).compute_signature(URL, TWILIO_INBOUND)
    for sig in (other_url, other_key, "", None):
        with pytest.raises(SignatureError):
            TwilioConnector().verify(twilio_request(TWILIO_INBOUND, sig), {"auth_token": TOKEN})


def test_twilio_inbound_is_dated_when_our_webhook_received_it() -> None:
    req = twilio_request(TWILIO_INBOUND, "x")
    stamped = WebhookRequest(
        req.url, req.method, {**req.headers, RECEIVED_AT_HEADER: "2026-11-21T14:50:25.123Z"}, req.body
    )
    assert TwilioConnector().parse_inbound(stamped).received_at == RECEIVED


def test_twilio_inbound_without_body_is_an_empty_text_and_without_sid_an_error() -> None:
    media_only = {k: v for k, v in TWILIO_INBOUND.items() if k != "Body"}
    assert TwilioConnector().parse_inbound(twilio_request(media_only, "x")).text == ""
    legacy = {k: v for k, v in TWILIO_INBOUND.items() if k != "MessageSid"}
    assert TwilioConnector().parse_inbound(twilio_request(legacy, "x")).provider_id == "SM" + "a" * 32
    for missing in ("From", "To"):
        with pytest.raises(ValueError):
            TwilioConnector().parse_inbound(
                twilio_request({k: v for k, v in TWILIO_INBOUND.items() if k != missing}, "x")
            )
    no_sid = {k: v for k, v in TWILIO_INBOUND.items() if k not in ("MessageSid", "SmsMessageSid", "SmsSid")}
    with pytest.raises(ValueError):
        TwilioConnector().parse_inbound(twilio_request(no_sid, "x"))


# -- sandbox --------------------------------------------------------------------------------------------


def sandbox_request(event: dict[str, object], key: str | None = "k" * 64) -> WebhookRequest:
    body = json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if key:
        headers["x-sandbox-signature"] = sandbox.sign(body, key)
    return WebhookRequest(
        url="http://127.0.0.1/webhooks/sandbox/CH1/inbound", method="POST", headers=headers, body=body
    )


def test_sandbox_inbound_is_verified_and_parsed() -> None:
    event = {
        "id": "SBIN1",
        "from": "0612345678",
        "to": "+3197010000001",
        "text": "hi",
        "at": "2026-11-21T14:50:25.123Z",
    }
    req = sandbox_request(event)
    sandbox.SandboxConnector().verify(req, {"signing_key": "k" * 64})
    sms = sandbox.SandboxConnector().parse_inbound(req)
    assert (sms.provider, sms.provider_id, sms.from_, sms.to, sms.text, sms.received_at) == (
        "sandbox",
        "SBIN1",
        "0612345678",
        "+3197010000001",
        "hi",
        RECEIVED,
    )
    with pytest.raises(SignatureError):
        sandbox.SandboxConnector().verify(
            sandbox_request({**event, "text": "STOP"}, key="x" * 64), {"signing_key": "k" * 64}
        )


def test_sandbox_inbound_without_id_gets_a_stable_one() -> None:
    event = {"from": "+31612345678", "to": "+3197010000001", "text": "hi", "at": "2026-11-21T14:50:25.123Z"}
    first = sandbox.SandboxConnector().parse_inbound(sandbox_request(event))
    again = sandbox.SandboxConnector().parse_inbound(sandbox_request(event))
    other = sandbox.SandboxConnector().parse_inbound(sandbox_request({**event, "text": "hello"}))
    assert first.provider_id == again.provider_id != other.provider_id


@pytest.mark.parametrize("event", [{}, {"from": "+31612345678", "to": "+3197010000001"}, {"to": "x", "text": "hi"}, []])
def test_sandbox_inbound_missing_fields_is_an_error(event: object) -> None:
    with pytest.raises(ValueError):
        sandbox.SandboxConnector().parse_inbound(sandbox_request(event))  # type: ignore[arg-type]


# -- aws_sms (SNS -> SQS) ------------------------------------------------------------------------------


def test_aws_sms_inbound_event_is_wrapped_by_the_envelope_and_parsed() -> None:
    env = InboundEnvelope.model_validate(AWS_INBOUND)
    assert (env.provider, env.channel_id, env.raw) == ("aws_sms", None, AWS_INBOUND)
    sms = parse(env)
    assert (sms.provider, sms.provider_id, sms.from_, sms.to, sms.text) == (
        "aws_sms",
        "cae173d2-66b9-564c-8309-21f858e9fb84",
        "+31612345678",
        "+3197010000002",
        "STOP",
    )
    assert abs(sms.received_at - env.received_at) < dt.timedelta(milliseconds=1)  # dated when read


def test_aws_sms_inbound_without_ids_is_an_error_and_never_a_webhook() -> None:
    for missing in ("inboundMessageId", "originationNumber", "destinationNumber"):
        event = {k: v for k, v in AWS_INBOUND.items() if k != missing}
        req = WebhookRequest("sns://aws-sms-inbound", "POST", {}, json.dumps(event).encode())
        with pytest.raises(ValueError):
            AwsSmsConnector().parse_inbound(req)
    with pytest.raises(SignatureError):
        AwsSmsConnector().verify(WebhookRequest(URL, "POST", {}, b"{}"), {})


def test_envelopes_that_already_name_their_provider_are_not_rewrapped() -> None:
    env = InboundEnvelope.model_validate(
        {"provider": "twilio", "channel_id": "CH1", "received_at": RECEIVED, "raw": {}}
    )
    assert (env.provider, env.channel_id) == ("twilio", "CH1")
    with pytest.raises(ValueError):
        InboundEnvelope.model_validate({"some": "thing"})


# -- webhook -> queue -> consumer round trip --------------------------------------------------------------


def test_the_stored_webhook_request_parses_as_the_original() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, TWILIO_INBOUND)
    req = twilio_request(TWILIO_INBOUND, signature)
    env = InboundEnvelope(provider="twilio", channel_id="CH1", received_at=RECEIVED, raw=raw_record(req))
    again = InboundEnvelope.model_validate_json(env.model_dump_json(exclude_none=True))
    rebuilt = request_from_envelope(again)
    TwilioConnector().verify(rebuilt, {"auth_token": TOKEN})  # still verifiable as stored
    sms = parse(again)
    assert (sms.provider_id, sms.text, sms.received_at) == ("SM" + "a" * 32, TWILIO_INBOUND["Body"], RECEIVED)
