"""The CDK stack, checked against the manifest (synthesized ONCE per module; bundling skipped).

Also: cdk-nag (AwsSolutions) passes on the stack and does fail on an unacknowledged finding, and the
layer's local bundler is wired to the lock and the runtime (the build itself: tests/unit/test_layer_build.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# jsii (aws-cdk-lib's JavaScript bridge) prints a banner on end-of-life Node versions; set before import.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from aws_cdk import App, Stack, Validations  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from aws_cdk import aws_sqs as sqs  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra import layer as layer_mod  # noqa: E402
from infra.app import build, cdk_json_context, parameters  # noqa: E402
from infra.stack import RUNTIME, SmsdeskStack  # noqa: E402
from smsdesk import manifest as m  # noqa: E402

pytestmark = pytest.mark.cdk

STAGE = "ci"
ALARM_EMAIL = "ops@example.com"
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


# --------------------------------------------------------------------------------------------------
# Fixtures: one synth for the module
# --------------------------------------------------------------------------------------------------


class Synth:
    def __init__(self, stack: SmsdeskStack, template: Template, outdir: Path) -> None:
        self.stack = stack
        self.template = template
        self.json: dict = template.to_json()
        self.resources: dict = self.json["Resources"]
        self.outdir = outdir

    def lid(self, construct) -> str:
        """Logical ID of a construct's CloudFormation resource."""
        return self.stack.get_logical_id(construct.node.default_child)

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def policy_statements(self, role_construct) -> list[dict]:
        """Every statement of every AWS::IAM::Policy attached to the role."""
        role_lid = self.lid(role_construct)
        out: list[dict] = []
        for res in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_lid} in res["Properties"]["Roles"]:
                out.extend(res["Properties"]["PolicyDocument"]["Statement"])
        return out


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {**cdk_json_context(), **NO_BUNDLING, "stage": STAGE, "alarmEmail": ALARM_EMAIL}
    app = App(context=context, outdir=str(outdir))
    stack = build(app, nag=True)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return Synth(stack, Template.from_stack(stack), outdir)


def _actions(statement: dict) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else list(a)


def _resources(statement: dict) -> list:
    r = statement["Resource"]
    return r if isinstance(r, list) else [r]


def _getatt(lid: str, attr: str = "Arn") -> dict:
    return {"Fn::GetAtt": [lid, attr]}


# --------------------------------------------------------------------------------------------------
# cdk-nag
# --------------------------------------------------------------------------------------------------


def test_cdk_nag_passes(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    violations = [v for p in report["pluginReports"] for v in p.get("violations", [])]
    assert violations == []


def test_cdk_nag_passes_when_pinned_to_a_region(tmp_path: Path) -> None:
    """The CDK CLI sets CDK_DEFAULT_REGION: ARNs then carry literal regions (other IAM5 finding ids)."""
    app = App(context={**cdk_json_context(), **NO_BUNDLING, "region": "eu-central-1"}, outdir=str(tmp_path))
    stack = build(app, nag=True)
    app.synth()
    assert stack.region == "eu-central-1"
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p.get("violations", [])] == []


def test_cdk_nag_fails_on_unacknowledged_finding(tmp_path: Path) -> None:
    app = App(context=NO_BUNDLING, outdir=str(tmp_path))
    stack = Stack(app, "NagProbe")
    sqs.Queue(stack, "Plain", enforce_ssl=False)  # SQS3 (no DLQ) + SQS4 (no TLS enforcement)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-SQS4" in rules


# --------------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------------


def test_stack_name_and_parameters(synth: Synth) -> None:
    assert synth.stack.stack_name == f"smsdesk-{STAGE}"
    synth.template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": ALARM_EMAIL})


def test_parameter_defaults_and_validation() -> None:
    p = parameters(App(context={}))
    assert p["stage"] == "dev" and p["default_country"] == "NL" and p["alarm_email"] is None
    assert parameters(App(context={"defaultCountry": "be"}))["default_country"] == "BE"
    assert parameters(App(context={"region": "eu-west-1"}))["region"] == "eu-west-1"
    for bad in ({"stage": "Prod"}, {"stage": "1x"}, {"defaultCountry": "NLD"}, {"alarmEmail": "nope"}):
        with pytest.raises(ValueError):
            parameters(App(context=bad))


