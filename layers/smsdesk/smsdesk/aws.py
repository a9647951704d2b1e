"""boto3 clients, created once per process and reused across invocations.

Clients are created on first use, not at import, so a handler pays only for the services it calls.
In the local stack ``AWS_ENDPOINT_URL`` points every client at moto: the code path is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


#: Called with each new client. Empty in Lambda; the local stack adds the check that refuses what the
#: calling function's IAM role would not allow (``smsdesk.local.iam``).
client_hooks: list[Callable[[Any], None]] = []


@cache
def client(service: str) -> Any:
    c = boto3.session.Session().client(service, config=_CONFIG)
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
