"""The function manifest: the single source of truth for smsdesk's resources, functions and triggers.

Both the CDK stack (``infra/stack.py``) and the local stack (``smsdesk.local``) are generated from the
objects in this module; ``tests/test_manifest_agreement.py`` proves the two agree. This module is pure
data: it imports nothing from AWS, CDK or moto, so a Lambda can import it at no cost.

Vocabulary
----------
* A *resource* (table, queue, topic, bus, schedule group, user pool, secrets prefix, bucket) has a logical
  name. Each resource publishes one or more environment variables (``Resource.env``) through which
  the code finds it at run time: CDK fills them with the deployed names, the local stack with the
  names it created in moto.
* A *function* names its entry point under ``functions/``, its sizing, the resources it may use
  (``Access``: the IAM grant in AWS, the environment variables it receives) and its triggers.
* A *trigger* is an HTTP route, an SQS queue (batch, partial failures), an EventBridge bus rule or a
  table's DynamoDB stream (the outbox: ``smsdesk.outbox``).
  One-time timers are EventBridge Scheduler schedules that target the ``timers`` queue (see
  ``SCHEDULE_GROUP``), so "a due schedule" reaches the ``timers`` function through that queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gsi:
    name: str
    pk: str
    sk: str


@dataclass(frozen=True)
class Table:
    name: str
    pk: str
    sk: str | None
    env: str
    gsis: tuple[Gsi, ...] = ()
    ttl_attribute: str | None = None
    #: DynamoDB stream view type (``NEW_AND_OLD_IMAGES``), or None: no stream.
    stream: Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"] | None = None


@dataclass(frozen=True)
class Queue:
    name: str
    env: str
    #: Seconds a received message stays invisible; must be >= 6 x the consumer's timeout.
    visibility_timeout_s: int
    #: Receives before a message moves to the queue's dead-letter queue.
    max_receive_count: int = 5
    retention_days: int = 14
    #: Alarm when the oldest message has waited longer than this (seconds); None = no age alarm.
    age_alarm_s: int | None = None

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"

    @property
    def arn_env(self) -> str:
        return self.env.replace("_URL", "_ARN")


@dataclass(frozen=True)
class Topic:
    """An SNS topic whose messages land in queues (AWS End User Messaging SMS publishes to SNS)."""

    name: str
    env: str
    subscribers: tuple[str, ...]  # queue names; raw message delivery

    def subscription_dlq_name(self, queue: str) -> str:
        """Dead-letter queue of the subscription of ``queue``: messages SNS could not deliver to it."""
        return f"{self.name}-{queue}-subscription-dlq"


@dataclass(frozen=True)
class Bus:
    name: str
    env: str
    #: ``source`` of every event smsdesk publishes.
    source: str = "smsdesk"


@dataclass(frozen=True)
class ScheduleGroup:
    """EventBridge Scheduler group for one-time timers; every schedule targets ``target_queue``, and
    what Scheduler cannot deliver there (after its retries) goes to the group's dead-letter queue, whose
    ARN every schedule names (``dlq_env``)."""

    name: str
    env: str
    role_env: str
    target_queue: str
    dlq_env: str
    #: Other queues schedules of the group deliver to (campaign schedules: the bulk queue).
    other_targets: tuple[str, ...] = ()

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-schedules-dlq"


@dataclass(frozen=True)
class UserPool:
    name: str
    env: str
    client_env: str
    #: Cognito groups = smsdesk roles.
    groups: tuple[str, ...] = ("owner", "admin", "agent")


@dataclass(frozen=True)
class SecretsPrefix:
    """Provider credentials live in Secrets Manager under this prefix, never in DynamoDB."""

    name: str
    env: str


@dataclass(frozen=True)
class SmsOriginations:
    """The account's AWS End User Messaging SMS origination identities (phone numbers, sender IDs,
    pools, configuration sets). Channels name theirs at run time, so code finds none by environment."""

    name: str
    env: None = None


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket for files users upload (contact imports): private, encrypted, SSL only, objects
    expire after ``expire_days``. Objects created under ``notify_prefix`` are announced (S3 event
    notification, ``s3:ObjectCreated:*``) on the queue ``notify_queue``; browsers upload with a presigned
    POST, so the bucket answers CORS for the web app's origin."""

    name: str
    env: str
    expire_days: int = 7
    notify_queue: str | None = None
    notify_prefix: str = ""


