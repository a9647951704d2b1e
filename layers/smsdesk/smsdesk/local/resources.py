"""Create (or find, after a state restore) every manifest resource in moto and say how code finds it.

Each resource gets the name ``smsdesk-local-<logical name>``. The returned :class:`LocalResources`
holds the environment (``manifest.env_names(resource)`` for every resource) plus what the pollers,
the gateway and the schedule driver need. EventBridge rules target local-only *shadow queues*
(``smsdesk-local-rule-<function>-<rule>``): moto matches the pattern and delivers there (it never
invokes Lambda), and a poller hands each event to the function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, manifest
from smsdesk.local.moto_client import ACCOUNT_ID

PREFIX = "smsdesk-local-"
SECRETS_PREFIX = "smsdesk/local/providers/"
#: A bus rule's target is a Lambda invoked asynchronously: 1 attempt + 2 retries, then dropped
#: (or sent to an on-failure destination). The shadow queue's redrive reproduces the 3 attempts.
BUS_RULE_ATTEMPTS = 3
MAX_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True)
class QueueRef:
    name: str
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class RuleWiring:
    function: manifest.Function
    rule: manifest.BusRule
    rule_name: str
    queue: QueueRef  # the shadow queue


@dataclass(frozen=True)
class StreamWiring:
    function: manifest.Function
    trigger: manifest.StreamTrigger
    table_name: str  # physical
    dlq_url: str  # the on-failure destination


@dataclass
class LocalResources:
    region: str
    env: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical name
    queues: dict[str, QueueRef] = field(default_factory=dict)  # logical -> ref
    topics: dict[str, str] = field(default_factory=dict)  # logical -> ARN
    subscriptions: dict[str, list[str]] = field(default_factory=dict)  # topic logical -> queue ARNs
    bus_name: str = ""
    rules: list[RuleWiring] = field(default_factory=list)
    streams: list[StreamWiring] = field(default_factory=list)
    schedule_group: str = ""
    scheduler_role_arn: str = ""
    #: Dead-letter queues that are not a queue's redrive target (Scheduler's, SNS subscriptions'):
    #: logical name -> (url, arn).
    dead_letter_queues: dict[str, tuple[str, str]] = field(default_factory=dict)
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    secrets_prefix: str = SECRETS_PREFIX
    buckets: dict[str, str] = field(default_factory=dict)  # logical -> physical name

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


def physical(name: str) -> str:
    return PREFIX + name


def _ignore(codes: tuple[str, ...], fn: Any, **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in codes:
            raise
        return None


def _add_missing_gsis(ddb: Any, name: str, desc: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """Restored from a --state-dir saved before the manifest added an index: create it (moto indexes
    the existing items at once)."""
    have = {g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])}
    for gsi in kwargs.get("GlobalSecondaryIndexes", []):
        if gsi["IndexName"] not in have:
            ddb.update_table(
                TableName=name,
                AttributeDefinitions=kwargs["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": gsi}],
            )


def _create_table(t: manifest.Table) -> str:
    name = physical(t.name)
    keys = [{"AttributeName": t.pk, "KeyType": "HASH"}]
    attrs = {t.pk}
    if t.sk:
        keys.append({"AttributeName": t.sk, "KeyType": "RANGE"})
        attrs.add(t.sk)
    kwargs: dict[str, Any] = {"TableName": name, "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST"}
    if t.gsis:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": g.name,
                "KeySchema": [
                    {"AttributeName": g.pk, "KeyType": "HASH"},
                    {"AttributeName": g.sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for g in t.gsis
        ]
        for g in t.gsis:
            attrs.update((g.pk, g.sk))
    kwargs["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)]
    if t.stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": t.stream}
    ddb = aws.dynamodb()
    if _ignore(("ResourceInUseException",), ddb.create_table, **kwargs) is None:
        desc = ddb.describe_table(TableName=name)["Table"]
        if t.stream and not desc.get("StreamSpecification", {}).get("StreamEnabled"):
            # Restored from a --state-dir saved before the table had its stream: turn it on.
            ddb.update_table(TableName=name, StreamSpecification=kwargs["StreamSpecification"])
        _add_missing_gsis(ddb, name, desc, kwargs)
    if t.ttl_attribute:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": t.ttl_attribute}
        )
    return name


def _create_queue(name: str, *, visibility_s: int, retention_days: int, max_receive_count: int) -> QueueRef:
    sqs = aws.sqs()
    retention = str(min(retention_days * 24 * 3600, MAX_RETENTION_S))
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(MAX_RETENTION_S)})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_s),
            "MessageRetentionPeriod": retention,
            "RedrivePolicy": redrive,
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueRef(name=name, url=url, arn=arn, dlq_url=dlq_url, dlq_arn=dlq_arn)


def _create_dead_letter_queue(res: LocalResources, logical: str) -> str:
    """A plain queue that only receives what something could not deliver; returns its ARN."""
    sqs = aws.sqs()
    url = sqs.create_queue(QueueName=physical(logical), Attributes={"MessageRetentionPeriod": str(MAX_RETENTION_S)})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    res.dead_letter_queues[logical] = (url, arn)
    return arn


def _create_bucket(bucket: manifest.Bucket, region: str) -> str:
    """The bucket (its object-created notifications are driven by ``smsdesk.local.s3_events``: moto does
    not deliver them)."""
    name = physical(bucket.name)
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    _ignore(("BucketAlreadyOwnedByYou", "BucketAlreadyExists"), aws.s3().create_bucket, **kwargs)
    # the web app (another local origin) uploads with presigned POSTs, as from its CloudFront origin in AWS
    aws.s3().put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["POST"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]}]
        },
    )
    return name


def _create_schedule_group(name: str) -> None:
    sch = aws.scheduler()
    # Look first: moto's create_schedule_group replaces an existing group (and drops its schedules)
    # where AWS raises ConflictException.
    if _ignore(("ResourceNotFoundException",), sch.get_schedule_group, Name=name) is None:
        _ignore(("ConflictException",), sch.create_schedule_group, Name=name)


def _create_user_pool(pool: manifest.UserPool) -> tuple[str, str]:
    idp = aws.cognito()
    name = physical(pool.name)
    pool_id = next(
        (p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name),
        None,
    )
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=name,
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
    for group in pool.groups:
        _ignore(("GroupExistsException",), idp.create_group, UserPoolId=pool_id, GroupName=group)
    client_name = physical(f"{pool.name}-client")
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == client_name), None)
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=client_name,
            GenerateSecret=False,
            ExplicitAuthFlows=[
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            # moto 5.2.5 ignores these (its tokens always last 1 h); the stack refreshes the seeded
            # token before it expires (see smsdesk.local.seed).
            IdTokenValidity=1,
            AccessTokenValidity=1,
            RefreshTokenValidity=30,
            TokenValidityUnits={"IdToken": "hours", "AccessToken": "hours", "RefreshToken": "days"},
        )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def create_resources(region: str) -> LocalResources:
    """Create every manifest resource (idempotent: resources restored from --state-dir are reused)."""
    res = LocalResources(region=region)
    env = res.env
    for t in manifest.TABLES:
        res.tables[t.name] = _create_table(t)
    _create_messaging(res)
    group = manifest.SCHEDULE_GROUP
    res.schedule_group = physical(group.name)
    _create_schedule_group(res.schedule_group)
    res.user_pool_id, res.user_pool_client_id = _create_user_pool(manifest.USER_POOL)
    for t in manifest.TABLES:
        env[t.env] = res.tables[t.name]
    res.scheduler_role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{physical('scheduler')}"
    env[group.env] = res.schedule_group
    env[group.role_env] = res.scheduler_role_arn
    env[manifest.queue(group.target_queue).arn_env] = res.queues[group.target_queue].arn
    env[group.dlq_env] = _create_dead_letter_queue(res, group.dlq_name)
    env[manifest.USER_POOL.env] = res.user_pool_id
    env[manifest.USER_POOL.client_env] = res.user_pool_client_id
    env[manifest.PROVIDER_SECRETS.env] = res.secrets_prefix
    for bucket in manifest.BUCKETS:
        res.buckets[bucket.name] = env[bucket.env] = _create_bucket(bucket, region)
    for fn in manifest.FUNCTIONS:
        for trig in fn.triggers:
            if isinstance(trig, manifest.StreamTrigger):
                dlq_url = res.dead_letter_queues.get(trig.dlq_name, ("", ""))[0]
                if not dlq_url:
                    _create_dead_letter_queue(res, trig.dlq_name)
                    dlq_url = res.dead_letter_queues[trig.dlq_name][0]
                res.streams.append(StreamWiring(fn, trig, res.tables[trig.table.name], dlq_url))
    missing = [n for r in manifest.all_resources() for n in manifest.env_names(r) if n not in env]
    if missing:  # a new resource kind in the manifest that this module does not create yet
        raise RuntimeError(f"local stack does not provide {missing}; extend smsdesk.local.resources")
    return res


def _create_messaging(res: LocalResources) -> None:
    """Queues (with DLQs), topics subscribed to queues, the bus and its rules (shadow queues)."""
    env = res.env
    for q in manifest.QUEUES:
        ref = _create_queue(
            physical(q.name),
            visibility_s=q.visibility_timeout_s,
            retention_days=q.retention_days,
            max_receive_count=q.max_receive_count,
        )
        res.queues[q.name] = ref
        env[q.env], env[q.arn_env] = ref.url, ref.arn
    sns = aws.client("sns")
    for topic in manifest.TOPICS:
        arn = sns.create_topic(Name=physical(topic.name))["TopicArn"]
        res.topics[topic.name] = arn
        env[topic.env] = arn
        existing = {
            s["Endpoint"]: s["SubscriptionArn"]
            for s in sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
        }
        res.subscriptions[topic.name] = []
        for qname in topic.subscribers:
            qarn = res.queues[qname].arn
            redrive = json.dumps(
                {"deadLetterTargetArn": _create_dead_letter_queue(res, topic.subscription_dlq_name(qname))}
            )
            if qarn in existing:
                sns.set_subscription_attributes(
                    SubscriptionArn=existing[qarn], AttributeName="RedrivePolicy", AttributeValue=redrive
                )
            else:
                sns.subscribe(
                    TopicArn=arn,
                    Protocol="sqs",
                    Endpoint=qarn,
                    Attributes={"RawMessageDelivery": "true", "RedrivePolicy": redrive},
                )
            res.subscriptions[topic.name].append(qarn)
    events = aws.events()
    res.bus_name = physical(manifest.EVENT_BUS.name)
    _ignore(("ResourceAlreadyExistsException",), events.create_event_bus, Name=res.bus_name)
    env[manifest.EVENT_BUS.env] = res.bus_name
    for fn in manifest.FUNCTIONS:
        for trig in fn.triggers:
            if not isinstance(trig, manifest.BusRule):
                continue
            rule_name = f"{fn.name}-{trig.name}"
            shadow = _create_queue(
                physical(f"rule-{rule_name}"),
                visibility_s=max(fn.timeout_s, 30),
                retention_days=1,
                max_receive_count=BUS_RULE_ATTEMPTS,
            )
            events.put_rule(
                Name=rule_name, EventBusName=res.bus_name, EventPattern=json.dumps(trig.pattern()), State="ENABLED"
            )
            events.put_targets(
                Rule=rule_name, EventBusName=res.bus_name, Targets=[{"Id": f"local-{fn.name}", "Arn": shadow.arn}]
            )
            res.rules.append(RuleWiring(function=fn, rule=trig, rule_name=rule_name, queue=shadow))
