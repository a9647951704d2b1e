"""--state-dir: data survives a restart (DynamoDB, Cognito users with the same sub, schedules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from smsdesk import manifest
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def test_state_survives_restart(tmp_path: Path, http: Any) -> None:
    state = tmp_path / "state"
    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "a.json", warm=False) as first:
        assert not first.restored
        ddb = boto3.client("dynamodb", endpoint_url=first.endpoint, region_name=first.region)
        ddb.put_item(TableName=first.env["TABLE_NAME"], Item={"PK": {"S": "X#1"}, "SK": {"S": "Y"}, "v": {"N": "7"}})
        sch = boto3.client("scheduler", endpoint_url=first.endpoint, region_name=first.region)
        sch.create_schedule(
            Name="later",
            GroupName=first.env[manifest.SCHEDULE_GROUP.env],
            ScheduleExpression="at(2099-01-01T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": first.env[manifest.TIMERS_QUEUE.arn_env],
                "RoleArn": "arn:aws:iam::123456789012:role/x",
                "Input": "{}",
            },
        )
        old_token, old_sub, pool = first.token, first.tokens.user_id, first.env["USER_POOL_ID"]
    assert (state / "moto-state.pickle").exists()

    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "b.json", warm=False) as second:
        assert second.restored
        assert second.env["USER_POOL_ID"] == pool and second.tokens.user_id == old_sub
        ddb = boto3.client("dynamodb", endpoint_url=second.endpoint, region_name=second.region)
        item = ddb.get_item(TableName=second.env["TABLE_NAME"], Key={"PK": {"S": "X#1"}, "SK": {"S": "Y"}})["Item"]
        assert item["v"] == {"N": "7"}
        sch = boto3.client("scheduler", endpoint_url=second.endpoint, region_name=second.region)
        assert sch.get_schedule(Name="later", GroupName=second.env[manifest.SCHEDULE_GROUP.env])["Name"] == "later"
        # a token issued before the restart is still valid (same pool, same issuer, same key)
        status, _, body = http("GET", f"{second.base_url}/v1/me", headers={"authorization": f"Bearer {old_token}"})
        assert status == 200 and body["user_id"] == old_sub and body["role"] == "owner"
        assert (
            json.loads((tmp_path / "b.json").read_text())["password"]
            == json.loads((tmp_path / "a.json").read_text())["password"]
        )


def test_without_state_dir_each_stack_starts_empty(tmp_path: Path) -> None:
    with LocalStack(port=0, local_json=tmp_path / "a.json", warm=False, seed=False) as s:
        ddb = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name=s.region)
        ddb.put_item(TableName=s.env["TABLE_NAME"], Item={"PK": {"S": "X#1"}, "SK": {"S": "Y"}})
    with LocalStack(port=0, local_json=tmp_path / "b.json", warm=False, seed=False) as s:
        ddb = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name=s.region)
        assert ddb.scan(TableName=s.env["TABLE_NAME"])["Count"] == 0