def test_message_events_parameter() -> None:
    """MESSAGE_EVENTS (issue 11): ``final`` unless the context says ``all`` or ``conversations``."""
    assert parameters(App(context={}))["message_events"] == "final"
    assert cdk_json_context()["messageEvents"] == "final"
    assert parameters(App(context={"messageEvents": "All"}))["message_events"] == "all"
    assert parameters(App(context={"messageEvents": "conversations"}))["message_events"] == "conversations"
    with pytest.raises(ValueError, match="messageEvents"):
        parameters(App(context={"messageEvents": "some"}))


# --------------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", m.TABLES, ids=lambda t: t.name)
def test_table(synth: Synth, spec: m.Table) -> None:
    res = synth.resources[synth.lid(synth.stack.tables[spec.name])]
    assert res["Type"] == "AWS::DynamoDB::GlobalTable"
    assert res["DeletionPolicy"] == "Retain" and res["UpdateReplacePolicy"] == "Retain"
    props = res["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    key = [{"AttributeName": spec.pk, "KeyType": "HASH"}]
    if spec.sk:
        key.append({"AttributeName": spec.sk, "KeyType": "RANGE"})
    assert props["KeySchema"] == key
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    if spec.stream:
        assert props["StreamSpecification"] == {"StreamViewType": spec.stream}
    else:
        assert "StreamSpecification" not in props
    gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
    assert set(gsis) == {g.name for g in spec.gsis}
    for g in spec.gsis:
        assert gsis[g.name]["KeySchema"] == [
            {"AttributeName": g.pk, "KeyType": "HASH"},
            {"AttributeName": g.sk, "KeyType": "RANGE"},
        ]
        assert gsis[g.name]["Projection"] == {"ProjectionType": "ALL"}


# --------------------------------------------------------------------------------------------------
# SQS and SNS
# --------------------------------------------------------------------------------------------------


def _enforces_ssl(synth: Synth, queue_lid: str) -> bool:
    for res in synth.of_type("AWS::SQS::QueuePolicy").values():
        if {"Ref": queue_lid} not in res["Properties"]["Queues"]:
            continue
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Deny" and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                return True
    return False


@pytest.mark.parametrize("spec", m.QUEUES, ids=lambda q: q.name)
def test_queue_has_dlq_and_enforces_tls(synth: Synth, spec: m.Queue) -> None:
    q_lid = synth.lid(synth.stack.queues[spec.name])
    dlq_lid = synth.lid(synth.stack.dlqs[spec.dlq_name])
    props = synth.resources[q_lid]["Properties"]
    assert props["VisibilityTimeout"] == spec.visibility_timeout_s
    assert props["MessageRetentionPeriod"] == spec.retention_days * 86400
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": _getatt(dlq_lid),
        "maxReceiveCount": spec.max_receive_count,
    }
    dlq = synth.resources[dlq_lid]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert dlq["SqsManagedSseEnabled"] is True
    assert _enforces_ssl(synth, q_lid) and _enforces_ssl(synth, dlq_lid)


def test_every_queue_in_the_stack_enforces_tls(synth: Synth) -> None:
    for lid in synth.of_type("AWS::SQS::Queue"):
        assert _enforces_ssl(synth, lid), lid


@pytest.mark.parametrize("spec", m.BUCKETS, ids=lambda b: b.name)
def test_bucket_private_encrypted_expiring_and_notifying(synth: Synth, spec: m.Bucket) -> None:
    b_lid = synth.lid(synth.stack.buckets[spec.name])
    props = synth.resources[b_lid]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == spec.expire_days and rule["Status"] == "Enabled"
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"] and "*" not in json.dumps(cors["AllowedOrigins"])
    policies = [
        r for r in synth.of_type("AWS::S3::BucketPolicy").values() if r["Properties"]["Bucket"] == {"Ref": b_lid}
    ]
    assert any(
        st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for p in policies
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    )
    if spec.notify_queue:
        q_lid = synth.lid(synth.stack.queues[spec.notify_queue])
        (conf,) = props["NotificationConfiguration"]["QueueConfigurations"]
        assert conf["Event"] == "s3:ObjectCreated:*" and conf["Queue"] == _getatt(q_lid)
        assert conf["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": spec.notify_prefix}]
        queue_policies = [
            (lid, r)
            for lid, r in synth.of_type("AWS::SQS::QueuePolicy").items()
            if {"Ref": q_lid} in r["Properties"]["Queues"]
        ]
        s3_statements = [
            st
            for _, r in queue_policies
            for st in r["Properties"]["PolicyDocument"]["Statement"]
            if st.get("Principal") == {"Service": "s3.amazonaws.com"}
        ]
        assert len(s3_statements) == 1 and s3_statements[0]["Action"] == "sqs:SendMessage"
        assert "aws:SourceArn" in s3_statements[0]["Condition"]["ArnLike"]
        # the queue accepts S3's messages before the bucket (which checks its destination) is created
        assert {lid for lid, _ in queue_policies} <= set(synth.resources[b_lid].get("DependsOn", []))


@pytest.mark.parametrize("spec", m.TOPICS, ids=lambda t: t.name)
def test_topic_encrypted_and_subscribed(synth: Synth, spec: m.Topic) -> None:
    t_lid = synth.lid(synth.stack.topics[spec.name])
    assert "KmsMasterKeyId" in synth.resources[t_lid]["Properties"]
    for name in spec.subscribers:
        synth.template.has_resource_properties(
            "AWS::SNS::Subscription",
            {
                "Protocol": "sqs",
                "RawMessageDelivery": True,
                "TopicArn": {"Ref": t_lid},
                "Endpoint": _getatt(synth.lid(synth.stack.queues[name])),
            },
        )
    synth.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": t_lid}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like({"Effect": "Allow", "Principal": {"Service": "sms-voice.amazonaws.com"}}),
                    ]
                )
            },
        },
    )


# --------------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------------


def _expected_env_names(fn: m.Function) -> set[str]:
    names = {*m.COMMON_ENV_NAMES, "POWERTOOLS_LOG_LEVEL", *fn.env}
    for resource in fn.resources:
        names.update(m.env_names(resource))
    return names


@pytest.mark.parametrize("fn", m.FUNCTIONS, ids=lambda f: f.name)
def test_function(synth: Synth, fn: m.Function) -> None:
    deployed = synth.stack.functions[fn.name]
    props = synth.resources[synth.lid(deployed.function)]["Properties"]
    assert props["FunctionName"] == f"smsdesk-{STAGE}-{fn.name}"
    assert props["Runtime"] == RUNTIME.name == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == fn.handler
    assert props["MemorySize"] == fn.memory_mb
    assert props["Timeout"] == fn.timeout_s
    assert len(props["Layers"]) == 1
    assert props["Role"] == _getatt(synth.lid(deployed.role))
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": synth.lid(deployed.log_group)}}
    assert "TracingConfig" not in props or props["TracingConfig"] == {"Mode": "PassThrough"}
    env = props["Environment"]["Variables"]
    assert set(env) == _expected_env_names(fn)
    assert env["STAGE"] == STAGE and env["DEFAULT_COUNTRY"] == "NL" and env["MESSAGE_EVENTS"] == "final"
    assert env["POWERTOOLS_SERVICE_NAME"] == f"smsdesk-{fn.name}"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "smsdesk"
    if m.PROVIDER_SECRETS in fn.resources:
        assert env[m.PROVIDER_SECRETS.env] == f"smsdesk/{STAGE}/providers/"
    if fn.reserved_concurrency is None:
        assert "ReservedConcurrentExecutions" not in props
    else:
        assert props["ReservedConcurrentExecutions"] == fn.reserved_concurrency
    log_group = synth.resources[synth.lid(deployed.log_group)]["Properties"]
    assert log_group["LogGroupName"] == f"/aws/lambda/smsdesk-{STAGE}-{fn.name}"
    assert log_group["RetentionInDays"] == 30


def test_functions_writing_the_table_are_updated_after_the_outbox(synth: Synth) -> None:
    """A release's new announcement (an ``ob`` kind) must never be relayed by the previous release's
    outbox: every function that writes the main table depends on the outbox function."""
    outbox = synth.lid(synth.stack.functions[m.OUTBOX.name].function)
    writers = {f.name for f in m.FUNCTIONS if f is not m.OUTBOX and m.writes_main_table(f)}
    assert {"api", "sender", "webhooks", "fanout", "receipts"} <= writers
    for fn in m.FUNCTIONS:
        depends = synth.resources[synth.lid(synth.stack.functions[fn.name].function)].get("DependsOn", [])
        assert (outbox in depends) == (fn.name in writers), fn.name


def test_no_managed_policies_and_no_star_resources(synth: Synth) -> None:
    for lid, role in synth.of_type("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], lid
    for lid, policy in synth.of_type("AWS::IAM::Policy").items():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "*" not in _resources(st), (lid, st)
            assert not any(a.endswith(":*") or a == "*" for a in _actions(st)), (lid, st)


SQS_CONSUME_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}

SQS_DESTINATION_ACTIONS = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
STREAM_READ_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


@pytest.mark.parametrize("fn", m.FUNCTIONS, ids=lambda f: f.name)
def test_each_role_grants_exactly_its_manifest_entry(synth: Synth, fn: m.Function) -> None:
    """The role is the manifest entry: per access, its ``iam_actions`` on that resource and nothing else
    (the same table the local stack enforces), plus writing to its own log group."""
    stack = synth.stack
    statements = synth.policy_statements(stack.functions[fn.name].role)
    expected = {"logs:CreateLogStream", "logs:PutLogEvents"}
    trigger_queues = {t.queue.name for t in fn.triggers if isinstance(t, m.QueueTrigger)}
    if trigger_queues:
        expected |= SQS_CONSUME_ACTIONS  # the event source mapping's, on the trigger queue only
    if any(isinstance(t, m.BusRule) for t in fn.triggers):
        expected |= SQS_DESTINATION_ACTIONS  # the async invocation's on-failure destination (the rule's DLQ)
    for t in (t for t in fn.triggers if isinstance(t, m.StreamTrigger)):
        expected |= STREAM_READ_ACTIONS | SQS_DESTINATION_ACTIONS  # the stream mapping's, and its on-failure DLQ
        stream = _getatt(synth.lid(stack.tables[t.table.name]), "StreamArn")
        assert {a for st in statements if stream in _resources(st) for a in _actions(st)} == STREAM_READ_ACTIONS
        dlq = _getatt(synth.lid(stack.dlqs[t.dlq_name]))
        assert {a for st in statements if dlq in _resources(st) for a in _actions(st)} == SQS_DESTINATION_ACTIONS
    for access in fn.access:
        expected |= set(access.iam_actions)
        r = access.resource
        construct = {
            m.Table: lambda r: stack.tables[r.name],
            m.Queue: lambda r: stack.queues[r.name],
            m.Bus: lambda r: stack.bus,
            m.UserPool: lambda r: stack.user_pool,
        }.get(type(r))
        if construct is not None:
            arn = _getatt(synth.lid(construct(r)))
            on = {a for st in statements if arn in _resources(st) for a in _actions(st)}
            consumed = SQS_CONSUME_ACTIONS if r.name in trigger_queues and isinstance(r, m.Queue) else set()
            assert on == set(access.iam_actions) | consumed, (fn.name, r.name)
        elif isinstance(r, m.ScheduleGroup):
            passrole = [st for st in statements if "iam:PassRole" in _actions(st)]
            assert passrole == [
                {
                    "Action": "iam:PassRole",
                    "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                    "Effect": "Allow",
                    "Resource": _getatt(synth.lid(stack.scheduler_role)),
                }
            ]
            sched = [st for st in statements if "scheduler:CreateSchedule" in _actions(st)]
            assert len(sched) == 1
            assert f":schedule/smsdesk-{STAGE}-{m.SCHEDULE_GROUP.name}/*" in json.dumps(sched[0]["Resource"])
        elif isinstance(r, m.SecretsPrefix):
            (st,) = [s for s in statements if "secretsmanager:GetSecretValue" in _actions(s)]
            assert f":secret:smsdesk/{STAGE}/providers/*" in json.dumps(st["Resource"])
            assert set(_actions(st)) == set(access.iam_actions)
        elif isinstance(r, m.Bucket):
            # the objects under the bucket's prefix only; every access of the function to this bucket
            bucket = _getatt(synth.lid(stack.buckets[r.name]))
            objects = {"Fn::Join": ["", [bucket, f"/{r.notify_prefix}*"]]}
            on = {a for s in statements if objects in _resources(s) for a in _actions(s)}
            assert on == {a for x in fn.access if x.resource == r for a in x.iam_actions}, (fn.name, r.name)
        elif isinstance(r, m.SmsOriginations):
            (st,) = [s for s in statements if "sms-voice:SendTextMessage" in _actions(s)]
            assert ":sms-voice:" in json.dumps(st["Resource"]) and ":phone-number/*" in json.dumps(st["Resource"])
    granted = {a for st in statements for a in _actions(st)}
    assert granted == expected


def test_the_grants_the_deployed_features_need(synth: Synth) -> None:
    """What issue 10 found missing in a deployed stack: the notifier's PutEvents (and its bus name), the
    aws_sms connector's SendTextMessage, the user-creation rollback's AdminDeleteUser."""
    stack = synth.stack

    def actions(name: str) -> set[str]:
        return {a for st in synth.policy_statements(stack.functions[name].role) for a in _actions(st)}

    assert "events:PutEvents" in actions("notifier")
    env = synth.resources[synth.lid(stack.functions["notifier"].function)]["Properties"]["Environment"]["Variables"]
    assert m.EVENT_BUS.env in env
    assert "sms-voice:SendTextMessage" in actions("sender")
    assert "cognito-idp:AdminDeleteUser" in actions("api")


# --------------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------------

QUEUE_TRIGGERS = [(fn, t) for fn in m.FUNCTIONS for t in fn.triggers if isinstance(t, m.QueueTrigger)]
HTTP_ROUTES = [(fn, t) for fn in m.FUNCTIONS for t in fn.triggers if isinstance(t, m.HttpRoute) and not t.local_only]
LOCAL_ONLY_ROUTES = [t for fn in m.FUNCTIONS for t in fn.triggers if isinstance(t, m.HttpRoute) and t.local_only]
BUS_RULES = [(fn, t) for fn in m.FUNCTIONS for t in fn.triggers if isinstance(t, m.BusRule)]


@pytest.mark.parametrize(("fn", "trigger"), QUEUE_TRIGGERS, ids=lambda x: getattr(x, "name", ""))
def test_queue_trigger(synth: Synth, fn: m.Function, trigger: m.QueueTrigger) -> None:
    expected: dict = {
        "FunctionName": {"Ref": synth.lid(synth.stack.functions[fn.name].function)},
        "EventSourceArn": _getatt(synth.lid(synth.stack.queues[trigger.queue.name])),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BatchSize": trigger.batch_size,
        "ScalingConfig": {"MaximumConcurrency": trigger.max_concurrency} if trigger.max_concurrency else Match.absent(),
        "MaximumBatchingWindowInSeconds": trigger.max_batching_window_s
        if trigger.max_batching_window_s
        else Match.absent(),
    }
    synth.template.has_resource_properties("AWS::Lambda::EventSourceMapping", expected)


STREAM_TRIGGERS = [(fn, t) for fn in m.FUNCTIONS for t in fn.triggers if isinstance(t, m.StreamTrigger)]


@pytest.mark.parametrize(("fn", "trigger"), STREAM_TRIGGERS, ids=lambda x: getattr(x, "name", ""))
def test_stream_trigger(synth: Synth, fn: m.Function, trigger: m.StreamTrigger) -> None:
    """The outbox's mapping: in order, partial failures, bisect, bounded retries, an on-failure DLQ with an
    alarm, and the filter that keeps writes with nothing to publish from invoking the function."""
    stack = synth.stack
    dlq = stack.dlqs[trigger.dlq_name]
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": synth.lid(stack.functions[fn.name].function)},
            "EventSourceArn": _getatt(synth.lid(stack.tables[trigger.table.name]), "StreamArn"),
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": trigger.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": trigger.retry_attempts,
            "MaximumRecordAgeInSeconds": trigger.max_record_age_s,
            "ParallelizationFactor": trigger.parallelization_factor,
            "DestinationConfig": {"OnFailure": {"Destination": _getatt(synth.lid(dlq))}},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps(p, separators=(",", ":"))} for p in trigger.filters]},
        },
    )
    assert trigger.table.stream == "NEW_AND_OLD_IMAGES"  # the outbox compares the old image's entry


def test_one_event_source_mapping_per_queue_and_stream_trigger(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Lambda::EventSourceMapping", len(QUEUE_TRIGGERS) + len(STREAM_TRIGGERS))


def test_local_only_routes_are_not_deployed(synth: Synth) -> None:
    assert LOCAL_ONLY_ROUTES, "the sandbox routes are local-only"
    keys = {r["Properties"]["RouteKey"] for r in synth.of_type("AWS::ApiGatewayV2::Route").values()}
    assert keys == {f"{t.method} {t.path}" for _, t in HTTP_ROUTES}


@pytest.mark.parametrize(("fn", "route"), HTTP_ROUTES, ids=lambda x: getattr(x, "path", getattr(x, "name", "")))
def test_http_route(synth: Synth, fn: m.Function, route: m.HttpRoute) -> None:
    routes = [
        r["Properties"]
        for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["RouteKey"] == f"{route.method} {route.path}"
    ]
    assert len(routes) == 1
    props = routes[0]
    if route.authorized:
        assert props["AuthorizationType"] == "JWT"
        assert "AuthorizerId" in props
    else:
        assert props["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in props
    integration_lid = props["Target"]["Fn::Join"][1][1]["Ref"]
    uri = synth.resources[integration_lid]["Properties"]["IntegrationUri"]
    assert uri == _getatt(synth.lid(synth.stack.functions[fn.name].function))
    assert synth.resources[integration_lid]["Properties"]["PayloadFormatVersion"] == "2.0"


def test_http_api_authorizer_stage_and_outputs(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::ApiGatewayV2::Route", len(HTTP_ROUTES))
    synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {
                "Audience": [{"Ref": synth.lid(synth.stack.user_pool_client)}],
                "Issuer": Match.any_value(),
            },
        },
    )
    synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp(r"^\{.*\}$")},
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": Match.any_value(),
                "ThrottlingRateLimit": Match.any_value(),
            },
        },
    )
    fmt = synth.of_type("AWS::ApiGatewayV2::Stage").popitem()[1]["Properties"]["AccessLogSettings"]["Format"]
    json.loads(fmt.replace("$context.", "ctx_"))  # valid JSON
    assert {"ApiUrl", "WebhookBaseUrl", "UserPoolId", "UserPoolClientId"} <= set(synth.json["Outputs"])


@pytest.mark.parametrize(("fn", "rule"), BUS_RULES, ids=lambda x: getattr(x, "name", ""))
def test_bus_rule(synth: Synth, fn: m.Function, rule: m.BusRule) -> None:
    rules = [
        r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"] == rule.pattern()
    ]
    assert len(rules) == 1, f"no rule with pattern {rule.pattern()}"
    props = rules[0]
    assert props["EventBusName"] == {"Ref": synth.lid(synth.stack.bus)}
    (target,) = props["Targets"]
    assert target["Arn"] == _getatt(synth.lid(synth.stack.functions[fn.name].function))
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_rule_count(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::Events::Rule", len(BUS_RULES))


# --------------------------------------------------------------------------------------------------
# Scheduler, Cognito, alarms
# --------------------------------------------------------------------------------------------------


def test_scheduler_role_only_sends_to_target_queue_and_its_dlq(synth: Synth) -> None:
    stack = synth.stack
    role = synth.resources[synth.lid(stack.scheduler_role)]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    target = synth.lid(stack.queues[m.SCHEDULE_GROUP.target_queue])
    dlq = synth.lid(stack.schedule_dlq)  # Scheduler sends what it cannot deliver to its dead-letter queue
    others = [_getatt(synth.lid(stack.queues[q])) for q in m.SCHEDULE_GROUP.other_targets]  # campaigns: bulk
    assert synth.policy_statements(stack.scheduler_role) == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": sorted([_getatt(dlq), _getatt(target), *others], key=str),
        }
    ]
    synth.template.has_resource_properties(
        "AWS::Scheduler::ScheduleGroup", {"Name": f"smsdesk-{STAGE}-{m.SCHEDULE_GROUP.name}"}
    )


def test_user_pool(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "UsernameAttributes": ["email"],
            "MfaConfiguration": Match.any_value(),
            "Policies": {"PasswordPolicy": Match.object_like({"MinimumLength": 12, "RequireSymbols": True})},
        },
    )
    pool = synth.of_type("AWS::Cognito::UserPool").popitem()[1]
    assert pool["DeletionPolicy"] == "Retain"
    groups = {g["Properties"]["GroupName"] for g in synth.of_type("AWS::Cognito::UserPoolGroup").values()}
    assert groups == set(m.USER_POOL.groups)
    client = synth.resources[synth.lid(synth.stack.user_pool_client)]["Properties"]
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",  # the web app's sign-in
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


def _alarm_dimensions(synth: Synth, metric: str) -> list:
    out = []
    for alarm in synth.of_type("AWS::CloudWatch::Alarm").values():
        p = alarm["Properties"]
        if p.get("MetricName") == metric:
            assert p["AlarmActions"] == [{"Ref": synth.lid(synth.stack.alarm_topic)}]
            assert p["Threshold"] == 1 and p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            out.append(p["Dimensions"])
    return out


def test_alarm_per_dlq(synth: Synth) -> None:
    dims = _alarm_dimensions(synth, "ApproximateNumberOfMessagesVisible")
    assert {q.dlq_name for q in m.QUEUES} <= set(synth.stack.dlqs)
    for dlq in synth.stack.dlqs.values():
        assert [{"Name": "QueueName", "Value": _getatt(synth.lid(dlq), "QueueName")}] in dims


def test_alarm_per_function(synth: Synth) -> None:
    errors = _alarm_dimensions(synth, "Errors")
    for fn in m.FUNCTIONS:
        ref = {"Ref": synth.lid(synth.stack.functions[fn.name].function)}
        assert [{"Name": "FunctionName", "Value": ref}] in errors, fn.name


def test_alarm_topic_encrypted(synth: Synth) -> None:
    props = synth.resources[synth.lid(synth.stack.alarm_topic)]["Properties"]
    assert "KmsMasterKeyId" in props


# --------------------------------------------------------------------------------------------------
# Layer bundler (unit; the build itself is tested in tests/unit/test_layer_build.py)
# --------------------------------------------------------------------------------------------------


def test_layer_is_built_from_the_lock_for_the_runtime(monkeypatch) -> None:
    from infra import layer_build

    assert layer_mod.python_version(lambda_.Runtime.PYTHON_3_14) == "3.14"
    assert layer_mod.pip_platform(lambda_.Architecture.ARM_64) == "manylinux2014_aarch64"
    # the lock is resolved for the Python version the functions run
    assert layer_build.read_lock().python_version == layer_mod.python_version(RUNTIME)
    shared = layer_mod.SharedLayer(Stack(App()), "L", runtime=RUNTIME, architecture=lambda_.Architecture.ARM_64)
    bundler = shared.bundler
    assert (bundler.platform, bundler.py_version, bundler.lock_path) == (
        "manylinux2014_aarch64",
        layer_mod.python_version(RUNTIME),
        layer_build.LOCK,
    )
    assert shared.asset_hash == layer_build.asset_hash(
        layer_build.LOCK.read_text(), "manylinux2014_aarch64", layer_mod.python_version(RUNTIME), bundler.source
    )
    calls: list[tuple] = []
    monkeypatch.setattr(layer_mod, "build_layer", lambda out, **kw: calls.append((out, kw)))
    assert bundler.try_bundle("/out") is True
    assert calls == [
        (
            "/out",
            {
                "lock_path": layer_build.LOCK,
                "platform": "manylinux2014_aarch64",
                "py_version": layer_mod.python_version(RUNTIME),
                "source": bundler.source,
            },
        )
    ]


def test_campaign_outcomes_reach_fanout_from_their_queue_and_no_bus_rule(synth: Synth) -> None:
    """A campaign's counts depend on no bus event: no rule invokes the ``fanout`` function; its second
    event source mapping is the ``campaign-results`` queue, in batches, which the outbox may send to."""
    fanout = _getatt(synth.lid(synth.stack.functions["fanout"].function))
    targets = [t["Arn"] for r in synth.of_type("AWS::Events::Rule").values() for t in r["Properties"]["Targets"]]
    assert fanout not in targets
    queue = _getatt(synth.lid(synth.stack.queues["campaign-results"]))
    (mapping,) = [
        r["Properties"]
        for r in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if r["Properties"].get("EventSourceArn") == queue
    ]
    assert mapping["FunctionName"] == {"Ref": synth.lid(synth.stack.functions["fanout"].function)}
    assert mapping["BatchSize"] >= 10 and mapping["MaximumBatchingWindowInSeconds"] >= 1
    sends = [s for s in synth.policy_statements(synth.stack.functions["outbox"].role) if queue in _list(s["Resource"])]
    assert sends and all(_list(s["Action"]) == ["sqs:SendMessage"] for s in sends)


def _list(value: object) -> list:
    return value if isinstance(value, list) else [value]
