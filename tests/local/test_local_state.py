"""--state-dir: data survives a restart (DynamoDB, Cognito users with the same sub, schedules)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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
        old_password = first.tokens.password
    assert (state / "dynamodb.state").exists() and (state / "cognito-idp.state").exists()

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
        assert second.tokens.password == old_password  # derived from the state key, stored nowhere


def test_without_state_dir_each_stack_starts_empty(tmp_path: Path) -> None:
    with LocalStack(port=0, local_json=tmp_path / "a.json", warm=False, seed=False) as s:
        ddb = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name=s.region)
        ddb.put_item(TableName=s.env["TABLE_NAME"], Item={"PK": {"S": "X#1"}, "SK": {"S": "Y"}})
    with LocalStack(port=0, local_json=tmp_path / "b.json", warm=False, seed=False) as s:
        ddb = boto3.client("dynamodb", endpoint_url=s.endpoint, region_name=s.region)
        assert ddb.scan(TableName=s.env["TABLE_NAME"])["Count"] == 0


# -- kill -9: what was acknowledged is on disk ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_cli(tmp_path: Path, state: Path, local_json: Path) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    args = ["local", "--port", str(port), "--state-dir", str(state), "--local-json", str(local_json)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "smsdesk.cli", *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    # Generous: the stack starts moto in a second process and warms every function; under CI's load
    # (the other worker running a campaign on its own stack) that has taken over 30 s.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited early: {proc.returncode}\n{proc.stderr.read() if proc.stderr else ''}")
        if local_json.exists():
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    return proc, base
            except OSError:
                pass
        time.sleep(0.1)
    proc.kill()
    _, err = proc.communicate(timeout=10)
    pytest.fail(f"smsdesk local did not answer /health within 90 s\n{err}")


def _kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)


def test_acknowledged_writes_survive_kill_9(tmp_path: Path, http: Any) -> None:
    """A channel (DynamoDB + Secrets Manager), a top-up and a user (Cognito) answered 2xx, then
    SIGKILL at once: a restart with the same --state-dir has all of them."""
    state = tmp_path / "state"
    proc, base = _start_cli(tmp_path, state, tmp_path / "a.json")
    try:
        h = {"authorization": f"Bearer {json.loads((tmp_path / 'a.json').read_text())['token']}"}
        status, _, ch = http(
            "POST",
            f"{base}/v1/channels",
            headers=h,
            body={
                "name": "Durable",
                "type": "one_way",
                "sender": "Acme",
                "provider": "twilio",
                "provider_settings": {"account_sid": "AC" + "0123456789abcdef" * 2},
                "provider_secret": {"auth_token": "tw-durable-" + "y" * 20},
            },
        )
        assert status == 201, ch
        status, _, top = http("POST", f"{base}/v1/credits/top-ups", headers=h, body={"credits": 7, "reference": "K9"})
        assert status == 201, top
        status, _, user = http(
            "POST", f"{base}/v1/users", headers=h, body={"email": "kept@example.com", "name": "Kept", "role": "agent"}
        )
        assert status == 201, user
    finally:
        _kill9(proc)

    proc, base = _start_cli(tmp_path, state, tmp_path / "b.json")
    try:
        h = {"authorization": f"Bearer {json.loads((tmp_path / 'b.json').read_text())['token']}"}
        status, _, got = http("GET", f"{base}/v1/channels/{ch['id']}", headers=h)
        assert status == 200 and got["name"] == "Durable" and got["has_secret"] is True, got
        status, _, bal = http("GET", f"{base}/v1/credits", headers=h)
        assert (status, bal) == (200, {"balance": 7})
        status, _, got = http("GET", f"{base}/v1/users/{user['user_id']}", headers=h)
        assert status == 200 and got["email"] == "kept@example.com", got
    finally:
        _kill9(proc)


# -- secrets at rest ---------------------------------------------------------------------------------


def _clear_text_hits(state: Path, *needles: str) -> list[str]:
    return [
        f"{p.name}: {n[:6]}…" for p in state.iterdir() if p.is_file() for n in needles if n.encode() in p.read_bytes()
    ]


def test_state_dir_keeps_no_secret_in_clear_text(tmp_path: Path, http: Any) -> None:
    state = tmp_path / "state"
    secret_value = "tw-at-rest-" + "z" * 20
    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "a.json", warm=False) as first:
        password = first.tokens.password
        status, _, ch = http(
            "POST",
            f"{first.base_url}/v1/channels",
            headers={"authorization": f"Bearer {first.token}"},
            body={
                "name": "Twilio",
                "type": "one_way",
                "sender": "Acme",
                "provider": "twilio",
                "provider_settings": {"account_sid": "AC" + "0123456789abcdef" * 2},
                "provider_secret": {"auth_token": secret_value},
            },
        )
        assert status == 201, ch
        # while running (journal + per-write snapshots) ...
        assert _clear_text_hits(state, secret_value, password) == []
    # ... and after the final snapshot
    assert _clear_text_hits(state, secret_value, password) == []
    assert (state / "key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "a.json").read_text().count(password)

    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "b.json", warm=False) as second:
        sm = boto3.client("secretsmanager", endpoint_url=second.endpoint, region_name=second.region)
        stored = sm.get_secret_value(SecretId=f"smsdesk/local/providers/{ch['id']}")["SecretString"]
        assert secret_value in stored


def test_state_dir_without_its_key_refuses_to_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "a.json", warm=False, seed=False):
        pass
    (state / "key").unlink()
    with pytest.raises(RuntimeError, match="key"):
        LocalStack(port=0, state_dir=state, local_json=tmp_path / "b.json", warm=False, seed=False).start()
    assert any(state.glob("*.state"))  # untouched


# -- the journal itself (moto + StateStore, no stack) -------------------------------------------------


def _moto_with_store(state: Path, **kw: Any) -> tuple[Any, Any, Any]:
    from smsdesk.local.moto_server import MotoServer
    from smsdesk.local.state import StateStore

    store = StateStore(state, "eu-west-1", **kw)
    moto = MotoServer(wrap=store.wrap)
    endpoint = moto.start()
    store.restore()
    ddb = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return moto, store, ddb


def _journal_size(state: Path) -> int:
    path = state / "dynamodb.journal"
    return path.stat().st_size if path.exists() else 0


def _counter(ddb: Any) -> int:
    return int(ddb.get_item(TableName="t", Key={"PK": {"S": "c"}})["Item"]["n"]["N"])


def test_journal_replays_concurrent_writes_once_each(tmp_path: Path) -> None:
    import concurrent.futures

    state = tmp_path / "state"
    moto, store, ddb = _moto_with_store(state)
    try:
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def add(_: int) -> None:
            ddb.update_item(
                TableName="t", Key={"PK": {"S": "c"}}, UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )  # fmt: skip

        def claim(i: int) -> tuple[str, int] | None:  # 4 writers race for each key; the first wins
            key = f"w{i // 4}"
            try:
                ddb.put_item(
                    TableName="t", Item={"PK": {"S": key}, "by": {"N": str(i)}},
                    ConditionExpression="attribute_not_exists(PK)",
                )  # fmt: skip
            except ddb.exceptions.ConditionalCheckFailedException:
                return None
            return key, i

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(add, range(120)))
            winners = dict(w for w in pool.map(claim, range(80)) if w)
        assert len(winners) == 20
        # a crash between writing the snapshot and truncating the journal: the journal still holds
        # what the snapshot holds
        store._snapshot("dynamodb", store._seq)
        list(map(add, range(5)))
        assert _counter(ddb) == 125
    finally:
        moto.stop()  # no close(): as if killed
    with (state / "dynamodb.journal").open("ab") as f:
        f.write(b"gAAAAAtorn")  # a torn last record (only a machine crash can leave one)

    moto, store, ddb = _moto_with_store(state)
    try:
        assert _counter(ddb) == 125
        for key, i in winners.items():  # replayed in the order moto applied them: the same winners
            assert ddb.get_item(TableName="t", Key={"PK": {"S": key}})["Item"]["by"] == {"N": str(i)}
    finally:
        store.close()
        moto.stop()
    assert _journal_size(state) == 0  # folded into the snapshot on a clean stop


def test_journal_is_folded_after_compact_records_writes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    moto, store, ddb = _moto_with_store(state, compact_records=10, compact_interval_s=3600)
    store.start()
    try:
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(9):  # with create_table: 10 writes
            ddb.put_item(TableName="t", Item={"PK": {"S": f"k{i}"}})
        deadline = time.monotonic() + 10
        while _journal_size(state) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _journal_size(state) == 0 and (state / "dynamodb.state").exists()
    finally:
        store.close()
        moto.stop()


def test_uploads_survive_a_restart(tmp_path: Path) -> None:
    """The uploads bucket is kept too: a contact file uploaded (presigned POST, as the web app does)
    before a restart can still be read (an import resumed after it re-reads its file)."""
    import requests

    state = tmp_path / "state"
    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "a.json", warm=False) as first:
        req = urllib.request.Request(
            f"{first.base_url}/v1/contact-imports",
            data=json.dumps({"file_name": "kept.csv"}).encode(),
            method="POST",
            headers={"authorization": f"Bearer {first.token}", "content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            started = json.load(resp)
        up = started["upload"]
        got = requests.post(
            up["url"], data=up["fields"], files={"file": ("kept.csv", b"first_name\nKept\n")}, timeout=10
        )
        assert got.status_code in (200, 201, 204), got.text
        bucket, key = first.env[manifest.UPLOADS_BUCKET.env], up["fields"]["key"]
    assert (state / "s3.state").exists()

    with LocalStack(port=0, state_dir=state, local_json=tmp_path / "b.json", warm=False) as second:
        s3 = boto3.client("s3", endpoint_url=second.endpoint, region_name=second.region)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"first_name\nKept\n"