MAIN_TABLE = Table(
    name="main",
    pk="PK",
    sk="SK",
    env="TABLE_NAME",
    gsis=(
        Gsi("GSI1", "GSI1PK", "GSI1SK"),
        Gsi("GSI2", "GSI2PK", "GSI2SK"),
        Gsi("GSI3", "GSI3PK", "GSI3SK"),
        # issue 13: a number's conversations (a contact's page)
        Gsi("GSI4", "GSI4PK", "GSI4SK"),
    ),
    ttl_attribute="expires_at",
    # The outbox: writes carry their events and jobs (``OUTBOX_ATTRIBUTE``); the ``outbox`` function
    # publishes them from the stream (new image for the events, old image to skip unchanged ones).
    stream="NEW_AND_OLD_IMAGES",
)
#: The attribute a write sets on the item it changes to announce events and jobs (``smsdesk.outbox``).
OUTBOX_ATTRIBUTE = "ob"
IDEMPOTENCY_TABLE = Table(
    name="idempotency",
    pk="id",
    sk=None,
    env="IDEMPOTENCY_TABLE_NAME",
    ttl_attribute="expiration",
)

INBOUND_QUEUE = Queue("inbound", env="INBOUND_QUEUE_URL", visibility_timeout_s=180)
OUTBOUND_QUEUE = Queue(
    "outbound", env="OUTBOUND_QUEUE_URL", visibility_timeout_s=180, max_receive_count=8, age_alarm_s=300
)
RECEIPTS_QUEUE = Queue("receipts", env="RECEIPTS_QUEUE_URL", visibility_timeout_s=180)
BULK_QUEUE = Queue("bulk", env="BULK_QUEUE_URL", visibility_timeout_s=900, max_receive_count=3)
TIMERS_QUEUE = Queue("timers", env="TIMERS_QUEUE_URL", visibility_timeout_s=180)
#: Contact imports: the uploads bucket's object-created events (and an import's continuations).
IMPORTS_QUEUE = Queue("imports", env="IMPORTS_QUEUE_URL", visibility_timeout_s=1800, max_receive_count=3)
#: Campaign messages' outcomes (a final status entered), queued by the outbox relay from the message
#: row's stream record; the ``fanout`` function counts them in batches (``campaigns/results.py``).
CAMPAIGN_RESULTS_QUEUE = Queue("campaign-results", env="CAMPAIGN_RESULTS_QUEUE_URL", visibility_timeout_s=900)

AWS_SMS_INBOUND_TOPIC = Topic("aws-sms-inbound", env="AWS_SMS_INBOUND_TOPIC_ARN", subscribers=("inbound",))
AWS_SMS_EVENTS_TOPIC = Topic("aws-sms-events", env="AWS_SMS_EVENTS_TOPIC_ARN", subscribers=("receipts",))

EVENT_BUS = Bus("events", env="EVENT_BUS_NAME")
SCHEDULE_GROUP = ScheduleGroup(
    "timers",
    env="SCHEDULE_GROUP_NAME",
    role_env="SCHEDULER_ROLE_ARN",
    target_queue="timers",
    dlq_env="SCHEDULER_DLQ_ARN",
    other_targets=("bulk",),  # campaign schedules (issue 14): FanoutJob(phase="run") to the fan-out
)
USER_POOL = UserPool("users", env="USER_POOL_ID", client_env="USER_POOL_CLIENT_ID")
PROVIDER_SECRETS = SecretsPrefix("providers", env="SECRETS_PREFIX")
SMS_ORIGINATIONS = SmsOriginations("sms-originations")
UPLOADS_BUCKET = Bucket(
    "uploads", env="UPLOADS_BUCKET_NAME", expire_days=7, notify_queue="imports", notify_prefix="imports/"
)
#: Contact exports too large for an API answer: written by the api, downloaded with a presigned GET.
EXPORTS_BUCKET = Bucket("exports", env="EXPORTS_BUCKET_NAME", expire_days=1, notify_prefix="exports/")

