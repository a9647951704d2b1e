"""The local stack runs the manifest's handlers behind AWS-like triggers (moto in server mode)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from joserfc import jwk, jwt
from moto.utilities.utils import load_resource

from smsdesk import manifest
from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

NOW = dt.datetime.now(dt.UTC).isoformat()

#: One valid envelope per queue (smsdesk.envelopes); a new queue trigger must add one here.
SAMPLES: dict[str, dict[str, Any]] = {
    "inbound": {"provider": "test", "received_at": NOW, "raw": {"from": "+31612345678", "text": "hi"}},
    "outbound": {"message_id": "msg-1"},
    "receipts": {"provider": "test", "received_at": NOW, "raw": {"status": "delivered"}},
    "bulk": {"campaign_id": "camp-1"},
    "timers": {"timer_id": "t-1", "kind": "test", "target_id": "x", "due_at": NOW},
    # what S3 sends once when a bucket's notification to the queue is configured
    "imports": {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": NOW, "Bucket": "uploads"},
    # an outcome of a campaign that does not exist: counted nowhere, and not a failure
    "campaign-results": {"campaign_id": "camp-1", "message_id": "msg-1", "status": "delivered"},
}


def client(stack: LocalStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.endpoint, region_name=stack.region)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def queue_triggers() -> list[tuple[manifest.Function, manifest.QueueTrigger]]:
    return [(f, t) for f in manifest.FUNCTIONS for t in f.triggers if isinstance(t, manifest.QueueTrigger)]


def sign(claims: dict[str, Any]) -> str:
    """A token signed with moto's Cognito key (the key behind the JWKS the authorizer trusts)."""
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key)


def good_claims(stack: LocalStack) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": stack.resources.issuer,
        "sub": stack.tokens.user_id,
        "aud": stack.resources.user_pool_client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["owner"],
    }


# -- HTTP API ----------------------------------------------------------------------------------------


def test_health_is_public(stack: LocalStack, http: Any) -> None:
    status, _, body = http("GET", f"{stack.base_url}/health")
    assert status == 200
    assert body["status"] == "ok" and body["stage"] == "local"


def test_me_with_seeded_token(stack: LocalStack, http: Any) -> None:
    status, _, body = http("GET", f"{stack.base_url}/v1/me", headers=auth(stack.token))
    assert status == 200, body
    assert body["email"] == "admin@smsdesk.local"
    assert body["role"] == "owner"
    assert body["user_id"] == stack.tokens.user_id
    info = json.loads(stack.local_json.read_text())
    assert info["token"] == stack.token and info["base_url"] == stack.base_url


def test_token_without_bearer_prefix_is_accepted(stack: LocalStack, http: Any) -> None:
    status, _, _ = http("GET", f"{stack.base_url}/v1/me", headers={"authorization": stack.token})
    assert status == 200


def test_access_token_is_accepted(stack: LocalStack, http: Any) -> None:
    status, _, body = http("GET", f"{stack.base_url}/v1/me", headers=auth(stack.tokens.access_token))
    assert status == 200 and body["role"] == "owner"


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": ""}, {"authorization": "Bearer"}, {"authorization": "Basic abc"}]
)
def test_missing_token_is_401(stack: LocalStack, http: Any, headers: dict[str, str]) -> None:
    status, _, body = http("GET", f"{stack.base_url}/v1/me", headers=headers)
    assert (status, body) == (401, {"message": "Unauthorized"})


def test_tampered_token_is_401(stack: LocalStack, http: Any) -> None:
    token = stack.token
    head, payload, sig = token.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    status, _, body = http("GET", f"{stack.base_url}/v1/me", headers=auth(f"{head}.{payload}.{flipped}"))
    assert (status, body) == (401, {"message": "Unauthorized"})
    status, _, _ = http("GET", f"{stack.base_url}/v1/me", headers=auth("not-a-jwt"))
    assert status == 401


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 5},
        {"aud": "some-other-client"},
        {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"},
        {"nbf": int(time.time()) + 3600},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "not-yet-valid"],
)
def test_invalid_claims_are_401(stack: LocalStack, http: Any, change: dict[str, Any]) -> None:
    ok = sign(good_claims(stack))
    assert http("GET", f"{stack.base_url}/v1/me", headers=auth(ok))[0] == 200  # the control
    status, _, body = http("GET", f"{stack.base_url}/v1/me", headers=auth(sign({**good_claims(stack), **change})))
    assert (status, body) == (401, {"message": "Unauthorized"})


