"""AWS End User Messaging SMS (``pinpoint-sms-voice-v2``) on the local stack, where moto has none.

moto answers every ``pinpoint-sms-voice-v2`` call with HTTP 500. Locally, :class:`LocalSmsVoice`
answers ``SendTextMessage`` as the service does (a ``MessageId``) after the IAM check has run, keeps
what was sent (:attr:`LocalSmsVoice.sent`), and a moment later publishes the ``TEXT_DELIVERED`` event
to the ``aws-sms-events`` topic, as a configuration set's SNS event destination would: moto's SNS
delivers it to the receipts queue, so an ``aws_sms`` channel works end to end locally.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import boto3

from smsdesk import manifest

SERVICE = "pinpoint-sms-voice-v2"
DELIVERY_DELAY_S = 0.2


class LocalSmsVoice:
    def __init__(self, events_topic_arn: str, region: str) -> None:
        self.events_topic_arn = events_topic_arn
        self.region = region
        self.sent: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        if client.meta.service_model.service_name == SERVICE:
            client.meta.events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}", self._call)

    def _call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name != "SendTextMessage":
            return None  # moto's own answer (a 500: not implemented)
        body = json.loads(params.get("body") or b"{}")
        message_id = str(uuid.uuid4())
        with self._lock:
            self.sent.append({"MessageId": message_id, **body})
        threading.Timer(DELIVERY_DELAY_S, self._deliver, args=(message_id, body)).start()
        return _response(200), {"MessageId": message_id, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _deliver(self, message_id: str, request: dict[str, Any]) -> None:
        event = {
            "eventType": "TEXT_DELIVERED",
            "eventVersion": "1.0",
            "eventTimestamp": int(time.time() * 1000),
            "isFinal": True,
            "originationPhoneNumber": request.get("OriginationIdentity"),
            "destinationPhoneNumber": request.get("DestinationPhoneNumber"),
            "messageType": request.get("MessageType"),
            "messageId": message_id,
            "messageStatus": "DELIVERED",
            "totalMessageParts": 1,
            "context": request.get("Context") or {},
        }
        # The service publishes, not the sending function: a client outside smsdesk.aws (not IAM-checked).
        sns = boto3.session.Session().client("sns", region_name=self.region)
        sns.publish(TopicArn=self.events_topic_arn, Message=json.dumps(event))


class _response:
    """The minimal ``http_response`` botocore reads from a short-circuited call."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""


def topic_arn(resources: Any) -> str:
    return resources.topics[manifest.AWS_SMS_EVENTS_TOPIC.name]