TABLES: tuple[Table, ...] = (MAIN_TABLE, IDEMPOTENCY_TABLE)
QUEUES: tuple[Queue, ...] = (
    INBOUND_QUEUE,
    OUTBOUND_QUEUE,
    RECEIPTS_QUEUE,
    BULK_QUEUE,
    TIMERS_QUEUE,
    IMPORTS_QUEUE,
    CAMPAIGN_RESULTS_QUEUE,
)
BUCKETS: tuple[Bucket, ...] = (UPLOADS_BUCKET, EXPORTS_BUCKET)
TOPICS: tuple[Topic, ...] = (AWS_SMS_INBOUND_TOPIC, AWS_SMS_EVENTS_TOPIC)

Resource = Table | Queue | Topic | Bus | ScheduleGroup | UserPool | SecretsPrefix | SmsOriginations | Bucket

# --------------------------------------------------------------------------------------------------
# Access: what a function may do with a resource (IAM in AWS; environment variables everywhere)
# --------------------------------------------------------------------------------------------------

AccessLevel = Literal[
    "read",  # table: GetItem/Query/BatchGet; secrets: GetSecretValue
    "read_write",  # table: + PutItem/UpdateItem/DeleteItem/TransactWrite; secrets: + Create/Put/Delete
    "send",  # queue: SendMessage
    "put_events",  # bus: PutEvents
    "manage_schedules",  # schedule group: Create/Update/Delete schedule + iam:PassRole on the scheduler role
    "manage_users",  # user pool: AdminCreateUser, AdminAddUserToGroup, ...
    "publish",  # topic: Publish
    "send_text",  # SMS originations: SendTextMessage
    "upload",  # bucket: PutObject (the presigned POST a browser uploads with is signed by this role)
    "read_update",  # table: read + UpdateItem (the status webhook: a final receipt's one conditional write)
    "append",  # table: BatchWriteItem only, no reads (the outbox writes entries derived from new rows)
]

_TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
_SECRETS_READ = ("secretsmanager:GetSecretValue",)

#: The IAM actions each access level grants, per resource kind: exactly what the code calls, nothing more.
#: The CDK stack writes these into each function's role (``infra/stack.py``); the local stack refuses
#: every other action (``smsdesk/local/iam.py``), so a missing grant fails a test, not a deployment.
#: (TransactWriteItems / TransactGetItems are authorised per item by IAM: Put/Update/Delete/ConditionCheck.)
IAM_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Table", "read"): _TABLE_READ,
    ("Table", "read_write"): (
        *_TABLE_READ,
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ),
    ("Queue", "send"): ("sqs:SendMessage",),  # SendMessageBatch is authorised as SendMessage
    ("Topic", "publish"): ("sns:Publish",),
    ("Bus", "put_events"): ("events:PutEvents",),
    ("ScheduleGroup", "manage_schedules"): (
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "iam:PassRole",  # on the scheduler's role only, passed to scheduler.amazonaws.com
    ),
    ("UserPool", "manage_users"): (
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminAddUserToGroup",
        "cognito-idp:AdminRemoveUserFromGroup",  # a role change moves the user's group
        "cognito-idp:AdminDeleteUser",  # rolls back a user whose creation failed half-way
    ),
    ("SecretsPrefix", "read"): _SECRETS_READ,
    ("SecretsPrefix", "read_write"): (
        *_SECRETS_READ,
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
    ),
    ("SmsOriginations", "send_text"): ("sms-voice:SendTextMessage",),
    ("Bucket", "read"): ("s3:GetObject",),
    ("Bucket", "upload"): ("s3:PutObject",),
    ("Table", "read_update"): (*_TABLE_READ, "dynamodb:UpdateItem"),
    ("Table", "append"): ("dynamodb:BatchWriteItem",),
}


