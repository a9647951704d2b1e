"""DynamoDB reads decode their items with ``json`` alone (``smsdesk.aws.fast_items``): the result must be
exactly what botocore's parser makes of the same response, and binary values are left to it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.parsers import create_parser

from smsdesk import aws

ITEM = {
    "PK": {"S": "CONTACT#1"},
    "n": {"N": "12.5"},
    "ok": {"BOOL": True},
    "none": {"NULL": True},
    "tags": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"x": {"SS": ["p", "q"]}}}]},
    "cf": {"M": {"city": {"S": 'Lyon "B" é'}, "age": {"N": "30"}, "ns": {"NS": ["1", "2"]}}},
}


def _model(operation: str) -> Any:
    c = boto3.session.Session(region_name="eu-west-1").client(
        "dynamodb", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return c.meta.service_model.operation_model(operation)


def _both(operation: str, doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    model = _model(operation)
    body = json.dumps(doc).encode()
    parser = create_parser("json")
    plain = parser.parse({"status_code": 200, "headers": {}, "body": body}, model.output_shape)
    response = {"status_code": 200, "headers": {}, "body": body}
    custom: dict[str, Any] = {}
    aws.fast_items(model, response, custom)
    fast = parser.parse(response, model.output_shape)
    fast.update(custom)
    return plain, fast


@pytest.mark.parametrize(
    ("operation", "doc"),
    [
        ("Query", {"Items": [ITEM, ITEM], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": {"PK": {"S": "x"}}}),
        ("Query", {"Count": 0, "ScannedCount": 3}),
        ("BatchGetItem", {"Responses": {"main": [ITEM]}, "UnprocessedKeys": {"main": {"Keys": [{"PK": {"S": "y"}}]}}}),
    ],
)
def test_items_are_what_botocore_would_parse(operation: str, doc: dict[str, Any]) -> None:
    plain, fast = _both(operation, doc)
    assert fast == plain


def test_binary_values_are_left_to_botocore() -> None:
    doc = {"Items": [{**ITEM, "blob": {"B": "aGk="}}], "Count": 1, "ScannedCount": 1}
    plain, fast = _both("Query", doc)
    assert fast == plain and fast["Items"][0]["blob"] == {"B": b"hi"}


def test_the_shared_client_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws.reset()
    try:
        responses = aws.dynamodb().meta.events.emit(
            "before-parse.dynamodb.Query",
            operation_model=_model("Query"),
            response_dict={"status_code": 200, "headers": {}, "body": b'{"Items": [], "Count": 0}'},
            customized_response_dict=(custom := {}),
        )
        assert responses and custom == {"Items": []}
    finally:
        aws.reset()
