"""``SmsdeskStack``: every resource, function, grant and trigger, generated from ``smsdesk.manifest``.

Nothing here names a particular function or queue: the stack loops over ``manifest.TABLES``,
``QUEUES``, ``TOPICS``, ``FUNCTIONS`` (and the singletons ``EVENT_BUS``, ``SCHEDULE_GROUP``,
``USER_POOL``, ``PROVIDER_SECRETS``). Adding a function to the manifest adds it here.

Security choices (least privilege; cdk-nag AwsSolutions clean):

* each function has its own IAM role; no managed policies (logs permission is scoped to its log group);
* grants follow the manifest's ``Access`` levels only;
* DynamoDB: AWS-managed KMS key (``aws/dynamodb``), PITR, RETAIN;
* SQS: SQS-managed SSE (works with SNS, EventBridge and Scheduler as senders without key policies),
  TLS enforced by queue policy;
* SNS: one customer-managed KMS key (rotation on) for the SMS topics and the alarm topic, because
  AWS End User Messaging SMS and CloudWatch can only publish to encrypted topics if the key policy lets
  them, which the AWS-managed ``aws/sns`` key does not;
* nothing is dropped silently: every queue, bus rule target, Scheduler target and SNS -> SQS subscription
  has a dead-letter queue with an alarm; more alarms watch the outbound queue's age, API 5xx, DynamoDB
  throttles and each function's errors and throttles, all to the alarm topic; one CloudWatch dashboard
  (``smsdesk-<stage>``) shows sends, deliveries, failures, inbound, queues, errors and the API;
* X-Ray tracing is OFF: the code does not use the X-Ray SDK (Powertools Tracer is not imported), active
  tracing would only add the service map at the cost of a ``Resource::*`` IAM grant per function.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.layer import REPO_ROOT, SharedLayer
from infra.web import WebApp
from smsdesk import manifest as m

#: Newest Python runtime aws-cdk-lib 2.275 offers (cdk-nag L1 checks "latest").
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DLQ_RETENTION = Duration.days(14)
#: EventBridge -> Lambda target: retries and max age before the event goes to the rule's DLQ.
RULE_RETRY_ATTEMPTS = 8
RULE_MAX_EVENT_AGE = Duration.hours(2)
#: HTTP API default-stage throttling (requests/s and burst), protects Lambda concurrency and cost.
API_RATE_LIMIT = 100
API_BURST_LIMIT = 200
#: The application's Powertools metrics (``smsdesk.observability.metrics``): namespace and the ``service``
#: dimension every function's metrics carry.
APP_METRICS_NAMESPACE = "smsdesk"
APP_METRICS_SERVICE = "smsdesk"
#: Dashboard rows of application metrics (names the code emits with ``metrics.add_metric``).
DASHBOARD_APP_METRICS: dict[str, tuple[str, ...]] = {
    "Outbound SMS: sent, delivery receipts, failures": (
        "SenderSent",
        "ReceiptsApplied",
        "SenderFailed",
        "SenderDeadLettered",
        "SenderRetried",
        "SenderRateDelayed",
    ),
    "Inbound SMS": (
        "InboundAdmitted",
        "InboundRejected",
        "InboundOptOut",
        "InboundOptIn",
        "InboundHelp",
        "InboundOutOfHours",
        "InboundDuplicate",
        "AutoReplySent",
        "AutoReplySkipped",
    ),
}
DASHBOARD_PERIOD = Duration.minutes(5)

#: AWS End User Messaging SMS resources SendTextMessage is authorised on (origination and its settings).
SMS_ORIGINATION_KINDS = ("phone-number", "sender-id", "pool", "configuration-set", "opt-out-list")

ACCESS_LOG_FORMAT = apigw_v1.AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol",'
    '"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",'
    '"integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage",'
    '"authorizerError":"$context.authorizer.error","sub":"$context.authorizer.claims.sub"}'
)


@jsii.implements(apigw.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigw.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigw.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw_v1.AccessLogFormat:
        return ACCESS_LOG_FORMAT


def _ack(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


@dataclass
class DeployedFunction:
    spec: m.Function
    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


class SmsdeskStack(Stack):
    """The whole smsdesk deployment for one stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str = "dev",
        default_country: str = "NL",
        alarm_email: str | None = None,
        message_events: str = "final",
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.default_country = default_country
        self.message_events = message_events
        self.prefix = f"smsdesk-{stage}"

        self.tables: dict[str, dynamodb.TableV2] = {}
        self.queues: dict[str, sqs.Queue] = {}
        self.dlqs: dict[str, sqs.Queue] = {}
        self.topics: dict[str, sns.Topic] = {}
        self.buckets: dict[str, s3.Bucket] = {}
        self.functions: dict[str, DeployedFunction] = {}
        self.alarms: list[cw.Alarm] = []

        self._check_manifest()
        self.key = self._messaging_key()
        self.alarm_topic = self._alarm_topic(alarm_email)
        for table in m.TABLES:
            self._table(table)
        for queue in m.QUEUES:
            self._queue(queue)
        for topic in m.TOPICS:
            self._topic(topic)
        self.bus = events.EventBus(self, "EventBus", event_bus_name=f"{self.prefix}-{m.EVENT_BUS.name}")
        self._schedule_group()
        self._user_pool()
        self.secrets_prefix = f"smsdesk/{stage}/{m.PROVIDER_SECRETS.name}/"
        self._http_api()
        self.web = WebApp(
            self,
            "Web",
            prefix=self.prefix,
            stage=stage,
            api=self.api,
            user_pool=self.user_pool,
            user_pool_client=self.user_pool_client,
        )

        for bucket in m.BUCKETS:
            self._bucket(bucket)

        layer = SharedLayer(self, "SharedLayer", runtime=RUNTIME, architecture=ARCHITECTURE).layer
        for spec in m.FUNCTIONS:
            self._function(spec, layer)
        self._outbox_first()
        self._dashboard()
        self._outputs()

    # ---------------------------------------------------------------------------------------------
    # Consistency checks (fail the synth, not the deploy)
    # ---------------------------------------------------------------------------------------------

    @staticmethod
    def _check_manifest() -> None:
        for fn in m.FUNCTIONS:
            for trigger in fn.triggers:
                if isinstance(trigger, m.QueueTrigger) and trigger.queue.visibility_timeout_s < 6 * fn.timeout_s:
                    raise ValueError(
                        f"queue {trigger.queue.name}: visibility timeout {trigger.queue.visibility_timeout_s}s "
                        f"< 6 x {fn.name} timeout ({fn.timeout_s}s)"
                    )
        for topic in m.TOPICS:
            for name in topic.subscribers:
                m.queue(name)  # KeyError on an unknown subscriber
        m.queue(m.SCHEDULE_GROUP.target_queue)

    # ---------------------------------------------------------------------------------------------
    # Encryption key and alarm topic
    # ---------------------------------------------------------------------------------------------

    def _messaging_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "MessagingKey",
            description=f"{self.prefix}: SNS topics (SMS events, alarms)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # encrypts only transient SNS messages
            pending_window=Duration.days(7),
        )
        # AWS End User Messaging SMS publishes inbound SMS and delivery events to the SMS topics.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEndUserMessagingSms",
                principals=[iam.ServicePrincipal("sms-voice.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:sms-voice:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"},
                },
            )
        )
        # CloudWatch alarms publish to the (encrypted) alarm topic.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        return key

    def _alarm_topic(self, alarm_email: str | None) -> sns.Topic:
        topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{self.prefix} alarms", master_key=self.key, enforce_ssl=True
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        if alarm_email:
            topic.add_subscription(subs.EmailSubscription(alarm_email))
        return topic

    def _alarm(
        self,
        construct_id: str,
        metric: cw.IMetric,
        description: str,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
        comparison_operator: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison_operator,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)
        return alarm

    # ---------------------------------------------------------------------------------------------
    # Data and messaging resources
    # ---------------------------------------------------------------------------------------------

    def _table(self, spec: m.Table) -> None:
        s = dynamodb.AttributeType.STRING
        table = dynamodb.TableV2(
            self,
            f"{_pascal(spec.name)}Table",
            partition_key=dynamodb.Attribute(name=spec.pk, type=s),
            sort_key=dynamodb.Attribute(name=spec.sk, type=s) if spec.sk else None,
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.ttl_attribute,
            # The outbox reads the main table's stream (smsdesk.outbox): events and jobs leave with the write.
            dynamo_stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=g.name,
                    partition_key=dynamodb.Attribute(name=g.pk, type=s),
                    sort_key=dynamodb.Attribute(name=g.sk, type=s),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
                for g in spec.gsis
            ],
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=self.stage != "dev",
        )
        self.tables[spec.name] = table
        self._alarm(
            f"{_pascal(spec.name)}TableThrottlesAlarm",
            self._table_throttles(spec),
            f"{self.prefix}: DynamoDB throttled reads/writes on the {spec.name} table or its indexes",
        )

    def _table_throttles(self, spec: m.Table) -> cw.MathExpression:
        """Read + write throttle events of the table and each of its GSIs (on-demand tables throttle too:
        hot partitions, account limits), summed per period."""
        table_name = self.tables[spec.name].table_name
        using: dict[str, cw.IMetric] = {}
        for label, extra in [
            ("table", {}),
            *((g.name.lower(), {"GlobalSecondaryIndexName": g.name}) for g in spec.gsis),
        ]:
            for kind in ("Read", "Write"):
                using[f"{spec.name}_{label}_{kind.lower()}"] = cw.Metric(
                    namespace="AWS/DynamoDB",
                    metric_name=f"{kind}ThrottleEvents",
                    dimensions_map={"TableName": table_name, **extra},
                    statistic="Sum",
                    period=Duration.minutes(5),
                )
        return cw.MathExpression(
            expression="SUM(METRICS())",
            using_metrics=using,
            label=f"{spec.name}: throttle events",
            period=Duration.minutes(5),
        )

    def _dead_letter_queue(self, construct_id: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )

    def _queue(self, spec: m.Queue) -> None:
        base = _pascal(spec.name)
        dlq = self._dead_letter_queue(f"{base}Dlq")
        queue = sqs.Queue(
            self,
            f"{base}Queue",
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            retention_period=Duration.days(spec.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
        )
        self.queues[spec.name] = queue
        self.dlqs[spec.dlq_name] = dlq
        self._alarm(
            f"{base}DlqAlarm",
            dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            f"{self.prefix}: messages in {spec.dlq_name} (failed {spec.max_receive_count} times on {spec.name})",
        )
        if spec.age_alarm_s is not None:
            self._alarm(
                f"{base}AgeAlarm",
                queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum"),
                f"{self.prefix}: the oldest message in {spec.name} has waited over {spec.age_alarm_s} s "
                "for 3 minutes (consumer failing, throttled or not keeping up)",
                threshold=spec.age_alarm_s,
                evaluation_periods=3,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )

    def _dead_letter_queue_with_alarm(self, construct_id: str, name: str, of_what: str) -> sqs.Queue:
        """A DLQ that is not a queue's redrive target (Scheduler's, an SNS subscription's): cdk-nag's SQS3
        is acknowledged, and any message in it alarms."""
        dlq = self._dead_letter_queue(construct_id)
        self.dlqs[name] = dlq
        _ack(dlq, "AwsSolutions-SQS3", f"This queue IS a dead-letter queue: {of_what}.")
        self._alarm(
            f"{construct_id}Alarm",
            dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            f"{self.prefix}: messages in {name} ({of_what})",
        )
        return dlq

    def _topic(self, spec: m.Topic) -> None:
        topic = sns.Topic(
            self,
            f"{_pascal(spec.name)}Topic",
            display_name=f"{self.prefix} {spec.name}",
            master_key=self.key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEndUserMessagingSms",
                principals=[iam.ServicePrincipal("sms-voice.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:sms-voice:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"},
                },
            )
        )
        for name in spec.subscribers:
            dlq = self._dead_letter_queue_with_alarm(
                f"{_pascal(spec.name)}{_pascal(name)}SubscriptionDlq",
                spec.subscription_dlq_name(name),
                f"what SNS could not deliver from {spec.name} to the {name} queue",
            )
            topic.add_subscription(
                subs.SqsSubscription(self.queues[name], raw_message_delivery=True, dead_letter_queue=dlq)
            )
        self.topics[spec.name] = topic

    def _bucket(self, spec: m.Bucket) -> None:
        """Private, encrypted, SSL only, objects expire; browsers upload with presigned POSTs from the web
        app's origin (CORS). Object-created events under the prefix go to the queue: the bucket's own
        notification configuration (no custom resource), its name fixed so that the queue's policy can
        name it before the bucket exists (CloudFormation checks the destination when it creates the bucket)."""
        base = _pascal(spec.name)
        name = f"{self.prefix}-{spec.name}-{Aws.ACCOUNT_ID}-{Aws.REGION}"
        bucket = s3.Bucket(
            self,
            f"{base}Bucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(spec.expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=[f"https://{self.web.distribution.distribution_domain_name}"],
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
        )
        _ack(
            bucket,
            "AwsSolutions-S1",
            f"Uploads (contact files) live {spec.expire_days} days; who created each upload is recorded by the "
            "API (the import's `by`), so S3 server access logs would add a second, costlier trail.",
        )
        if spec.notify_queue:
            queue = self.queues[spec.notify_queue]
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowS3Notifications",
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={
                        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:s3:::{name}"},
                        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    },
                )
            )
            cfn = bucket.node.default_child
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                queue_configurations=[
                    s3.CfnBucket.QueueConfigurationProperty(
                        event="s3:ObjectCreated:*",
                        queue=queue.queue_arn,
                        filter=s3.CfnBucket.NotificationFilterProperty(
                            s3_key=s3.CfnBucket.S3KeyFilterProperty(
                                rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=spec.notify_prefix)]
                            )
                        )
                        if spec.notify_prefix
                        else None,
                    )
                ]
            )
            cfn.add_dependency(queue.node.find_child("Policy").node.default_child)
        self.buckets[spec.name] = bucket

    def _bucket_objects_arn(self, spec: m.Bucket) -> str:
        """What functions may read or write: the objects under the notified prefix (all without one)."""
        return f"{self.buckets[spec.name].bucket_arn}/{spec.notify_prefix}*"

    # ---------------------------------------------------------------------------------------------
    # Scheduler, Cognito
    # ---------------------------------------------------------------------------------------------

    def _schedule_group(self) -> None:
        spec = m.SCHEDULE_GROUP
        self.schedule_group_name = f"{self.prefix}-{spec.name}"
        self.schedule_group = scheduler.ScheduleGroup(
            self,
            "ScheduleGroup",
            schedule_group_name=self.schedule_group_name,
            removal_policy=RemovalPolicy.DESTROY,  # pending one-time timers are rebuilt from table state
        )
        self.schedule_target_queue = self.queues[spec.target_queue]
        self.schedules_arn = self.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.schedule_group_name}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        role = iam.Role(
            self,
            "SchedulerRole",
            description=f"{self.prefix}: EventBridge Scheduler delivers due timers to the {spec.target_queue} queue",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "aws:SourceArn": self.schedule_group.schedule_group_arn,
                    }
                },
            ),
        )
        self.schedule_dlq = self._dead_letter_queue_with_alarm(
            "ScheduleDlq",
            spec.dlq_name,
            f"timers Scheduler could not deliver to the {spec.target_queue} queue after its retries",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                resources=[
                    self.schedule_target_queue.queue_arn,
                    self.schedule_dlq.queue_arn,
                    *(self.queues[q].queue_arn for q in spec.other_targets),
                ],
            )
        )
        self.scheduler_role = role

    def _user_pool(self) -> None:
        spec = m.USER_POOL
        pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{self.prefix}-{spec.name}",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.LITE,  # TOTP MFA and admin flows are in Lite; no per-MAU premium
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=self.stage != "dev",
        )
        _ack(
            pool,
            "AwsSolutions-COG2",
            "MFA is OPTIONAL (TOTP): users are created by an owner/admin and may enrol TOTP; requiring MFA "
            "would need MFA-setup support in every client. Operators can switch the pool to REQUIRED.",
        )
        _ack(
            pool,
            "AwsSolutions-COG8",
            "The Plus feature plan (threat protection) is billed per monthly active user; a small contact "
            "center opts in deliberately. Self sign-up is off, users are admin-created, passwords are strong.",
        )
        for group in spec.groups:
            pool.add_group(f"{_pascal(group)}Group", group_name=group, description=f"smsdesk role: {group}")
        self.user_pool_client = pool.add_client(
            "AppClient",
            user_pool_client_name=f"{self.prefix}-app",
            generate_secret=False,
            # user_password: the web app signs in with InitiateAuth USER_PASSWORD_AUTH over TLS (web/src/auth.ts).
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True, admin_user_password=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        self.user_pool = pool

    # ---------------------------------------------------------------------------------------------
    # HTTP API
    # ---------------------------------------------------------------------------------------------

    def _http_api(self) -> None:
        self.api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=self.prefix,
            description="smsdesk management API and provider webhooks",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.api_stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=API_RATE_LIMIT, burst_limit=API_BURST_LIMIT),
            access_log_settings=_AccessLogSettings(access_logs),
        )
        self.authorizer = authorizers.HttpUserPoolAuthorizer(
            "CognitoAuthorizer",
            self.user_pool,
            user_pool_clients=[self.user_pool_client],
            authorizer_name="cognito",
        )
        self._alarm(
            "ApiServerErrorsAlarm",
            self.api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
            f"{self.prefix}: the HTTP API answered 5xx (smsdesk answers bad input with 4xx, so any 5xx is a bug, "
            "a timeout or an integration failure)",
        )

    # ---------------------------------------------------------------------------------------------
    # Functions
    # ---------------------------------------------------------------------------------------------

    def _env_values(self, resource: m.Resource) -> dict[str, str]:
        """Deployed values of ``manifest.env_names(resource)``."""
        if isinstance(resource, m.Table):
            values = {resource.env: self.tables[resource.name].table_name}
        elif isinstance(resource, m.Queue):
            q = self.queues[resource.name]
            values = {resource.env: q.queue_url, resource.arn_env: q.queue_arn}
        elif isinstance(resource, m.Topic):
            values = {resource.env: self.topics[resource.name].topic_arn}
        elif isinstance(resource, m.Bus):
            values = {resource.env: self.bus.event_bus_name}
        elif isinstance(resource, m.ScheduleGroup):
            target = m.queue(resource.target_queue)
            values = {
                resource.env: self.schedule_group.schedule_group_name,
                resource.role_env: self.scheduler_role.role_arn,
                target.arn_env: self.queues[target.name].queue_arn,
                resource.dlq_env: self.schedule_dlq.queue_arn,
            }
        elif isinstance(resource, m.UserPool):
            values = {
                resource.env: self.user_pool.user_pool_id,
                resource.client_env: self.user_pool_client.user_pool_client_id,
            }
        elif isinstance(resource, m.SecretsPrefix):
            values = {resource.env: self.secrets_prefix}
        elif isinstance(resource, m.SmsOriginations):
            values = {}
        elif isinstance(resource, m.Bucket):
            values = {resource.env: self.buckets[resource.name].bucket_name}
        else:  # pragma: no cover - a new Resource kind must be wired here
            raise TypeError(f"no deployed value for {resource!r}")
        expected = set(m.env_names(resource))
        if set(values) != expected:
            raise ValueError(f"{resource.name}: stack provides {sorted(values)}, manifest wants {sorted(expected)}")
        return values

    def _grant(self, fn: m.Function, role: iam.Role, access: m.Access) -> None:
        """One statement per access: the manifest's actions (``access.iam_actions``) on that resource only."""
        r = access.resource
        actions = [a for a in access.iam_actions if a != "iam:PassRole"]
        if isinstance(r, m.Table):
            table = self.tables[r.name]
            resources = [table.table_arn]
            if r.gsis:
                resources.append(f"{table.table_arn}/index/*")
                _ack(
                    role,
                    f"AwsSolutions-IAM5[Resource::{self._nag_resource(f'{table.table_arn}/index/*')}]",
                    f"Queries on the {r.name} table's GSIs ({', '.join(g.name for g in r.gsis)}): the grant "
                    "covers the table's own indexes only.",
                )
        elif isinstance(r, m.Queue):
            resources = [self.queues[r.name].queue_arn]
        elif isinstance(r, m.Topic):
            topic = self.topics[r.name]
            resources = [topic.topic_arn]
            if topic.master_key is not None:
                topic.master_key.grant(role, "kms:GenerateDataKey*", "kms:Decrypt")
        elif isinstance(r, m.Bus):
            resources = [self.bus.event_bus_arn]
        elif isinstance(r, m.ScheduleGroup):
            resources = [self.schedules_arn]
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.scheduler_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                )
            )
            _ack(
                role,
                f"AwsSolutions-IAM5[Resource::{self._nag_resource(self.schedules_arn)}]",
                "One-time timers are schedules with run-time names; the grant covers only schedules in the "
                f"stage's own group {self.schedule_group_name}, and PassRole only the scheduler role.",
            )
        elif isinstance(r, m.UserPool):
            resources = [self.user_pool.user_pool_arn]
        elif isinstance(r, m.SecretsPrefix):
            resources = [self._secrets_arn()]
            _ack(
                role,
                f"AwsSolutions-IAM5[Resource::{self._nag_resource(self._secrets_arn())}]",
                "Provider credentials are one secret per channel, created at run time under the stage's prefix "
                f"{self.secrets_prefix} (the trailing * also covers Secrets Manager's random ARN suffix).",
            )
        elif isinstance(r, m.SmsOriginations):
            resources = [self._sms_arn(kind) for kind in SMS_ORIGINATION_KINDS]
            for arn in resources:
                _ack(
                    role,
                    f"AwsSolutions-IAM5[Resource::{self._nag_resource(arn)}]",
                    "Each channel names its own origination identity (phone number, sender ID or pool) and "
                    "configuration set at run time; the grant is SendTextMessage only, in this account and region.",
                )
        elif isinstance(r, m.Bucket):
            resources = [self._bucket_objects_arn(r)]
            _ack(
                role,
                f"AwsSolutions-IAM5[Resource::{self._nag_resource(resources[0])}]",
                f"Uploaded files have run-time names (one per import); the grant covers the objects under "
                f"{r.notify_prefix or '/'} in the stage's own {r.name} bucket only.",
            )
        else:  # pragma: no cover - a new Resource kind must be wired here
            raise TypeError(f"{fn.name}: no grant for {r!r}")
        role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))

    def _sms_arn(self, kind: str) -> str:
        return self.format_arn(service="sms-voice", resource=kind, resource_name="*")

    def _secrets_arn(self) -> str:
        return self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secrets_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _nag_resource(self, arn: str) -> str:
        """``arn`` as cdk-nag renders it in an IAM5 finding id (``<Ref>``, ``<Lid.Attr>``, literals).

        Region/partition are literals when the stack is pinned to a region and ``<AWS::Region>`` when it
        is environment-agnostic, so finding ids are derived from the resolved ARN, never hard-coded.
        """

        def render(part) -> str:
            if isinstance(part, str):
                return part
            if isinstance(part, dict) and "Ref" in part:
                return f"<{part['Ref']}>"
            if isinstance(part, dict) and "Fn::GetAtt" in part:
                return f"<{'.'.join(part['Fn::GetAtt'])}>"
            if isinstance(part, dict) and "Fn::Join" in part:
                sep, parts = part["Fn::Join"]
                return sep.join(render(p) for p in parts)
            raise TypeError(f"cannot render {part!r} for a cdk-nag finding id")

        return render(self.resolve(arn))

    def _outbox_first(self) -> None:
        """Every function that writes the main table is updated after the ``outbox`` function (a
        CloudFormation dependency), so a write announcing something new (an ``ob`` kind added by a
        release, e.g. the derived ledger/index entry) is never relayed by the previous release's outbox,
        which would drop what it does not know."""
        outbox = self.functions[m.OUTBOX.name].function
        for spec in m.FUNCTIONS:
            if spec is not m.OUTBOX and m.writes_main_table(spec):
                self.functions[spec.name].function.node.add_dependency(outbox)

    def _function(self, spec: m.Function, layer: lambda_.ILayerVersion) -> None:
        base = _pascal(spec.name)
        function_name = f"{self.prefix}-{spec.name}"
        log_group = logs.LogGroup(
            self,
            f"{base}Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{base}Role",
            description=f"{function_name}: {spec.description}"[:1000],
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )

        environment = {
            "STAGE": self.stage,
            "DEFAULT_COUNTRY": self.default_country,
            "POWERTOOLS_SERVICE_NAME": f"smsdesk-{spec.name}",
            "POWERTOOLS_METRICS_NAMESPACE": "smsdesk",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "MESSAGE_EVENTS": self.message_events,
        }
        assert set(m.COMMON_ENV_NAMES) <= set(environment), "COMMON_ENV_NAMES changed: update the stack"
        for resource in spec.resources:
            environment.update(self._env_values(resource))
        environment.update(spec.env)
        assert set(environment) == set(m.function_env_names(spec)), f"{spec.name}: environment != manifest"

        function = lambda_.Function(
            self,
            f"{base}Function",
            function_name=function_name,
            description=spec.description[:256],
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=lambda_.Code.from_asset(
                str(REPO_ROOT / "functions" / spec.entry), exclude=["__pycache__", "*.pyc", "tests"]
            ),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            environment=environment,
            role=role,
            log_group=log_group,
            reserved_concurrent_executions=spec.reserved_concurrency,
            tracing=lambda_.Tracing.DISABLED,
        )
        for access in spec.access:
            self._grant(spec, role, access)
        deployed = DeployedFunction(spec, function, role, log_group)
        self.functions[spec.name] = deployed

        integration: integrations.HttpLambdaIntegration | None = None
        for trigger in spec.triggers:
            if isinstance(trigger, m.QueueTrigger):
                function.add_event_source(
                    sources.SqsEventSource(
                        self.queues[trigger.queue.name],
                        batch_size=trigger.batch_size,
                        max_batching_window=Duration.seconds(trigger.max_batching_window_s)
                        if trigger.max_batching_window_s
                        else None,
                        max_concurrency=trigger.max_concurrency,
                        report_batch_item_failures=True,
                    )
                )
            elif isinstance(trigger, m.HttpRoute):
                if trigger.local_only:
                    continue
                if integration is None:
                    integration = integrations.HttpLambdaIntegration(f"{base}Integration", function)
                routes = self.api.add_routes(
                    path=trigger.path,
                    methods=[apigw.HttpMethod[trigger.method.upper()]],
                    integration=integration,
                    authorizer=self.authorizer if trigger.authorized else apigw.HttpNoneAuthorizer(),
                )
                if not trigger.authorized:
                    for route in routes:
                        _ack(
                            route,
                            "AwsSolutions-APIG4",
                            f"{trigger.method} {trigger.path} is public by design (manifest authorized=False): "
                            "health/docs are harmless, webhooks verify the provider signature in code.",
                        )
            elif isinstance(trigger, m.BusRule):
                self._bus_rule(deployed, trigger)
            elif isinstance(trigger, m.StreamTrigger):
                self._stream_trigger(deployed, trigger)
            else:  # pragma: no cover
                raise TypeError(f"{spec.name}: unknown trigger {trigger!r}")

        self._alarm(
            f"{base}ErrorsAlarm",
            function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            f"{function_name}: invocation errors",
        )
        self._alarm(
            f"{base}ThrottlesAlarm",
            function.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
            f"{function_name}: throttled invocations",
        )

    def _stream_trigger(self, fn: DeployedFunction, spec: m.StreamTrigger) -> None:
        """The table's stream → the function: in order per item, the first failed record retried (partial
        batch failures), a failing batch bisected, and after ``retry_attempts`` the batch's description
        (shard, sequence numbers) on an alarmed dead-letter queue; the filter keeps records that carry
        nothing to publish from invoking (and billing) the function."""
        base = f"{_pascal(fn.spec.name)}{_pascal(spec.name)}"
        dlq = self._dead_letter_queue_with_alarm(
            f"{base}StreamDlq",
            spec.dlq_name,
            f"on-failure destination of the {spec.table.name} table's stream -> {fn.spec.name} "
            "(batches that kept failing; replay from the stream within 24 h)",
        )
        fn.function.add_event_source(
            sources.DynamoEventSource(
                self.tables[spec.table.name],
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=spec.batch_size,
                max_batching_window=Duration.seconds(spec.max_batching_window_s)
                if spec.max_batching_window_s
                else None,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=spec.retry_attempts,
                max_record_age=Duration.seconds(spec.max_record_age_s),
                parallelization_factor=spec.parallelization_factor,
                on_failure=sources.SqsDlq(dlq),
                filters=[lambda_.FilterCriteria.filter(p) for p in spec.filters] or None,
            )
        )

    def _bus_rule(self, fn: DeployedFunction, spec: m.BusRule) -> None:
        base = f"{_pascal(fn.spec.name)}{_pascal(spec.name)}"
        dlq = self._dead_letter_queue(f"{base}RuleDlq")
        self.dlqs[f"{fn.spec.name}-{spec.name}-dlq"] = dlq
        _ack(
            dlq,
            "AwsSolutions-SQS3",
            "This queue IS a dead-letter queue: of the EventBridge rule target and of the function's "
            "asynchronous invocations (on-failure destination).",
        )
        rule = events.Rule(
            self,
            f"{base}Rule",
            event_bus=self.bus,
            description=f"{self.prefix}: {spec.name} -> {fn.spec.name}",
            # Placeholder; the exact manifest pattern (with prefix matchers) is set on the L1 below.
            event_pattern=events.EventPattern(source=[m.EVENT_BUS.source]),
        )
        rule.node.default_child.add_property_override("EventPattern", spec.pattern())  # type: ignore[union-attr]
        rule.add_target(
            targets.LambdaFunction(
                fn.function,
                dead_letter_queue=dlq,
                retry_attempts=RULE_RETRY_ATTEMPTS,
                max_event_age=RULE_MAX_EVENT_AGE,
            )
        )
        # Events that reach Lambda but fail in the handler (after Lambda's own 2 retries) land here too.
        fn.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(dlq),
        )
        self._alarm(
            f"{base}RuleDlqAlarm",
            dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
            f"{self.prefix}: undeliverable/failed events of rule {spec.name} -> {fn.spec.name}",
        )

    # ---------------------------------------------------------------------------------------------
    # Dashboard
    # ---------------------------------------------------------------------------------------------

    def _app_metric(self, name: str) -> cw.Metric:
        return cw.Metric(
            namespace=APP_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": APP_METRICS_SERVICE},
            statistic="Sum",
            period=DASHBOARD_PERIOD,
            label=name,
        )

    def _dashboard(self) -> None:
        """One dashboard for the stage: traffic first, then queues, functions, API and tables."""
        period = DASHBOARD_PERIOD
        wide, half = 24, 12
        rows: list[list[cw.IWidget]] = [
            [
                cw.GraphWidget(title=title, left=[self._app_metric(n) for n in names], width=half, height=6)
                for title, names in DASHBOARD_APP_METRICS.items()
            ],
            [
                cw.GraphWidget(
                    title="Queue depth (visible messages)",
                    left=[
                        q.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum", label=n)
                        for n, q in self.queues.items()
                    ],
                    width=half,
                    height=6,
                ),
                cw.GraphWidget(
                    title="Queue age (oldest message, s)",
                    left=[
                        q.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum", label=n)
                        for n, q in self.queues.items()
                    ],
                    left_annotations=[
                        cw.HorizontalAnnotation(value=q.age_alarm_s, label=f"{q.name} age alarm")
                        for q in m.QUEUES
                        if q.age_alarm_s is not None
                    ],
                    width=half,
                    height=6,
                ),
            ],
            [
                cw.GraphWidget(
                    title="Dead-letter queues (visible messages)",
                    left=[
                        q.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum", label=n)
                        for n, q in self.dlqs.items()
                    ],
                    width=half,
                    height=6,
                ),
                cw.GraphWidget(
                    title="Lambda errors per function",
                    left=[
                        d.function.metric_errors(period=period, statistic="Sum", label=n)
                        for n, d in self.functions.items()
                    ],
                    width=half,
                    height=6,
                ),
            ],
            [
                cw.GraphWidget(
                    title="API requests and errors",
                    left=[
                        self.api.metric_count(period=period, statistic="Sum", label="requests"),
                        self.api.metric_client_error(period=period, statistic="Sum", label="4xx"),
                        self.api.metric_server_error(period=period, statistic="Sum", label="5xx"),
                    ],
                    width=half,
                    height=6,
                ),
                cw.GraphWidget(
                    title="API latency (ms)",
                    left=[
                        self.api.metric_latency(period=period, statistic="p50", label="latency p50"),
                        self.api.metric_latency(period=period, statistic="p99", label="latency p99"),
                        self.api.metric_integration_latency(period=period, statistic="p99", label="integration p99"),
                    ],
                    width=half,
                    height=6,
                ),
            ],
            [
                cw.GraphWidget(
                    title="Lambda throttles per function",
                    left=[
                        d.function.metric_throttles(period=period, statistic="Sum", label=n)
                        for n, d in self.functions.items()
                    ],
                    width=half,
                    height=6,
                ),
                cw.GraphWidget(
                    title="DynamoDB throttle events",
                    left=[self._table_throttles(t) for t in m.TABLES],
                    width=half,
                    height=6,
                ),
            ],
            [cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=wide, height=6)],
        ]
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self.prefix,
            default_interval=Duration.hours(6),
            widgets=rows,
        )

    # ---------------------------------------------------------------------------------------------
    # Outputs
    # ---------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        url = self.api_stage.url  # ends with "/"
        CfnOutput(self, "ApiUrl", value=url, description="HTTP API base URL (management API under v1/)")
        CfnOutput(self, "WebhookBaseUrl", value=f"{url}webhooks/", description="Provider webhooks base URL")
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.user_pool_client.user_pool_client_id)
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.prefix, description="CloudWatch dashboard of the stage")
        CfnOutput(self, "EventBusName", value=self.bus.event_bus_name)
        CfnOutput(self, "SecretsPrefix", value=self.secrets_prefix)
        for name, topic in self.topics.items():
            CfnOutput(
                self,
                f"{_pascal(name)}TopicArn",
                value=topic.topic_arn,
                description=f"SNS topic {name}: configure it in AWS End User Messaging SMS",
            )
