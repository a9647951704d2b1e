"""A --state-dir saved before the manifest added an index (GSI4: a number's conversations) gets it on
the next start, with the items already stored indexed (the local stack's resources, under moto)."""

from __future__ import annotations

import dataclasses

import boto3
import pytest
from moto import mock_aws

from smsdesk import aws, manifest
from smsdesk.local import resources


def test_a_restored_table_gets_the_indexes_the_manifest_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    old = dataclasses.replace(manifest.MAIN_TABLE, gsis=manifest.MAIN_TABLE.gsis[:3])  # as saved before GSI4
    with mock_aws():
        aws.reset()
        try:
            name = resources._create_table(old)
            ddb = boto3.client("dynamodb", region_name="eu-west-1")
            item = {"PK": {"S": "CONV#1"}, "SK": {"S": "META"}, "GSI4PK": {"S": "CONVNUM#+31600000001"}}
            ddb.put_item(TableName=name, Item={**item, "GSI4SK": {"S": "2026#1"}})
            assert resources._create_table(manifest.MAIN_TABLE) == name  # the next start
            indexes = {g["IndexName"] for g in ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]}
            assert indexes == {g.name for g in manifest.MAIN_TABLE.gsis}
            got = ddb.query(
                TableName=name,
                IndexName="GSI4",
                KeyConditionExpression="GSI4PK = :p",
                ExpressionAttributeValues={":p": {"S": "CONVNUM#+31600000001"}},
            )["Items"]
            assert [i["PK"]["S"] for i in got] == ["CONV#1"]
        finally:
            aws.reset()
