"""What ``--state-dir`` costs per write: the local stack with and without it (and with fsync).

    python bench/bench_state_dir.py [--n 200]

Prints a Markdown table: the median and p95 latency of a DynamoDB ``PutItem`` and of a Cognito
write through moto, and of ``POST /v1/credits/top-ups`` through the gateway (several DynamoDB
writes, the whole handler), then the cost of folding a journal into a snapshot and of replaying it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "smsdesk"))


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"{statistics.median(samples) * 1000:.2f} / {p95 * 1000:.2f}"


def _time(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def _run(mode: str, n: int) -> dict[str, list[float]]:
    import boto3

    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp:
        state = f"{tmp}/state" if mode != "off" else None
        # no compaction during the measurement
        stack = LocalStack(
            port=0,
            local_json=f"{tmp}/local.json",
            state_dir=state,
            warm=False,
            save_interval_s=3600,
            state_fsync=mode == "fsync",
        )
        with stack:
            ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
            idp = boto3.client("cognito-idp", endpoint_url=stack.endpoint, region_name=stack.region)
            table, pool = stack.env["TABLE_NAME"], stack.env["USER_POOL_ID"]

            def put(i: int) -> None:
                ddb.put_item(TableName=table, Item={"PK": {"S": f"B#{i}"}, "SK": {"S": "x"}, "v": {"N": str(i)}})

            def cognito(i: int) -> None:
                idp.admin_update_user_attributes(
                    UserPoolId=pool, Username="admin@smsdesk.local", UserAttributes=[{"Name": "name", "Value": f"A{i}"}]
                )

            def top_up(i: int) -> None:
                req = urllib.request.Request(
                    f"{stack.base_url}/v1/credits/top-ups",
                    data=json.dumps({"credits": 1, "reference": f"B{i}"}).encode(),
                    method="POST",
                    headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=15) as resp:
                    assert resp.status == 201

            put(-1), top_up(-1)  # warm
            return {
                "DynamoDB PutItem": _time(put, n),
                "Cognito AdminUpdateUserAttributes": _time(cognito, max(20, n // 4)),
                "POST /v1/credits/top-ups": _time(top_up, max(20, n // 4)),
            }


def _compaction(items: int) -> tuple[float, float, float, int]:
    """For a journal of ``items`` PutItems: seconds to fold it into the snapshot, seconds to start a
    stack that replays it, to start one with no state, and the journal's size in bytes."""
    import shutil

    import boto3

    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp:
        state, copy = Path(tmp) / "state", Path(tmp) / "copy"
        stack = LocalStack(
            port=0,
            local_json=f"{tmp}/a.json",
            state_dir=state,
            warm=False,
            seed=False,
            save_interval_s=3600,
            state_compact_records=items + 100,  # keep the whole journal
        )
        with stack:
            ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
            for i in range(items):
                ddb.put_item(
                    TableName=stack.env["TABLE_NAME"],
                    Item={"PK": {"S": f"C#{i}"}, "SK": {"S": "x"}, "body": {"S": "y" * 200}},
                )
            copy.mkdir()
            for name in ("key", "dynamodb.journal"):
                shutil.copy2(state / name, copy / name)
            size = (copy / "dynamodb.journal").stat().st_size
            t = time.perf_counter()
            stack.moto.compact()
            fold = time.perf_counter() - t
        t = time.perf_counter()
        with LocalStack(port=0, local_json=f"{tmp}/b.json", state_dir=copy, warm=False, seed=False):
            replay = time.perf_counter() - t
        t = time.perf_counter()
        with LocalStack(port=0, local_json=f"{tmp}/c.json", warm=False, seed=False):
            fresh = time.perf_counter() - t
        return fold, replay, fresh, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    results = {mode: _run(mode, args.n) for mode in ("off", "state-dir", "fsync")}
    print("| write (median / p95 ms) | no state dir | `--state-dir` | `--state-dir` + fsync |")
    print("|---|---|---|---|")
    for op in results["off"]:
        print(f"| {op} | " + " | ".join(_ms(results[m][op]) for m in ("off", "state-dir", "fsync")) + " |")
    fold, replay, fresh, size = _compaction(args.items)
    print(
        f"\nA journal of {args.items} PutItems ({size / 1e6:.1f} MB): folded into the snapshot in "
        f"{fold * 1000:.0f} ms; a start that replays it {replay:.1f} s "
        f"(start and stop of a stack without state: {fresh:.1f} s)"
    )


if __name__ == "__main__":
    main()
