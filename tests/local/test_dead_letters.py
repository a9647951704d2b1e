"""Nothing is lost silently: the schedules the code creates name the Scheduler dead-letter queue (with a
retry policy), the local schedule driver dead-letters what it cannot deliver, as Scheduler does, and the
SNS -> SQS subscriptions have their own dead-letter queues."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import boto3
import pytest

from smsdesk import manifest
from smsdesk.inbox import timers
from smsdesk.local.stack import LocalStack
from smsdesk.models import utcnow

pytestmark = pytest.mark.local


def client(stack: LocalStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.endpoint, region_name=stack.region)


def queue_url(stack: LocalStack, arn: str) -> str:
    parts = arn.split(":")
    return client(stack, "sqs").get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]


def receive(stack: LocalStack, url: str, timeout: float) -> list[dict[str, Any]]:
    sqs = client(stack, "sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if got:
            return got
    return []


def test_scheduler_dlq_exists_and_reaches_code_through_the_environment(stack: LocalStack) -> None:
    group = manifest.SCHEDULE_GROUP
    assert group.dlq_env in manifest.env_names(group)
    arn = stack.env[group.dlq_env]
    assert arn.endswith(f":smsdesk-local-{group.dlq_name}")
    url = queue_url(stack, arn)
    attrs = client(stack, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert attrs["QueueArn"] == arn
    # The timers queue's own DLQ is another queue (that one holds what the timers function failed on).
    assert arn != stack.resources.queues[group.target_queue].dlq_arn


def test_created_schedules_carry_dead_letter_config_and_retry_policy(stack: LocalStack) -> None:
    target = uuid.uuid4().hex
    now = utcnow()
    due = now + dt.timedelta(hours=2)  # beyond SQS's 15 minutes: a Scheduler schedule
    tid = timers.schedule("test_probe", target, due, now=now)
    try:
        sched = client(stack, "scheduler").get_schedule(Name=tid, GroupName=stack.env[manifest.SCHEDULE_GROUP.env])
        t = sched["Target"]
        assert t["DeadLetterConfig"] == {"Arn": stack.env[manifest.SCHEDULE_GROUP.dlq_env]}
        assert t["RetryPolicy"] == {
            "MaximumRetryAttempts": timers.SCHEDULE_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": timers.SCHEDULE_MAX_EVENT_AGE_S,
        }
        assert 0 < timers.SCHEDULE_RETRY_ATTEMPTS <= 185 and 60 <= timers.SCHEDULE_MAX_EVENT_AGE_S <= 86400
        # A re-arm (update_schedule) keeps them.
        timers.schedule("test_probe", target, due + dt.timedelta(hours=1), now=now)
        sched = client(stack, "scheduler").get_schedule(Name=tid, GroupName=stack.env[manifest.SCHEDULE_GROUP.env])
        assert sched["Target"]["DeadLetterConfig"] == {"Arn": stack.env[manifest.SCHEDULE_GROUP.dlq_env]}
    finally:
        timers.cancel(tid)


def test_undeliverable_schedule_lands_in_the_dead_letter_queue(stack: LocalStack) -> None:
    group = manifest.SCHEDULE_GROUP
    dlq_arn = stack.env[group.dlq_env]
    dlq_url = queue_url(stack, dlq_arn)
    gone = stack.resources.queues[group.target_queue].arn + "-deleted"  # a queue that does not exist
    name = f"dl-{uuid.uuid4().hex[:8]}"
    payload = json.dumps({"probe": name})
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    client(stack, "scheduler").create_schedule(
        Name=name,
        GroupName=stack.env[group.env],
        ScheduleExpression=f"at({past})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": gone,
            "RoleArn": stack.env[group.role_env],
            "Input": payload,
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )
    got = [m for m in receive(stack, dlq_url, 10) if m["Body"] == payload]
    assert len(got) == 1, "the undeliverable schedule did not reach the dead-letter queue"
    attrs = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attrs["TARGET_ARN"] == gone
    assert attrs["SCHEDULE_ARN"].endswith(f":schedule/{stack.env[group.env]}/{name}")
    assert attrs["ERROR_CODE"] and attrs["ERROR_MESSAGE"]
    client(stack, "sqs").delete_message(QueueUrl=dlq_url, ReceiptHandle=got[0]["ReceiptHandle"])


def test_sns_subscriptions_have_dead_letter_queues(stack: LocalStack) -> None:
    sns = client(stack, "sns")
    sqs = client(stack, "sqs")
    for topic in manifest.TOPICS:
        subs = sns.list_subscriptions_by_topic(TopicArn=stack.env[topic.env])["Subscriptions"]
        by_endpoint = {s["Endpoint"]: s["SubscriptionArn"] for s in subs}
        for qname in topic.subscribers:
            sub_arn = by_endpoint[stack.resources.queues[qname].arn]
            attrs = sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
            dlq_arn = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"]
            assert dlq_arn.endswith(f":smsdesk-local-{topic.subscription_dlq_name(qname)}")
            url = queue_url(stack, dlq_arn)
            assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] == (
                dlq_arn
            )
