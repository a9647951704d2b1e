"""A scheduled campaign's EventBridge Scheduler schedule: one per campaign, named ``campaign-{id}``, in
the manifest's schedule group, delivering ``FanoutJob(phase="run")`` to the bulk queue. One-time
``at()`` schedules delete themselves after firing; recurring ``cron()``/``rate()`` ones keep firing
until the campaign is cancelled (deleted) or edited (updated). Both carry the schedule's time zone."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config, manifest
from smsdesk.campaigns.model import Schedule
from smsdesk.envelopes import FanoutJob

RETRY_ATTEMPTS = 20
MAX_EVENT_AGE_S = 6 * 3600


def name(campaign_id: str) -> str:
    return f"campaign-{campaign_id}"[:64]


def put(campaign_id: str, schedule: Schedule, *, version: int) -> None:
    """Create or replace the campaign's schedule; ``version`` (the ``schedule_version`` written on the
    campaign item with this schedule, before this put) travels in every fire's job. A fire whose version
    is not the campaign's is stale: a fire of the schedule as it was before an edit moved it, already
    queued or delivered late (retries: up to ``MAX_EVENT_AGE_S``); ``fanout.on_schedule`` starts no run
    for it (nor for any fire while the campaign is not ``scheduled``)."""
    job = FanoutJob(campaign_id=campaign_id, phase="run", schedule_version=version)
    params: dict[str, Any] = {
        "Name": name(campaign_id),
        "GroupName": config.schedule_group_name(),
        "ScheduleExpression": schedule.expression(),
        "ScheduleExpressionTimezone": schedule.time_zone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE" if not schedule.recurring else "NONE",
        "Target": {
            "Arn": config.queue_arn(manifest.BULK_QUEUE),
            "RoleArn": config.scheduler_role_arn(),
            "Input": job.model_dump_json(exclude_none=True),
            "DeadLetterConfig": {"Arn": config.scheduler_dlq_arn()},
            "RetryPolicy": {"MaximumRetryAttempts": RETRY_ATTEMPTS, "MaximumEventAgeInSeconds": MAX_EVENT_AGE_S},
        },
    }
    try:
        aws.scheduler().create_schedule(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
        aws.scheduler().update_schedule(**params)


def delete(campaign_id: str) -> None:
    try:
        aws.scheduler().delete_schedule(Name=name(campaign_id), GroupName=config.schedule_group_name())
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "ValidationException"):
            raise
