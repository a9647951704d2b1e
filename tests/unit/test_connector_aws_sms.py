"""The AWS End User Messaging SMS connector, against botocore's Stubber (moto lacks pinpoint-sms-voice-v2),
and the delivery events that reach the receipts queue through SNS."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from smsdesk.connectors.aws_sms import AwsSmsConnector
from smsdesk.connectors.base import PermanentError, SignatureError, TransientError, WebhookRequest
from smsdesk.envelopes import ReceiptEnvelope
from smsdesk.models import Channel, Message, StatusChange
from smsdesk.sending.receipts import parse

NOW = dt.datetime.now(dt.UTC)


def channel(**settings: str) -> Channel:
    return Channel(
        id="CH1",
        name="AWS",
        type="one_way",
        sender="Acme",
        provider="aws_sms",
        provider_settings=settings,
        created_at=NOW,
        updated_at=NOW,
        validity_s=4 * 3600,
        message_type="promotional",
    )


def message() -> Message:
    return Message(
        id="MSG1",
        channel_id="CH1",
        to="+31687654321",
        sender="Acme",
        text="Your code is 1234",
        encoding="GSM-7",
        segments=1,
        credits=1,
        status="sending",
        history=[StatusChange(status="queued", at=NOW)],
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=100),
        provider="aws_sms",
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsSmsConnector, Stubber]]:
    client = boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    with Stubber(client) as stub:
        yield AwsSmsConnector(client=client), stub
        stub.assert_no_pending_responses()


def test_send_text_message_request(stubbed: tuple[AwsSmsConnector, Stubber]) -> None:
    conn, stub = stubbed
    stub.add_response(
        "send_text_message",
        {"MessageId": "f0a3c1de-0000-4000-8000-000000000001"},
        expected_params={
            "DestinationPhoneNumber": "+31687654321",
            "OriginationIdentity": "pool-abc",
            "MessageBody": "Your code is 1234",
            "MessageType": "PROMOTIONAL",
            "ConfigurationSetName": "smsdesk",
            "TimeToLive": ANY,
            "Context": {"smsdesk_message_id": "MSG1"},
        },
    )
    result = conn.send(channel(origination_identity="pool-abc", configuration_set="smsdesk"), message(), {})
    assert result.provider_id == "f0a3c1de-0000-4000-8000-000000000001"


def test_sender_is_the_default_origination_identity_and_ttl_is_what_is_left(
    stubbed: tuple[AwsSmsConnector, Stubber],
) -> None:
    conn, stub = stubbed
    seen: dict[str, Any] = {}

    def capture(params: dict[str, Any], **_: Any) -> None:
        seen.update(params)

    conn.client.meta.events.register("provide-client-params.pinpoint-sms-voice-v2.SendTextMessage", capture)
    stub.add_response("send_text_message", {"MessageId": "m-2"})
    conn.send(channel(), message(), {})
    assert seen["OriginationIdentity"] == "Acme" and "ConfigurationSetName" not in seen
    assert 4 * 3600 - 110 <= seen["TimeToLive"] <= 4 * 3600 - 100


@pytest.mark.parametrize(
    "code,reason,kind",
    [
        ("ThrottlingException", None, TransientError),
        ("InternalServerException", None, TransientError),
        ("ServiceQuotaExceededException", "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT", TransientError),
        ("ValidationException", "INVALID_PARAMETER", PermanentError),
        ("AccessDeniedException", "ACCOUNT_DISABLED", PermanentError),
        ("ResourceNotFoundException", None, PermanentError),
        ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT", PermanentError),
    ],
)
def test_errors_are_typed(stubbed: tuple[AwsSmsConnector, Stubber], code: str, reason: str | None, kind: type) -> None:
    conn, stub = stubbed
    status = 500 if code == "InternalServerException" else 400
    stub.add_client_error(
        "send_text_message",
        service_error_code=code,
        service_message=f"{code} happened",
        http_status_code=status,
        modeled_fields={"Message": f"{code} happened", **({"Reason": reason} if reason else {})},
    )
    with pytest.raises(kind) as err:
        conn.send(channel(), message(), {})
    assert err.value.code == f"aws_sms_{code}" + (f"_{reason}" if reason else "")
    assert err.value.message == f"{code} happened"


def test_no_webhooks_for_aws_sms() -> None:
    with pytest.raises(SignatureError):
        AwsSmsConnector(client=object()).verify(WebhookRequest(url="x", method="POST", headers={}, body=b""), {})


# -- delivery events (SNS -> receipts queue) ------------------------------------------------------------

#: The SMS event example from the AWS End User Messaging documentation (Messaging Events).
EVENT: dict[str, Any] = {
    "eventType": "TEXT_SUCCESSFUL",
    "eventVersion": "1.0",
    "eventTimestamp": 1686975103470,
    "isFinal": True,
    "originationPhoneNumber": "+12065550152",
    "destinationPhoneNumber": "+14255550156",
    "isInternationalSend": False,
    "mcc": "310",
    "mnc": "800",
    "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
    "messageRequestTimestamp": 1686975103170,
    "messageEncoding": "GSM",
    "messageType": "PROMOTIONAL",
    "messageStatus": "SUCCESSFUL",
    "messageStatusDescription": "Message has been accepted by phone carrier",
    "context": {"smsdesk_message_id": "MSG1"},
    "totalMessageParts": 1,
    "totalMessagePrice": 0.00581,
    "totalCarrierFee": 0.0,
}


def receipts_of(event: dict[str, Any]) -> list[Any]:
    """As the receipts consumer sees it: the queue body (SNS raw delivery) → envelope → connector."""
    return parse(ReceiptEnvelope.model_validate(json.loads(json.dumps(event))))


def test_sns_event_is_wrapped_and_parsed() -> None:
    env = ReceiptEnvelope.model_validate(EVENT)
    assert env.provider == "aws_sms" and env.raw["messageId"] == EVENT["messageId"]
    (r,) = receipts_of(EVENT)
    assert (r.provider, r.provider_id, r.status, r.parts) == ("aws_sms", EVENT["messageId"], "delivered", 1)
    assert r.at == dt.datetime(2023, 6, 17, 4, 11, 43, 470000, tzinfo=dt.UTC)
    assert r.error_code is None
    assert receipts_of(EVENT)[0].raw_id == r.raw_id  # a redelivered event is the same receipt


def test_eventbridge_shaped_event_is_accepted_too() -> None:
    wrapped = {"version": "0", "source": "aws.sms-voice", "detail-type": "Text Message Delivery Status Updated"}
    (r,) = receipts_of({**wrapped, "detail": {**EVENT, "eventType": "TEXT_DELIVERED"}})
    assert r.status == "delivered"


@pytest.mark.parametrize(
    "event_type,extra,status",
    [
        ("TEXT_PENDING", {"isFinal": False, "messageStatus": "PENDING"}, "sent"),
        ("TEXT_QUEUED", {"isFinal": False}, "sent"),
        ("TEXT_SUCCESSFUL", {"isFinal": False}, "sent"),
        ("TEXT_DELIVERED", {}, "delivered"),
        ("TEXT_INVALID", {"messageStatus": "INVALID"}, "failed"),
        ("TEXT_BLOCKED", {"messageStatus": "BLOCKED"}, "failed"),
        ("TEXT_CARRIER_UNREACHABLE", {"messageStatus": "CARRIER_UNREACHABLE"}, "undelivered"),
        ("TEXT_TTL_EXPIRED", {"messageStatus": "TTL_EXPIRED"}, "undelivered"),
        ("TEXT_UNKNOWN", {"messageStatus": "UNKNOWN"}, "undelivered"),
        ("VOICE_COMPLETED", {}, None),
    ],
)
def test_event_types_map_to_statuses(event_type: str, extra: dict[str, Any], status: str | None) -> None:
    event = {**EVENT, "eventType": event_type, **extra}
    receipts = receipts_of(event)
    if status is None:
        assert receipts == []
        return
    (r,) = receipts
    assert r.status == status
    if status in ("failed", "undelivered"):
        assert r.error_code == f"aws_sms_{event['messageStatus']}"
        assert r.error_message == EVENT["messageStatusDescription"]


def test_our_own_envelopes_are_left_alone() -> None:
    env = ReceiptEnvelope.model_validate({"provider": "twilio", "received_at": NOW.isoformat(), "raw": {"body": ""}})
    assert env.provider == "twilio"
    with pytest.raises(ValueError):
        ReceiptEnvelope.model_validate({"eventType": "TEXT_DELIVERED"})  # no messageId: not an SMS event


def test_the_final_event_types_are_every_type_that_can_change_a_sent_message() -> None:
    """What a configuration set's event destination needs to match (docs/deploy.md "SMS providers"):
    every event type mapped to a final status, and TEXT_SUCCESSFUL (final in countries without
    TEXT_DELIVERED); the types that only say ``sent`` would each be an SNS publish and a receipts
    invocation that changes nothing."""
    from pathlib import Path

    from smsdesk.connectors import aws_sms

    final = aws_sms.FINAL_EVENT_TYPES
    assert "TEXT_DELIVERED" in final and "TEXT_SUCCESSFUL" in final
    assert not {"TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT"} & set(final)
    for event_type in final:
        statuses = {r.status for r in receipts_of({**EVENT, "eventType": event_type, "messageStatus": "X"})}
        assert statuses and statuses <= {"delivered", "failed", "undelivered"}, event_type
    for event_type in set(aws_sms._EVENTS) - set(final):
        assert [r.status for r in receipts_of({**EVENT, "eventType": event_type})] == ["sent"], event_type
    deploy = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    section = deploy.split("## SMS providers", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\bTEXT_[A-Z_]+\b", section))
    assert listed == {*final, "TEXT_ALL", "TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT"}  # final ones, those left out
    enum = botocore_event_types()
    assert set(final) <= enum  # names End User Messaging accepts as MatchingEventTypes


def botocore_event_types() -> set[str]:
    import botocore.session

    return set(botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2").shape_for("EventType").enum)