def test_claims_reach_the_handler_as_api_gateway_renders_them(stack: LocalStack) -> None:
    from smsdesk.local.gateway import build_event, manifest_routes

    claims = stack.gateway._authorizer().verify(f"Bearer {stack.token}")
    route = next(r for r in manifest_routes() if r.route.authorized)
    event = build_event(
        method="GET",
        raw_path="/v1/me",
        raw_query="a=1&a=2",
        headers=[("Cookie", "x=1; y=2"), ("X-A", "b")],
        body=b"",
        source_ip="127.0.0.1",
        route=route,
        path_params={"proxy": "me"},
        claims=claims,
        domain="h",
    )
    rendered = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert rendered["cognito:groups"] == "[owner]"
    assert all(isinstance(v, str) for v in rendered.values())
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["cookies"] == ["x=1", "y=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-a"] == "b" and event["routeKey"] == "ANY /v1/{proxy+}"
    assert event["pathParameters"] == {"proxy": "me"} and event["requestContext"]["stage"] == "$default"


def test_unknown_route_is_404_like_api_gateway(stack: LocalStack, http: Any) -> None:
    assert http("GET", f"{stack.base_url}/nope")[:3:2] == (404, {"message": "Not Found"})
    # /health is GET only; /v1 itself is not matched by /v1/{proxy+}
    assert http("POST", f"{stack.base_url}/health", body={})[0] == 404
    assert http("GET", f"{stack.base_url}/v1", headers=auth(stack.token))[0] == 404


def test_webhooks_route_reaches_the_webhooks_function(stack: LocalStack, http: Any) -> None:
    since = stack.invocations.last_seq
    status, _, body = http("POST", f"{stack.base_url}/webhooks/unknown-provider", body={"a": 1})
    assert status == 404 and body["error"]["code"] == "not_found"  # the function's own 404
    entry = stack.invocations.wait_for(lambda e: e.get("function") == "webhooks", since=since)
    assert entry["trigger"] == "http" and entry["source"] == "POST /webhooks/{proxy+}"


def test_invocations_endpoint(stack: LocalStack, http: Any) -> None:
    http("GET", f"{stack.base_url}/health")
    status, _, body = http("GET", f"{stack.base_url}/local/invocations?function=api")
    assert status == 200
    assert body["invocations"] and all(e["function"] == "api" for e in body["invocations"])
    assert {"function", "trigger", "source", "ok", "duration_ms", "started_at"} <= set(body["invocations"][-1])


# -- Queues, topics, bus, schedules --------------------------------------------------------------------


@pytest.mark.parametrize("fn,trigger", queue_triggers(), ids=lambda v: getattr(v, "name", None) or "")
def test_each_queue_trigger_runs_its_function(
    stack: LocalStack, fn: manifest.Function, trigger: manifest.QueueTrigger
) -> None:
    assert trigger.queue.name in SAMPLES, f"add a sample envelope for queue {trigger.queue.name}"
    since = stack.invocations.last_seq
    client(stack, "sqs").send_message(
        QueueUrl=stack.env[trigger.queue.env], MessageBody=json.dumps(SAMPLES[trigger.queue.name])
    )
    entry = stack.invocations.wait_for(lambda e: e.get("function") == fn.name, since=since, timeout=20)
    assert entry["trigger"] == "sqs" and entry["source"] == trigger.queue.name
    assert entry["ok"] and entry["failures"] == 0


