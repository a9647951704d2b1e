"""boto3 clients, created once per process and reused across invocations.

Clients are created on first use, not at import, so a handler pays only for the services it calls.
In the local stack ``AWS_ENDPOINT_URL`` points every client at moto: the code path is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


#: Called with each new client. Empty in Lambda; the local stack adds the check that refuses what the
#: calling function's IAM role would not allow (``smsdesk.local.iam``).
client_hooks: list[Callable[[Any], None]] = []


#: DynamoDB reads whose items are decoded with ``json`` alone (see :func:`fast_items`).
_ITEMS = {"Query": "Items", "Scan": "Items", "BatchGetItem": "Responses"}


def fast_items(operation_model: Any, response_dict: dict[str, Any], customized_response_dict: dict, **_: Any) -> None:
    """botocore's ``before-parse`` hook for DynamoDB reads: hand the items over as ``json`` decoded them.

    botocore's parser walks the model for every attribute value of every item, which is most of the
    CPU of reading a page of contacts (a dynamic group over 100,000 of them); for every attribute type
    but binary its result is exactly the JSON value, so the items are taken out of the body before it
    parses the rest. A response that may hold binary values (``"B"``/``"BS"`` anywhere) is left to it."""
    key = _ITEMS.get(operation_model.name)
    body = response_dict.get("body")
    if key is None or response_dict.get("status_code") != 200 or not isinstance(body, bytes):
        return
    if b'"B"' in body or b'"BS"' in body:
        return
    doc = json.loads(body)
    if key in doc:
        customized_response_dict[key] = doc.pop(key)
        response_dict["body"] = json.dumps(doc).encode()


@cache
def client(service: str) -> Any:
    c = boto3.session.Session().client(service, config=_CONFIG)
    if service == "dynamodb":
        for operation in _ITEMS:
            c.meta.events.register(f"before-parse.dynamodb.{operation}", fast_items)
    for hook in client_hooks:
        hook(c)
    return c


def dynamodb() -> Any:
    return client("dynamodb")


def sqs() -> Any:
    return client("sqs")


def events() -> Any:
    return client("events")


def scheduler() -> Any:
    return client("scheduler")


def cognito() -> Any:
    return client("cognito-idp")


def secrets() -> Any:
    return client("secretsmanager")


def s3() -> Any:
    return client("s3")


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
