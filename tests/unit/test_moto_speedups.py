"""The local stack's moto server keeps connections alive and answers as before (``local/moto_speedups.py``)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from smsdesk.local.moto_server import MotoServer


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = MotoServer()
    url = server.start()
    yield url
    server.stop()


def _client(endpoint: str, service: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_connection_stays_open_between_requests(endpoint: str) -> None:
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.ListTables",
        "authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/eu-west-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=x",
    }
    socks = set()
    for _ in range(3):
        conn.request("POST", "/", body=b"{}", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200
        assert "TableNames" in json.loads(resp.read())
        assert not resp.will_close  # werkzeug's server said "Connection: close" to every request
        socks.add(id(conn.sock))
    assert len(socks) == 1
    conn.close()


def test_bodies_and_head_lengths_survive_kept_alive_connections(endpoint: str) -> None:
    s3 = _client(endpoint, "s3")
    s3.create_bucket(Bucket="speedups-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    body = b"x" * 70_000
    s3.put_object(Bucket="speedups-bucket", Key="k", Body=body)
    assert s3.head_object(Bucket="speedups-bucket", Key="k")["ContentLength"] == len(body)  # HEAD: the object's length
    assert s3.get_object(Bucket="speedups-bucket", Key="k")["Body"].read() == body
    s3.delete_object(Bucket="speedups-bucket", Key="k")  # 204, no body
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket="speedups-bucket", Key="k")
    s3.put_object(Bucket="speedups-bucket", Key="k2", Body=b"after")
    assert s3.get_object(Bucket="speedups-bucket", Key="k2")["Body"].read() == b"after"


def test_sqs_receive_does_not_slow_down_with_the_backlog(endpoint: str) -> None:
    sqs = _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    for _ in range(50):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "m"} for i in range(10)])
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    t0 = time.process_time()
    for _ in range(10):
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 10
    per_receive = (time.process_time() - t0) / 10
    # moto's datetime clock: ~300 ms of CPU per receive with 500 queued messages; ~20 ms without it
    assert per_receive < 0.1, per_receive


def test_a_request_that_fails_outside_moto_answers_500_and_the_server_goes_on() -> None:
    def wrap(app: Any) -> Any:  # as local/state.py and local/s3_events.py wrap moto
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            if environ["PATH_INFO"] == "/boom":
                raise RuntimeError("boom")
            if environ["PATH_INFO"] == "/ok":  # not moto's state (other tests in this process share it)
                start_response("200 OK", [("Content-Length", "2")])
                return [b"ok"]
            return app(environ, start_response)

        return wsgi

    server = MotoServer(wrap=wrap)
    parts = urlsplit(server.start(reset=False))
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/boom")
        resp = conn.getresponse()
        assert resp.status == 500
        resp.read()
        assert resp.will_close
        conn.close()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/ok")
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read()
        conn.close()
    finally:
        server.stop()


_RICH_ITEM: dict[str, Any] = {
    "PK": {"S": "RICH#1"},
    "SK": {"S": "META"},
    "s": {"S": "héllo ✓"},
    "empty": {"S": ""},
    "n": {"N": "-12.50"},
    "b": {"B": b"\x00\x01\xffbin"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x00", b"\xff"]},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nil": {"NULL": True},
    "m": {"M": {"nest": {"M": {"deep": {"L": [{"S": "x"}, {"N": "3"}, {"B": b"\x02"}, {"M": {}}]}}}, "e": {"L": []}}},
}


def test_bus_rules_deliver_each_event_with_its_own_input(endpoint: str) -> None:
    """EventBridge's input paths are parsed once (``_cache_jsonpath``): each delivery carries its event."""
    events, sqs = _client(endpoint, "events"), _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["speedups"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
    for n in range(3):
        events.put_events(Entries=[{"Source": "speedups", "DetailType": "t", "Detail": json.dumps({"n": n})}])
    got = []
    while len(got) < 3:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        assert messages, got
        got += [json.loads(m["Body"])["detail"]["n"] for m in messages]
    assert sorted(got) == [0, 1, 2]


def test_attribute_values_of_every_type_come_back_as_written(endpoint: str) -> None:
    """moto's model walk over attribute values is skipped (``_fast_attribute_values``): what a client
    writes and reads, every type and nesting, binary included, is unchanged."""
    ddb = _client(endpoint, "dynamodb")
    ddb.create_table(
        TableName="rich",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"PK": _RICH_ITEM["PK"], "SK": _RICH_ITEM["SK"]}
    ddb.put_item(TableName="rich", Item=_RICH_ITEM)
    assert ddb.get_item(TableName="rich", Key=key)["Item"] == _RICH_ITEM
    assert ddb.query(
        TableName="rich", KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": _RICH_ITEM["PK"]}
    )["Items"] == [_RICH_ITEM]
    got = ddb.batch_get_item(RequestItems={"rich": {"Keys": [key]}})["Responses"]["rich"]
    assert got == [_RICH_ITEM]
    new = ddb.update_item(
        TableName="rich",
        Key=key,
        UpdateExpression="SET m.nest.deep[0] = :v, added = :b",
        ConditionExpression="n = :n",
        ExpressionAttributeValues={":v": {"M": {"k": {"BS": [b"\x03"]}}}, ":b": {"B": b"\x04"}, ":n": {"N": "-12.5"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert new["m"]["M"]["nest"]["M"]["deep"]["L"][0] == {"M": {"k": {"BS": [b"\x03"]}}}
    assert new["added"] == {"B": b"\x04"} and new["b"] == _RICH_ITEM["b"] and new["ns"] == _RICH_ITEM["ns"]
    # the same expression again (parsed once, ``_cache_update_expressions``): its own values this time
    again = ddb.update_item(
        TableName="rich",
        Key=key,
        UpdateExpression="SET m.nest.deep[0] = :v, added = :b",
        ExpressionAttributeValues={":v": {"S": "second"}, ":b": {"N": "5"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert again["m"]["M"]["nest"]["M"]["deep"]["L"][0] == {"S": "second"} and again["added"] == {"N": "5"}
    # each section once (moto's clause counts, summed bottom up by ``_fast_traversal``)
    for twice, section in (
        ("SET a = :v SET b = :v", "SET"),
        ("ADD n :one ADD o :one", "ADD"),
        ("REMOVE a REMOVE b", "REMOVE"),
    ):
        values = {":v": {"S": "x"}} if "SET" in twice else {":one": {"N": "1"}} if "ADD" in twice else None
        with pytest.raises(ddb.exceptions.ClientError, match=f'"{section}" section can only be used once'):
            ddb.update_item(
                TableName="rich",
                Key=key,
                UpdateExpression=twice,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
    ddb.update_item(
        TableName="rich",
        Key=key,
        UpdateExpression="SET a = :v ADD n2 :one REMOVE zz",
        ExpressionAttributeValues={":v": {"S": "x"}, ":one": {"N": "1"}},
    )
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as failed:
        ddb.put_item(
            TableName="rich",
            Item=key,
            ConditionExpression="attribute_not_exists(PK)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert failed.value.response["Item"]["b"] == _RICH_ITEM["b"]


def test_sqs_receive_checks_retention_without_counting_the_backlog(endpoint: str) -> None:
    """A receive checks each message's retention period; moto built the queue's whole attribute map
    (three passes over the backlog) for each message it returned."""
    from moto.sqs.models import sqs_backends

    from smsdesk.local.moto_server import ACCOUNT_ID

    sqs = _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="retention", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for _ in range(50):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "m"} for i in range(10)])
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    t0 = time.process_time()
    for _ in range(10):
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]) == 10
    per_receive = (time.process_time() - t0) / 10
    assert per_receive < 0.008, per_receive  # ~14 ms of moto's attribute maps at 500 queued; ~3 ms without
    # and the retention period is still honoured: a message older than it is not delivered
    stale = sqs.create_queue(QueueName="stale", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=stale, MessageBody="old")
    queue = sqs_backends[ACCOUNT_ID]["eu-west-1"].queues["stale"]
    for message in queue._messages:
        message.sent_timestamp -= 120_000
    assert "Messages" not in sqs.receive_message(QueueUrl=stale, MaxNumberOfMessages=10)