def test_sns_topics_deliver_to_their_queues_functions(stack: LocalStack) -> None:
    sns = client(stack, "sns")
    for topic in manifest.TOPICS:
        for qname in topic.subscribers:
            fn = next(f for f, t in queue_triggers() if t.queue.name == qname)
            since = stack.invocations.last_seq
            sns.publish(TopicArn=stack.env[topic.env], Message=json.dumps(SAMPLES[qname]))
            entry = stack.invocations.wait_for(lambda e, fn=fn: e.get("function") == fn.name, since=since, timeout=20)
            assert entry["ok"] and entry["failures"] == 0, entry  # raw delivery: the envelope parses


def test_bus_rule_matches_like_eventbridge(stack: LocalStack) -> None:
    rule = next(w for w in stack.resources.rules if w.function.name == "notifier")
    since = stack.invocations.last_seq
    resp = client(stack, "events").put_events(
        Entries=[
            {
                "Source": "smsdesk",
                "DetailType": "credits.low",
                "Detail": "{}",
                "EventBusName": stack.resources.bus_name,
            },
            {
                "Source": "other",
                "DetailType": "conversation.created",
                "Detail": "{}",
                "EventBusName": stack.resources.bus_name,
            },
            {
                "Source": "smsdesk",
                "DetailType": "message.sent",  # the notifier does nothing with it: not invoked
                "Detail": "{}",
                "EventBusName": stack.resources.bus_name,
            },
            {
                "Source": "smsdesk",
                "DetailType": "conversation.assigned",
                "Detail": json.dumps({"id": "c1"}),
                "EventBusName": stack.resources.bus_name,
            },
        ]
    )
    assert resp["FailedEntryCount"] == 0
    entry = stack.invocations.wait_for(lambda e: e.get("function") == "notifier", since=since, timeout=20)
    assert entry["trigger"] == "bus" and entry["source"] == rule.rule_name and entry["ok"]
    time.sleep(0.3)
    ran = stack.invocations.entries(function="notifier", since=since)
    assert len(ran) == 1, ran  # the non-matching events never reached the function


def test_due_schedule_fires_into_timers_queue(stack: LocalStack) -> None:
    sch = client(stack, "scheduler")
    name = f"t-{uuid.uuid4().hex[:8]}"
    due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    since = stack.invocations.last_seq
    payload = {**SAMPLES["timers"], "timer_id": name}
    sch.create_schedule(
        Name=name,
        GroupName=stack.env[manifest.SCHEDULE_GROUP.env],
        ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": stack.env[manifest.TIMERS_QUEUE.arn_env],
            "RoleArn": stack.env[manifest.SCHEDULE_GROUP.role_env],
            "Input": json.dumps(payload),
        },
        ActionAfterCompletion="DELETE",
    )
    fire = stack.invocations.wait_for(lambda e: e.get("schedule") == name, since=since, timeout=20)
    assert fire["ok"] and 0 <= fire["lateness_ms"] < 1000, fire
    assert abs(fire["due"] - due.timestamp()) < 0.001
    ran = stack.invocations.wait_for(lambda e: e.get("function") == "timers", since=since, timeout=20)
    assert ran["ok"] and ran["failures"] == 0
    with pytest.raises(ClientError) as exc:
        sch.get_schedule(Name=name, GroupName=stack.env[manifest.SCHEDULE_GROUP.env])
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_disabled_and_kept_schedules(stack: LocalStack) -> None:
    sch = client(stack, "scheduler")
    group = stack.env[manifest.SCHEDULE_GROUP.env]
    since = stack.invocations.last_seq
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    target = {
        "Arn": stack.env[manifest.TIMERS_QUEUE.arn_env],
        "RoleArn": stack.env[manifest.SCHEDULE_GROUP.role_env],
        "Input": json.dumps(SAMPLES["timers"]),
    }
    common = {
        "GroupName": group,
        "ScheduleExpression": f"at({past})",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
    }
    sch.create_schedule(Name="off", State="DISABLED", **common)
    sch.create_schedule(Name="keep", ActionAfterCompletion="NONE", **common)
    stack.invocations.wait_for(lambda e: e.get("schedule") == "keep", since=since, timeout=3)
    time.sleep(1.2)  # two more polls
    fires = stack.invocations.entries(kind="schedule", since=since)
    assert [f["schedule"] for f in fires] == ["keep"]  # fired once, the disabled one never
    assert sch.get_schedule(Name="keep", GroupName=group)["Name"] == "keep"  # kept
    sch.delete_schedule(Name="off", GroupName=group)
    sch.delete_schedule(Name="keep", GroupName=group)


def test_partial_batch_failure_retries_then_dead_letters(stack: LocalStack) -> None:
    q = manifest.INBOUND_QUEUE
    sqs = client(stack, "sqs")
    since = stack.invocations.last_seq
    sqs.send_message_batch(
        QueueUrl=stack.env[q.env],
        Entries=[
            {"Id": "good", "MessageBody": json.dumps(SAMPLES["inbound"])},
            {"Id": "bad", "MessageBody": json.dumps({"not": "an envelope"})},
        ],
    )
    first = stack.invocations.wait_for(lambda e: e.get("function") == "inbound", since=since, timeout=20)
    assert first["ok"] and first["failures"] == 1  # the valid record succeeded; only the invalid one failed
    dlq_url = stack.resources.queues[q.name].dlq_url
    deadline = time.monotonic() + q.max_receive_count * 2 + 6
    dead: list[dict[str, Any]] = []
    while not dead and time.monotonic() < deadline:
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"]) for m in dead] == [{"not": "an envelope"}]
    runs = stack.invocations.entries(function="inbound", since=since)
    assert sum(e["failures"] for e in runs) == q.max_receive_count  # retried until maxReceiveCount
    assert sum(e["records"] - e["failures"] for e in runs) == 1  # the valid one ran (and was deleted) once
    attrs = sqs.get_queue_attributes(QueueUrl=stack.env[q.env], AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


# -- Manifest agreement ------------------------------------------------------------------------------


def test_env_has_every_manifest_name(stack: LocalStack) -> None:
    for resource in manifest.all_resources():
        for name in manifest.env_names(resource):
            assert stack.env.get(name), name
    assert stack.env["STAGE"] == "local" and stack.env["SMSDESK_LOCAL"] == "1"


def test_tables_match_manifest(stack: LocalStack) -> None:
    ddb = client(stack, "dynamodb")
    for t in manifest.TABLES:
        desc = ddb.describe_table(TableName=stack.env[t.env])["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
        assert keys == ({"HASH": t.pk, "RANGE": t.sk} if t.sk else {"HASH": t.pk})
        gsis = {
            g["IndexName"]: {k["KeyType"]: k["AttributeName"] for k in g["KeySchema"]}
            for g in desc.get("GlobalSecondaryIndexes", [])
        }
        assert gsis == {g.name: {"HASH": g.pk, "RANGE": g.sk} for g in t.gsis}
        ttl = ddb.describe_time_to_live(TableName=stack.env[t.env])["TimeToLiveDescription"]
        if t.ttl_attribute:
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", t.ttl_attribute)
        stream = desc.get("StreamSpecification") or {}
        assert (stream.get("StreamEnabled", False), stream.get("StreamViewType")) == (bool(t.stream), t.stream)


def test_queues_match_manifest(stack: LocalStack) -> None:
    sqs = client(stack, "sqs")
    for q in manifest.QUEUES:
        attrs = sqs.get_queue_attributes(QueueUrl=stack.env[q.env], AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"] == stack.env[q.arn_env]
        assert int(attrs["VisibilityTimeout"]) == q.visibility_timeout_s
        redrive = json.loads(attrs["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == q.max_receive_count
        assert redrive["deadLetterTargetArn"].endswith(":" + stack.resources.queues[q.name].name + "-dlq")
        assert redrive["deadLetterTargetArn"].endswith(q.dlq_name)


def test_topics_and_subscriptions_match_manifest(stack: LocalStack) -> None:
    sns = client(stack, "sns")
    for t in manifest.TOPICS:
        subs = sns.list_subscriptions_by_topic(TopicArn=stack.env[t.env])["Subscriptions"]
        assert sorted(s["Endpoint"] for s in subs) == sorted(
            stack.env[manifest.queue(q).arn_env] for q in t.subscribers
        )
        for s in subs:
            attrs = sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"]
            assert attrs["Protocol"] == "sqs" and attrs["RawMessageDelivery"] == "true"


def test_rules_match_manifest(stack: LocalStack) -> None:
    events = client(stack, "events")
    bus = stack.env[manifest.EVENT_BUS.env]
    rules = {r["Name"]: r for r in events.list_rules(EventBusName=bus)["Rules"]}
    expected = [(f, t) for f in manifest.FUNCTIONS for t in f.triggers if isinstance(t, manifest.BusRule)]
    assert len(rules) == len(expected)
    for fn, rule in expected:
        wiring = next(w for w in stack.resources.rules if w.function is fn and w.rule is rule)
        assert json.loads(rules[wiring.rule_name]["EventPattern"]) == rule.pattern()
        targets = events.list_targets_by_rule(Rule=wiring.rule_name, EventBusName=bus)["Targets"]
        assert [t["Arn"] for t in targets] == [wiring.queue.arn]


def test_schedule_group_and_user_pool_match_manifest(stack: LocalStack) -> None:
    sch = client(stack, "scheduler")
    assert sch.get_schedule_group(Name=stack.env[manifest.SCHEDULE_GROUP.env])["State"] == "ACTIVE"
    idp = client(stack, "cognito-idp")
    pool = stack.env[manifest.USER_POOL.env]
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool)["Groups"]}
    assert groups == set(manifest.USER_POOL.groups)
    c = idp.describe_user_pool_client(UserPoolId=pool, ClientId=stack.env[manifest.USER_POOL.client_env])
    assert "ALLOW_ADMIN_USER_PASSWORD_AUTH" in c["UserPoolClient"]["ExplicitAuthFlows"]
    assert stack.env[manifest.PROVIDER_SECRETS.env] == "smsdesk/local/providers/"


def test_every_trigger_is_wired(stack: LocalStack) -> None:
    wiring = stack.wiring()
    expected_routes, expected_queues, expected_rules, expected_streams = [], [], [], []
    for fn in manifest.FUNCTIONS:
        for t in fn.triggers:
            if isinstance(t, manifest.HttpRoute):
                expected_routes.append((fn.name, t.method, t.path))
            elif isinstance(t, manifest.QueueTrigger):
                expected_queues.append((fn.name, t.queue.name))
            elif isinstance(t, manifest.BusRule):
                expected_rules.append((fn.name, f"{fn.name}-{t.name}"))
            elif isinstance(t, manifest.StreamTrigger):
                expected_streams.append((fn.name, t.name))
            else:
                pytest.fail(f"unknown trigger {t!r}")
    assert sorted(wiring["routes"]) == sorted(expected_routes)
    assert sorted(wiring["queues"]) == sorted(expected_queues)
    assert sorted(wiring["rules"]) == sorted(expected_rules)
    assert sorted(wiring["streams"]) == sorted(expected_streams) and expected_streams
    for fn in manifest.FUNCTIONS:  # every entry point exists and exposes its handler
        assert callable(stack.functions.handler(fn))


def test_token_refresh_rewrites_local_json(stack: LocalStack, http: Any) -> None:
    old = json.loads(stack.local_json.read_text())
    stack.tokens.authenticate()  # what the refresh thread does before expiry
    new = json.loads(stack.local_json.read_text())
    assert new["token"] == stack.token and new["token_expires_at"] >= old["token_expires_at"]
    assert http("GET", f"{stack.base_url}/v1/me", headers=auth(new["token"]))[0] == 200
