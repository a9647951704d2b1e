"""Event source mappings, locally: one thread per QueueTrigger and per bus rule (shadow queue).

SQS triggers behave like the Lambda SQS event source mapping with ``ReportBatchItemFailures``:
receive up to ``batch_size`` messages, invoke with a Lambda SQS event, delete the records not listed
in ``batchItemFailures`` (none if the handler raised). Failed records stay on the queue and come
back after their visibility timeout; the queue's redrive policy moves them to the DLQ after
``max_receive_count`` receives (moto does that, as SQS does).

A trigger's ``max_batching_window_s`` is honoured: a batch short of ``batch_size`` waits up to that
long (from its first message) for more, as the mapping's batching window does.

Local difference, speed only: a failed record's visibility is cut to ``retry_visibility_s``
(default 1 s) instead of waiting out the queue's visibility timeout (180 s+ in AWS).

Bus rules: moto's EventBridge matches the rule pattern and delivers the event to the rule's shadow
queue; the poller invokes the function with that event (one per invocation, as EventBridge
invokes Lambda asynchronously). A raising handler is retried (3 attempts in all, as Lambda
async invocations), then the event lands in the shadow queue's DLQ.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from smsdesk import aws, manifest
from smsdesk.local.functions import FunctionRegistry
from smsdesk.local.resources import QueueRef

log = logging.getLogger("smsdesk_local")


def _message_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, a in (attrs or {}).items():
        v: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": a.get("DataType", "String")}
        if "StringValue" in a:
            v["stringValue"] = a["StringValue"]
        if "BinaryValue" in a:
            raw = a["BinaryValue"]
            v["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes | bytearray) else raw
        out[name] = v
    return out


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """A Lambda SQS event, as the event source mapping builds it."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    k: m.get("Attributes", {})[k]
                    for k in (
                        "ApproximateReceiveCount",
                        "SentTimestamp",
                        "SenderId",
                        "ApproximateFirstReceiveTimestamp",
                        "MessageGroupId",
                        "MessageDeduplicationId",
                        "SequenceNumber",
                        "AWSTraceHeader",
                    )
                    if k in m.get("Attributes", {})
                },
                "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class _Poller(threading.Thread):
    def __init__(
        self,
        *,
        name: str,
        function: manifest.Function,
        queue: QueueRef,
        functions: FunctionRegistry,
        stop: threading.Event,
        batch_size: int,
        retry_visibility_s: int,
        wait_s: int,
        batching_window_s: float = 0.0,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.function = function
        self.queue = queue
        self.functions = functions
        self._stop_event = stop
        self.batch_size = batch_size
        self.retry_visibility_s = retry_visibility_s
        self.wait_s = wait_s
        #: The trigger's ``max_batching_window_s``: a batch short of ``batch_size`` waits this long for more.
        self.batching_window_s = batching_window_s

    def run(self) -> None:
        sqs = aws.sqs()
        while not self._stop_event.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=self.queue.url,
                    MaxNumberOfMessages=min(10, self.batch_size),  # SQS's limit; _fill receives the rest
                    WaitTimeSeconds=self.wait_s,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                messages = resp.get("Messages", [])
                if messages and self.batching_window_s and len(messages) < self.batch_size:
                    messages = self._fill(sqs, messages)
                if messages and not self._stop_event.is_set():
                    self.deliver(sqs, messages)
            except Exception:
                if self._stop_event.is_set():
                    return
                log.exception("poller %s failed; retrying", self.name)
                self._stop_event.wait(1)

    def _fill(self, sqs: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Receive more until the batch is full or the batching window (from the first message) ends, as
        the event source mapping's ``MaximumBatchingWindowInSeconds`` does."""
        deadline = time.monotonic() + self.batching_window_s
        while len(messages) < self.batch_size and not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            resp = sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=max(0, min(int(left), self.wait_s)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages", [])
            messages.extend(got)
            if not got and (left < 1 or self.wait_s < 1):  # the receive did not wait: do not spin
                self._stop_event.wait(min(left, 0.1))
        return messages

    def deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _retry_soon(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            try:
                sqs.change_message_visibility(
                    QueueUrl=self.queue.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=self.retry_visibility_s
                )
            except Exception:  # the message may already be gone
                log.debug("change_message_visibility failed", exc_info=True)

    def _delete_messages(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )


class QueuePoller(_Poller):
    def deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue.arn, self.functions.region)
        try:
            result = self.functions.invoke(self.function, event, trigger="sqs", source=self.name)
        except Exception:
            self._retry_soon(sqs, messages)  # the whole batch failed: nothing is deleted
            return
        failed_ids = {
            f.get("itemIdentifier") for f in ((result or {}).get("batchItemFailures") or []) if isinstance(f, dict)
        }
        if None in failed_ids or "" in failed_ids:
            # Lambda treats an invalid identifier as a failure of the whole batch.
            self._retry_soon(sqs, messages)
            return
        ok = [m for m in messages if m["MessageId"] not in failed_ids]
        failed = [m for m in messages if m["MessageId"] in failed_ids]
        if ok:
            self._delete_messages(sqs, ok)
        if failed:
            self._retry_soon(sqs, failed)


class BusRulePoller(_Poller):
    def deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            try:
                event = json.loads(m["Body"])
            except ValueError:
                log.error("shadow queue %s: not an EventBridge event: %.200s", self.queue.name, m["Body"])
                self._delete_messages(sqs, [m])
                continue
            try:
                self.functions.invoke(self.function, event, trigger="bus", source=self.name)
            except Exception:
                self._retry_soon(sqs, [m])
                continue
            self._delete_messages(sqs, [m])
