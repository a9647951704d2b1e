"""Refuse, locally, every AWS call the calling function's deployed role would refuse.

The deployed role of a function is its manifest entry: one statement per ``Access`` with
``access.iam_actions`` on that resource only (``infra/stack.py``). :class:`AccessChecker` is attached to
every boto3 client the package creates (``smsdesk.aws.client_hooks``); while a handler runs
(``smsdesk.local.isolation``) it maps each call to the IAM actions and resources AWS authorises it on
(``TransactWriteItems`` per item, ``SendMessageBatch`` as ``SendMessage``, a schedule's target role as
``iam:PassRole``, ...) and raises the ``AccessDenied`` error AWS would answer when the manifest grants
none. Calls outside an invocation (the local runtime itself, tests' own setup) are not checked.

Every checked call is counted in :attr:`AccessChecker.calls` (function, action, resource), so a test or
benchmark can also see which grants are never used.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import manifest
from smsdesk.local.isolation import current_function
from smsdesk.local.moto_client import ACCOUNT_ID

#: DynamoDB transaction item kind -> the action IAM authorises it as.
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
#: Operations IAM authorises under another action's name.
_ALIASES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "s3:HeadObject": "s3:GetObject",
}
#: The error code each service answers a refused call with.
_DENIED_CODES = {"sqs": "AccessDenied", "sns": "AuthorizationError"}

Need = tuple[str, "manifest.Resource | None", str]  # (action, manifest resource or None, physical name)


class AccessChecker:
    """Maps physical resource names (as the local stack created them) back to manifest resources."""

    def __init__(self, resources: Any, functions: tuple[manifest.Function, ...] = manifest.FUNCTIONS) -> None:
        self.functions = {f.name: f for f in functions}
        self._tables = {physical: _by_name(manifest.TABLES, name) for name, physical in resources.tables.items()}
        self._queues = {ref.url: _by_name(manifest.QUEUES, name) for name, ref in resources.queues.items()}
        self._topics = {arn: _by_name(manifest.TOPICS, name) for name, arn in resources.topics.items()}
        self._buckets = {
            physical: _by_name(manifest.BUCKETS, name) for name, physical in getattr(resources, "buckets", {}).items()
        }
        self._bus = resources.bus_name
        self._group = resources.schedule_group
        self._scheduler_role = resources.scheduler_role_arn
        self._pool = resources.user_pool_id
        self._secrets_prefix = resources.secrets_prefix
        self._region = resources.region
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str, str]] = Counter()

    # -- attaching -----------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._before_call)

    def _before_call(self, params: dict[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        fn_name = current_function()
        if fn_name is None:
            return
        fn = self.functions[fn_name]
        prefix = model.service_model.signing_name
        operation = model.name
        if prefix == "s3" and operation == "CreateBucket" and (context or {}).get("is_presign_request"):
            # botocore builds a presigned POST with CreateBucket's model; S3 authorises the upload it
            # signs as the signer's s3:PutObject (a presigned URL, as its own operation)
            operation = "PutObject"
        for action, resource, physical in self.needs(prefix, operation, params):
            with self._lock:
                self.calls[(fn_name, action, resource.name if resource else physical)] += 1
            if not allows(fn, action, resource):
                raise _denied(fn_name, prefix, model.name, action, physical)

    # -- what a call needs ---------------------------------------------------------------------------

    def needs(self, prefix: str, operation: str, params: dict[str, Any]) -> list[Need]:
        action = _ALIASES.get(f"{prefix}:{operation}", f"{prefix}:{operation}")
        if prefix == "dynamodb":
            return self._dynamodb(operation, action, params)
        if prefix == "sqs":
            url = params.get("QueueUrl", "")
            return [(action, self._queues.get(url), url)]
        if prefix == "events":
            buses = {e.get("EventBusName") or "default" for e in params.get("Entries", [])} or {"default"}
            return [(action, manifest.EVENT_BUS if b == self._bus else None, b) for b in sorted(buses)]
        if prefix == "scheduler":
            group = params.get("GroupName") or "default"
            out: list[Need] = [(action, manifest.SCHEDULE_GROUP if group == self._group else None, group)]
            role = (params.get("Target") or {}).get("RoleArn")
            if role:
                ok = role == self._scheduler_role
                out.append(("iam:PassRole", manifest.SCHEDULE_GROUP if ok else None, role))
            return out
        if prefix == "cognito-idp":
            pool = params.get("UserPoolId", "")
            return [(action, manifest.USER_POOL if pool == self._pool else None, pool)]
        if prefix == "secretsmanager":
            name = params.get("SecretId") or params.get("Name") or ""
            ok = name.startswith(self._secrets_prefix) or f":secret:{self._secrets_prefix}" in name
            return [(action, manifest.PROVIDER_SECRETS if ok else None, name)]
        if prefix == "sns":
            arn = params.get("TopicArn", "")
            return [(action, self._topics.get(arn), arn)]
        if prefix == "s3":
            bucket = params.get("Bucket", "")
            return [(action, self._buckets.get(bucket), f"arn:aws:s3:::{bucket}/{params.get('Key', '')}")]
        if prefix == "sms-voice":
            origin = params.get("OriginationIdentity") or "*"
            return [(action, manifest.SMS_ORIGINATIONS, origin)]
        return [(action, None, "*")]

    def _dynamodb(self, operation: str, action: str, params: dict[str, Any]) -> list[Need]:
        pairs: list[tuple[str, str]] = []
        if operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    pairs.append((_TRANSACT_ACTIONS[kind], body.get("TableName", "")))
        elif operation == "TransactGetItems":
            pairs = [("dynamodb:GetItem", i["Get"].get("TableName", "")) for i in params.get("TransactItems", [])]
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            pairs = [(action, table) for table in params.get("RequestItems", {})]
        else:
            pairs = [(action, params.get("TableName", ""))]
        return [(a, self._tables.get(t), t) for a, t in dict.fromkeys(pairs)]


def allows(fn: manifest.Function, action: str, resource: manifest.Resource | None) -> bool:
    """Whether ``fn``'s deployed role allows ``action`` on ``resource`` (None: a resource not its own)."""
    return resource is not None and any(a.resource == resource and action in a.iam_actions for a in fn.access)


def _by_name(resources: tuple[Any, ...], name: str) -> Any:
    for r in resources:
        if r.name == name:
            return r
    return None


def _denied(fn_name: str, prefix: str, operation: str, action: str, physical: str) -> ClientError:
    role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/smsdesk-local-{fn_name}/smsdesk-local-{fn_name}"
    code = _DENIED_CODES.get(prefix, "AccessDeniedException")
    message = (
        f"User: {role} is not authorized to perform: {action} on resource: {physical or '*'} because no "
        f"identity-based policy allows the {action} action (smsdesk.manifest: function {fn_name!r} has no "
        "Access granting it)"
    )
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )
