"""The local stack's IAM check: which actions and resources a call needs, and whether a manifest entry
grants them (pure: no moto)."""

from __future__ import annotations

import dataclasses

import pytest

from smsdesk import manifest as m
from smsdesk.local.iam import AccessChecker, allows
from smsdesk.local.resources import LocalResources, QueueRef

Q = "http://localhost/123456789012/smsdesk-local-outbound"


def resources() -> LocalResources:
    r = LocalResources(region="eu-west-1")
    r.tables = {"main": "smsdesk-local-main", "idempotency": "smsdesk-local-idempotency"}
    r.queues = {"outbound": QueueRef("outbound", Q, "arn:q", Q + "-dlq", "arn:dlq")}
    r.bus_name = "smsdesk-local-events"
    r.schedule_group = "smsdesk-local-timers"
    r.scheduler_role_arn = "arn:aws:iam::123456789012:role/scheduler"
    r.user_pool_id = "eu-west-1_abc"
    return r


@pytest.fixture
def checker() -> AccessChecker:
    return AccessChecker(resources())


def test_a_transaction_needs_each_items_own_action(checker: AccessChecker) -> None:
    needs = checker.needs(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "smsdesk-local-main"}},
                {"Update": {"TableName": "smsdesk-local-main"}},
                {"ConditionCheck": {"TableName": "smsdesk-local-idempotency"}},
                {"Update": {"TableName": "smsdesk-local-main"}},
            ]
        },
    )
    assert needs == [
        ("dynamodb:PutItem", m.MAIN_TABLE, "smsdesk-local-main"),
        ("dynamodb:UpdateItem", m.MAIN_TABLE, "smsdesk-local-main"),
        ("dynamodb:ConditionCheckItem", m.IDEMPOTENCY_TABLE, "smsdesk-local-idempotency"),
    ]
    webhooks = m.function("webhooks")  # reads the main table; its one write: a final receipt's UpdateItem
    assert allows(m.function("api"), "dynamodb:PutItem", m.MAIN_TABLE)
    assert not allows(webhooks, "dynamodb:PutItem", m.MAIN_TABLE)
    assert not allows(webhooks, "dynamodb:DeleteItem", m.MAIN_TABLE)
    assert allows(webhooks, "dynamodb:UpdateItem", m.MAIN_TABLE)
    assert allows(webhooks, "dynamodb:ConditionCheckItem", m.MAIN_TABLE)


def test_batches_schedules_and_unknown_resources(checker: AccessChecker) -> None:
    assert checker.needs("sqs", "SendMessageBatch", {"QueueUrl": Q}) == [("sqs:SendMessage", m.OUTBOUND_QUEUE, Q)]
    assert checker.needs("sqs", "SendMessage", {"QueueUrl": Q + "-dlq"}) == [("sqs:SendMessage", None, Q + "-dlq")]
    create = checker.needs(
        "scheduler",
        "CreateSchedule",
        {"GroupName": "smsdesk-local-timers", "Target": {"RoleArn": "arn:aws:iam::123456789012:role/scheduler"}},
    )
    assert [(a, r) for a, r, _ in create] == [
        ("scheduler:CreateSchedule", m.SCHEDULE_GROUP),
        ("iam:PassRole", m.SCHEDULE_GROUP),
    ]
    assert checker.needs("events", "PutEvents", {"Entries": [{"EventBusName": "default"}]})[0][1] is None
    assert checker.needs("sms-voice", "SendTextMessage", {})[0][:2] == ("sms-voice:SendTextMessage", m.SMS_ORIGINATIONS)
    assert checker.needs("cognito-idp", "AdminDeleteUser", {"UserPoolId": "other"})[0][1] is None


def test_grants_are_the_manifest_entry_and_nothing_more() -> None:
    notifier = m.function("notifier")
    assert allows(notifier, "events:PutEvents", m.EVENT_BUS)
    assert not allows(notifier, "sqs:SendMessage", m.OUTBOUND_QUEUE)
    without_bus = dataclasses.replace(notifier, access=tuple(a for a in notifier.access if a.resource != m.EVENT_BUS))
    assert not allows(without_bus, "events:PutEvents", m.EVENT_BUS)
    assert allows(m.function("sender"), "sms-voice:SendTextMessage", m.SMS_ORIGINATIONS)
    assert not allows(m.function("api"), "sms-voice:SendTextMessage", m.SMS_ORIGINATIONS)
    assert allows(m.function("api"), "cognito-idp:AdminDeleteUser", m.USER_POOL)


def test_an_access_level_that_makes_no_sense_is_refused_at_import() -> None:
    with pytest.raises(ValueError, match="makes no sense"):
        m.Access(m.OUTBOUND_QUEUE, "read_write")


def test_uploads_bucket_objects_and_presigned_posts() -> None:
    import boto3
    from botocore.exceptions import ClientError

    from smsdesk.local import isolation

    res = resources()
    res.buckets = {"uploads": "smsdesk-local-uploads"}
    checker = AccessChecker(res)
    bucket = "smsdesk-local-uploads"
    assert checker.needs("s3", "GetObject", {"Bucket": bucket, "Key": "imports/x.csv"}) == [
        ("s3:GetObject", m.UPLOADS_BUCKET, f"arn:aws:s3:::{bucket}/imports/x.csv")
    ]
    assert checker.needs("s3", "HeadObject", {"Bucket": bucket, "Key": "k"})[0][0] == "s3:GetObject"
    assert checker.needs("s3", "GetObject", {"Bucket": "other", "Key": "k"})[0][1] is None
    assert allows(m.function("imports"), "s3:GetObject", m.UPLOADS_BUCKET)
    assert not allows(m.function("imports"), "s3:PutObject", m.UPLOADS_BUCKET)
    # a presigned POST makes no call, but what it signs is the signer's s3:PutObject
    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    checker.attach(s3)
    with isolation.invocation("api", {}):
        assert s3.generate_presigned_post(Bucket=bucket, Key="imports/x.csv")["fields"]["key"] == "imports/x.csv"
    with isolation.invocation("imports", {}), pytest.raises(ClientError) as exc:
        s3.generate_presigned_post(Bucket=bucket, Key="imports/x.csv")
    assert "s3:PutObject" in str(exc.value)
