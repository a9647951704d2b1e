"""The local stack's per-item undo for moto's TransactWriteItems: a cancelled transaction leaves every
item (and the table's stream) exactly as it was; a successful one applies every item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from smsdesk.local import moto_transactions

TABLE = "undo-test"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k in [k for k in list(__import__("os").environ) if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for pk in ("A", "C", "D"):
            client.put_item(TableName=TABLE, Item={"PK": {"S": pk}, "SK": {"S": "x"}, "n": {"N": "1"}})
        yield client


def snapshot(client: Any) -> dict[str, Any]:
    items = client.scan(TableName=TABLE)["Items"]
    return {i["PK"]["S"]: i for i in items}


def stream_length() -> int:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["eu-west-1"].tables[TABLE]
    return len(table.stream_shard.items)


def key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "x"}}


def writes(check_d: str) -> list[dict[str, Any]]:
    return [
        {"Update": {"TableName": TABLE, "Key": key("A"), "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": TABLE, "Item": {**key("B"), "n": {"N": "7"}}}},
        {"Delete": {"TableName": TABLE, "Key": key("C")}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key("D"), "ConditionExpression": "n = :v",
                            "ExpressionAttributeValues": {":v": {"N": check_d}}}},
    ]  # fmt: skip


def test_a_cancelled_transaction_changes_nothing(ddb: Any) -> None:
    before, stream = snapshot(ddb), stream_length()
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=writes(check_d="2"))
    assert exc.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert snapshot(ddb) == before
    assert stream_length() == stream


def test_a_transaction_naming_one_item_twice_is_refused_and_changes_nothing(ddb: Any) -> None:
    before = snapshot(ddb)
    items = [*writes(check_d="1")[:2], {"Delete": {"TableName": TABLE, "Key": key("A")}}]
    with pytest.raises(ClientError) as exc:
        ddb.transact_write_items(TransactItems=items)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert snapshot(ddb) == before


def test_a_successful_transaction_applies_every_item(ddb: Any) -> None:
    stream = stream_length()
    ddb.transact_write_items(TransactItems=writes(check_d="1"))
    after = snapshot(ddb)
    assert sorted(after) == ["A", "B", "D"]
    assert after["A"]["n"] == {"N": "2"} and after["B"]["n"] == {"N": "7"}
    assert stream_length() == stream + 3