@dataclass(frozen=True)
class Access:
    resource: Resource
    level: AccessLevel

    def __post_init__(self) -> None:
        if (type(self.resource).__name__, self.level) not in IAM_ACTIONS:
            raise ValueError(f"access level {self.level!r} makes no sense on {type(self.resource).__name__}")

    @property
    def iam_actions(self) -> tuple[str, ...]:
        """The IAM actions this access grants (on this resource only)."""
        return IAM_ACTIONS[(type(self.resource).__name__, self.level)]


# --------------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRoute:
    """An API Gateway HTTP API route (payload format 2.0)."""

    method: str  # GET, POST, ..., or ANY
    path: str  # API Gateway syntax: /v1/{proxy+}
    authorized: bool  # True: Cognito JWT authorizer; False: public (webhooks verify signatures in code)
    #: Served by the local stack only (the sandbox provider's test endpoints); never deployed.
    local_only: bool = False


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source mapping with ReportBatchItemFailures always on."""

    queue: Queue
    batch_size: int = 10
    max_batching_window_s: int = 0
    #: SQS -> Lambda MaximumConcurrency (2-1000); None = unlimited.
    max_concurrency: int | None = None


@dataclass(frozen=True)
class BusRule:
    """An EventBridge rule on the smsdesk bus invoking the function."""

    name: str
    #: Event pattern; ``source`` is always the bus' source.
    detail_types: tuple[str, ...] = ()
    detail_type_prefixes: tuple[str, ...] = ()
    #: A pattern on the event's detail (e.g. only messages of a campaign).
    detail: dict | None = None

    def pattern(self) -> dict:
        dt: list = list(self.detail_types) + [{"prefix": p} for p in self.detail_type_prefixes]
        pattern: dict = {"source": [EVENT_BUS.source]}
        if dt:
            pattern["detail-type"] = dt
        if self.detail:
            pattern["detail"] = self.detail
        return pattern


@dataclass(frozen=True)
class StreamTrigger:
    """A DynamoDB Streams event source mapping on ``table`` (which must have a ``stream``):
    ReportBatchItemFailures always on, the batch bisected when the function fails, ``retry_attempts``
    retries, then the batch's description (shard, sequence range) goes to the on-failure destination
    queue ``dlq_name``. ``filter``: Lambda filter criteria (one pattern); records that do not match never
    invoke the function (and are not billed)."""

    name: str
    table: Table
    batch_size: int = 100
    max_batching_window_s: int = 0
    retry_attempts: int = 10
    max_record_age_s: int = 24 * 3600
    #: Concurrent batches per shard; records of one item (one partition key) stay in order.
    parallelization_factor: int = 1
    filter: dict | None = None
    #: More filter patterns: a record passes when it matches ``filter`` OR any of these (Lambda ORs a
    #: mapping's filters, 5 at most).
    or_filters: tuple[dict, ...] = ()

    @property
    def dlq_name(self) -> str:
        return f"{self.table.name}-stream-{self.name}-dlq"

    @property
    def filters(self) -> tuple[dict, ...]:
        """Every filter pattern of the mapping (a record passes when it matches one); () = no filter."""
        return ((self.filter,) if self.filter else ()) + self.or_filters


def outbox_filter() -> dict:
    """Only records whose new image carries an outbox entry (``OUTBOX_ATTRIBUTE.id``)."""
    return {"dynamodb": {"NewImage": {OUTBOX_ATTRIBUTE: {"M": {"id": {"S": [{"exists": True}]}}}}}}


def campaign_outcome_filter() -> dict:
    """Records of a campaign message's row (``campaign_id`` set) whose new status is final: the outbox
    relay queues its outcome for the campaign's counts (``outbox_relay.campaign_outcome``) even when
    the write announces nothing (no ``ob``: a deployment that publishes no event for it)."""
    return {
        "dynamodb": {
            "NewImage": {
                "PK": {"S": [{"prefix": "MSG#"}]},
                "SK": {"S": ["META"]},
                "campaign_id": {"S": [{"exists": True}]},
                "status": {"S": ["delivered", "undelivered", "failed"]},
            }
        }
    }


Trigger = HttpRoute | QueueTrigger | BusRule | StreamTrigger

# --------------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    #: Directory under ``functions/`` holding ``index.py`` with ``handler``.
    entry: str
    memory_mb: int
    timeout_s: int
    access: tuple[Access, ...]
    triggers: tuple[Trigger, ...]
    handler: str = "index.handler"
    env: dict[str, str] = field(default_factory=dict)
    #: Reserved concurrency; None = account pool.
    reserved_concurrency: int | None = None

    @property
    def resources(self) -> tuple[Resource, ...]:
        seen: list[Resource] = []
        for a in self.access:
            if a.resource not in seen:
                seen.append(a.resource)
        return tuple(seen)


_CORE = (Access(MAIN_TABLE, "read_write"), Access(EVENT_BUS, "put_events"))

API = Function(
    name="api",
    description="Management API (/v1): channels, messages, conversations, credits, users",
    entry="api",
    memory_mb=1024,
    timeout_s=29,
    access=(
        *_CORE,
        Access(IDEMPOTENCY_TABLE, "read_write"),
        # no outbound queue: a message's job leaves through the outbox with its record
        Access(TIMERS_QUEUE, "send"),
        Access(SCHEDULE_GROUP, "manage_schedules"),
        Access(USER_POOL, "manage_users"),
        Access(PROVIDER_SECRETS, "read_write"),
        Access(UPLOADS_BUCKET, "upload"),  # signs contact imports' presigned POSTs
        # large contact exports: writes the file, signs its download link
        Access(EXPORTS_BUCKET, "upload"),
        Access(EXPORTS_BUCKET, "read"),
        Access(BULK_QUEUE, "send"),  # the queue campaign schedules deliver to (the schedule's target)
    ),
    triggers=(
        HttpRoute("ANY", "/v1/{proxy+}", authorized=True),
        HttpRoute("GET", "/health", authorized=False),
        HttpRoute("GET", "/openapi.json", authorized=False),
        HttpRoute("GET", "/docs", authorized=False),
    ),
)

WEBHOOKS = Function(
    name="webhooks",
    description=(
        "Provider webhooks (/webhooks): verify the signature, apply a final receipt naming its message"
        " or enqueue the raw event, answer fast"
    ),
    entry="webhooks",
    memory_mb=512,
    timeout_s=10,
    access=(
        # reads channels; a final receipt that names its message is one conditional UpdateItem
        # (sending.receipts.apply_at_once): no PutItem/DeleteItem for a public route
        Access(MAIN_TABLE, "read_update"),
        Access(PROVIDER_SECRETS, "read"),
        Access(INBOUND_QUEUE, "send"),
        Access(RECEIPTS_QUEUE, "send"),
    ),
    triggers=(
        HttpRoute("POST", "/webhooks/{proxy+}", authorized=False),
        # The sandbox provider's side: its outbox and simulated inbound SMS (local stack only).
        HttpRoute("ANY", "/sandbox/{proxy+}", authorized=False, local_only=True),
    ),
)

INBOUND = Function(
    name="inbound",
    description="Routes inbound SMS: blocklists, opt-outs, business hours, conversations",
    entry="inbound",
    memory_mb=512,
    timeout_s=30,
    access=(
        *_CORE,
        Access(IDEMPOTENCY_TABLE, "read_write"),
        Access(TIMERS_QUEUE, "send"),
        Access(SCHEDULE_GROUP, "manage_schedules"),
    ),
    triggers=(QueueTrigger(INBOUND_QUEUE, batch_size=10),),
)

SENDER = Function(
    name="sender",
    description="Sends queued SMS through the channel's provider, honouring its rate limit",
    entry="sender",
    memory_mb=512,
    timeout_s=30,
    access=(
        *_CORE,  # the message row is the send attempt's idempotency record: no idempotency table
        Access(OUTBOUND_QUEUE, "send"),  # a job put back until its rate-limit slot (retries go by the outbox)
        Access(PROVIDER_SECRETS, "read"),
        Access(SMS_ORIGINATIONS, "send_text"),
    ),
    triggers=(QueueTrigger(OUTBOUND_QUEUE, batch_size=10, max_concurrency=20),),
)

RECEIPTS = Function(
    name="receipts",
    description="Applies provider delivery receipts to messages (monotonic status, refunds)",
    entry="receipts",
    memory_mb=512,
    timeout_s=30,
    access=_CORE,
    triggers=(QueueTrigger(RECEIPTS_QUEUE, batch_size=10),),
)

FANOUT = Function(
    name="fanout",
    description="Campaign fan-out: expands recipients into outbound messages",
    entry="fanout",
    memory_mb=1024,
    timeout_s=150,
    # Campaign runs: reads audiences, writes recipient rows, messages (charged from the reservation) and
    # the campaign; the next wave and the messages' jobs leave through the outbox.
    access=(Access(MAIN_TABLE, "read_write"),),
    triggers=(
        QueueTrigger(BULK_QUEUE, batch_size=1, max_concurrency=5),
        # campaign messages' outcomes: the campaigns' sent / delivered / failed counts, a batch at a time
        # (one transaction per campaign in the batch, gathered for up to 2 s); two at a time at most, so
        # concurrent batches of one campaign seldom conflict on its counts item
        QueueTrigger(CAMPAIGN_RESULTS_QUEUE, batch_size=100, max_batching_window_s=2, max_concurrency=2),
    ),
)

TIMERS = Function(
    name="timers",
    description="Fires timers (Scheduler one-time schedules and SQS delays) after re-checking state",
    entry="timers",
    memory_mb=512,
    timeout_s=30,
    access=(
        *_CORE,
        Access(TIMERS_QUEUE, "send"),
        Access(SCHEDULE_GROUP, "manage_schedules"),
    ),
    triggers=(QueueTrigger(TIMERS_QUEUE, batch_size=10),),
)

NOTIFIER = Function(
    name="notifier",
    description="Turns bus events into per-user notifications (feed, integrations)",
    entry="notifier",
    memory_mb=512,
    timeout_s=30,
    access=_CORE,  # writes the feed, publishes notification.created
    # Only what notifier.handle_event acts on: every other event would be an invocation doing nothing
    # (a sent message alone causes four message.* events).
    triggers=(
        BusRule(
            "notifications", detail_types=("message.received", "conversation.assigned", "conversation.transferred")
        ),
    ),
)

OUTBOX = Function(
    name="outbox",
    description="Publishes the events and queues the jobs that table writes carry (DynamoDB stream)",
    entry="outbox",
    memory_mb=256,
    timeout_s=30,
    # What ``ob`` entries name: the bus and the queues of their jobs (reading the stream is the event
    # source mapping's own grant); the table for the entries derived from new message rows (``append``).
    access=(
        Access(EVENT_BUS, "put_events"),
        Access(OUTBOUND_QUEUE, "send"),
        Access(BULK_QUEUE, "send"),
        Access(CAMPAIGN_RESULTS_QUEUE, "send"),  # campaign messages' outcomes, from their status changes
        Access(MAIN_TABLE, "append"),
    ),
    triggers=(
        StreamTrigger(
            "outbox",
            MAIN_TABLE,
            batch_size=100,
            parallelization_factor=4,
            filter=outbox_filter(),
            or_filters=(campaign_outcome_filter(),),
        ),
    ),
)

IMPORTS = Function(
    name="imports",
    description="Imports an uploaded contacts CSV in batches (S3 event via the imports queue)",
    entry="imports",
    memory_mb=1024,
    timeout_s=300,
    access=(
        Access(MAIN_TABLE, "read_write"),
        Access(UPLOADS_BUCKET, "read"),
        Access(IMPORTS_QUEUE, "send"),  # the continuation of an import that needs more than one invocation
    ),
    # one file per invocation; a few imports at once at most (each writes contacts as fast as it can)
    triggers=(QueueTrigger(IMPORTS_QUEUE, batch_size=1, max_concurrency=2),),
)

CRMNOTES = Function(
    name="crmnotes",
    description="Writes conversation transcript notes on linked persons, leads and deals (and Pipedrive)",
    entry="crmnotes",
    memory_mb=512,
    timeout_s=60,
    # links, notes and messages in the table; the Pipedrive API token (Secrets Manager), when the
    # connector is on
    access=(Access(MAIN_TABLE, "read_write"), Access(PROVIDER_SECRETS, "read")),
    # only what crm.notes.handle_event acts on: a new link, and every message filed in a conversation
    # (its message.queued, or, as MESSAGE_EVENTS publishes no queued by default, its final status);
    # messages of no conversation (API sends, campaigns) never invoke it
    triggers=(
        BusRule(
            "crmnotes",
            detail_types=(
                "crm.linked",
                "message.received",
                "message.queued",
                "message.delivered",
                "message.undelivered",
                "message.failed",
            ),
            detail={"conversation_id": [{"prefix": ""}]},  # a string: not null
        ),
    ),
)

BOTS = Function(
    name="bots",
    description="Runs bots (issue 15) on bus events: interaction arrived, closed, timed out, an answer, a takeover",
    entry="bots",
    memory_mb=512,
    timeout_s=30,
    access=(
        *_CORE,  # runs, conversations, bot messages (the outbox sends them), bot.* events
        Access(TIMERS_QUEUE, "send"),  # an ask's timeout (SQS delay under 15 minutes) ...
        Access(SCHEDULE_GROUP, "manage_schedules"),  # ... or a Scheduler schedule beyond
        Access(PROVIDER_SECRETS, "read"),  # webhook bots' signing keys (``{prefix}bot-{id}``)
    ),
    # Only what bots.runtime.handle_event acts on.
    triggers=(
        BusRule(
            "bots",
            detail_types=(
                "message.received",
                "conversation.closed",
                "conversation.assigned",
                "interaction.queue_timeout",
            ),
        ),
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    API,
    WEBHOOKS,
    INBOUND,
    SENDER,
    RECEIPTS,
    FANOUT,
    TIMERS,
    NOTIFIER,
    OUTBOX,
    IMPORTS,
    CRMNOTES,
    BOTS,
)


def function(name: str) -> Function:
    for f in FUNCTIONS:
        if f.name == name:
            return f
    raise KeyError(name)


def all_resources() -> tuple[Resource, ...]:
    """Every resource, each once, in a stable order."""
    out: list[Resource] = [
        *TABLES,
        *QUEUES,
        *TOPICS,
        EVENT_BUS,
        SCHEDULE_GROUP,
        USER_POOL,
        PROVIDER_SECRETS,
        SMS_ORIGINATIONS,
        *BUCKETS,
    ]
    return tuple(out)


def env_names(resource: Resource) -> tuple[str, ...]:
    """The environment variables through which code finds ``resource``."""
    if isinstance(resource, Queue):
        return (resource.env, resource.arn_env)
    if isinstance(resource, ScheduleGroup):
        # Creating a schedule needs the group, the role Scheduler assumes, the target queue's ARN and the
        # dead-letter queue's ARN.
        return (resource.env, resource.role_env, _queue(resource.target_queue).arn_env, resource.dlq_env)
    if isinstance(resource, UserPool):
        return (resource.env, resource.client_env)
    if isinstance(resource, SmsOriginations):
        return ()
    return (resource.env,)


def _queue(name: str) -> Queue:
    for q in QUEUES:
        if q.name == name:
            return q
    raise KeyError(name)


def queue(name: str) -> Queue:
    return _queue(name)


#: Environment every function gets regardless of access (non-secret settings).
COMMON_ENV_NAMES = (
    "STAGE",
    "DEFAULT_COUNTRY",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "MESSAGE_EVENTS",  # which message.<status> events are published (config.message_events)
)


def writes_main_table(fn: Function) -> bool:
    """Whether ``fn`` may write the main table (any level beyond ``read``): its writes can announce
    through the outbox, so a deployment updates it after the ``outbox`` function (infra/stack.py)."""
    return any(a.resource is MAIN_TABLE and a.level != "read" for a in fn.access)


def function_env_names(fn: Function) -> tuple[str, ...]:
    """Every environment variable ``fn`` receives: the common settings, its resources' and its own."""
    names = [*COMMON_ENV_NAMES]
    for resource in fn.resources:
        names.extend(n for n in env_names(resource) if n not in names)
    names.extend(n for n in fn.env if n not in names)
    return tuple(names)
