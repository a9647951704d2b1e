"""Helpers shared by the local-stack tests that talk to the API (the ``api`` fixture in
``tests/local/conftest.py`` is built from them): a bearer header, a caller, a poll until true, and a
capture of the events put on the bus."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from smsdesk.local.stack import LocalStack


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def caller(stack: LocalStack, http: Any) -> Callable[..., Any]:
    """``call(method, path, body=None, expect=None, token=None)``: the parsed body when ``expect`` (the
    status, asserted) is given, else ``(status, body)``; as the stack's admin unless ``token``."""

    def call(method: str, path: str, body: Any = None, expect: int | None = None, token: str | None = None) -> Any:
        status, _, out = http(method, f"{stack.base_url}{path}", headers=auth(token or stack.token), body=body)
        if expect is not None:
            assert status == expect, (method, path, status, out)
            return out
        return status, out

    return call


def wait(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.5) -> Any:
    """``check()``'s first truthy answer, polled every ``every`` s; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        out = check()
        if out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(every)


class Bus:
    """Every smsdesk event put on the bus from now on (a rule of the test's own, to a queue)."""

    def __init__(self, stack: LocalStack) -> None:
        kw = {"endpoint_url": stack.endpoint, "region_name": stack.region}
        self.sqs = boto3.client("sqs", **kw)
        self.url = self.sqs.create_queue(QueueName=f"capture-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        ev = boto3.client("events", **kw)
        name = f"capture-{uuid.uuid4().hex[:8]}"
        bus = stack.resources.bus_name
        ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["smsdesk"]}), State="ENABLED")
        ev.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def events(self, **detail: Any) -> list[dict[str, Any]]:
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            msgs = got.get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                self.seen.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in self.seen if all(e["detail"].get(k) == v for k, v in detail.items())]
