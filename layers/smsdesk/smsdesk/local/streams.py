"""DynamoDB Streams event source mappings, locally: one thread per ``StreamTrigger``.

moto records a table's stream (``NEW_AND_OLD_IMAGES``) in its backend (``table.stream_shard.items``,
one ``StreamRecord`` per write, in the order moto applied them), but its ``dynamodbstreams`` API cannot
be read through boto3 (``DescribeStream`` is not implemented in moto 5.2.5). The moto process serves the
shard on its control endpoint instead (``local/moto_process.py``: ``/_smsdesk/streams/<table>``), and
:class:`StreamPoller` reads it as the Lambda event source mapping reads a shard:

* in order, from the oldest record not yet done (``TRIM_HORIZON``), up to ``batch_size`` at a time
  (a long poll: the read waits in the moto process until a record is written);
* records that match none of the trigger's filter patterns are dropped without an invocation;
* the function gets a Lambda DynamoDB Streams event; ``batchItemFailures`` names the first record to
  retry (everything before it is done; an unknown or empty identifier fails the whole batch), an
  exception fails the whole batch and halves it (``BisectBatchOnFunctionError``);
* a batch still failing after ``retry_attempts`` retries is described (shard, sequence numbers, as
  AWS's on-failure record) on the trigger's dead-letter queue and skipped.

The records that are done are removed from moto's shard (its ``starting_sequence_number`` moves on, so
new sequence numbers stay increasing): the shard itself is the position, so nothing else needs saving
with ``--state-dir`` (a restored shard holds what was not done when the snapshot was taken; journaled
writes replayed on start append their records again: at-least-once, as a stream is). The moto process
reads and trims under its DynamoDB lock (``moto_server``), so a poller never sees the records of a
transaction that ``moto_transactions`` is about to roll back.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import threading
import time
from typing import Any

from smsdesk import manifest
from smsdesk.local.functions import FunctionRegistry
from smsdesk.local.moto_client import ACCOUNT_ID, MotoProcess

log = logging.getLogger("smsdesk_local")

#: How long one read waits in the moto process for a record (the stop flag is checked in between).
READ_WAIT_S = 1.0


# -- filter criteria (the subset of EventBridge patterns Lambda filters use here) -----------------------


def matches(pattern: dict[str, Any], data: Any) -> bool:
    """Whether ``data`` (a stream record) matches a Lambda filter pattern: nested objects; each leaf a
    list of alternatives (exact values, ``{"exists": bool}``, ``{"prefix": str}``, ``{"anything-but": [...]}``)."""
    if not isinstance(data, dict):
        return False
    for key, rule in pattern.items():
        present = key in data
        value = data.get(key)
        if isinstance(rule, dict):
            if not present or not matches(rule, value):
                return False
            continue
        if not isinstance(rule, list):
            raise ValueError(f"filter rule for {key!r} must be an object or a list")
        if not any(_leaf(alt, present, value) for alt in rule):
            return False
    return True


def _leaf(alt: Any, present: bool, value: Any) -> bool:
    if isinstance(alt, dict):
        if "exists" in alt:
            return present == bool(alt["exists"])
        if "prefix" in alt:
            return present and isinstance(value, str) and value.startswith(alt["prefix"])
        if "anything-but" in alt:
            but = alt["anything-but"]
            return present and value not in (but if isinstance(but, list) else [but])
        raise ValueError(f"unsupported filter rule {alt!r}")
    return present and value == alt


# -- the poller ---------------------------------------------------------------------------------------


def _lambda_record(raw: dict[str, Any], region: str, stream_arn: str) -> dict[str, Any]:
    rec = copy.deepcopy(raw)
    ddb = rec["dynamodb"]
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        ddb["ApproximateCreationDateTime"] = int(created.replace(tzinfo=created.tzinfo or dt.UTC).timestamp())
    elif isinstance(created, float):
        ddb["ApproximateCreationDateTime"] = int(created)
    rec["awsRegion"] = region
    rec["eventSourceARN"] = stream_arn
    return rec


class StreamPoller(threading.Thread):
    def __init__(
        self,
        *,
        function: manifest.Function,
        trigger: manifest.StreamTrigger,
        table_name: str,
        region: str,
        functions: FunctionRegistry,
        stop: threading.Event,
        dlq_url: str,
        moto: MotoProcess,
        retry_base_s: float = 0.05,
    ) -> None:
        super().__init__(name=f"stream-{trigger.name}", daemon=True)
        self.function = function
        self.trigger = trigger
        self.table_name = table_name
        self.region = region
        self.functions = functions
        self._stop_event = stop
        self.dlq_url = dlq_url
        self.moto = moto
        self.retry_base_s = retry_base_s
        self._label: str | None = None

    # -- moto's shard, through the moto process ---------------------------------------------------

    def stream_arn(self) -> str:
        label = self._label or "local"
        return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{self.table_name}/stream/{label}"

    def _read(self, limit: int, wait_s: float = 0.0) -> list[dict[str, Any]]:
        got = self.moto.stream_read(self.table_name, limit, wait_s)
        self._label = got.get("label") or self._label
        return list(got["records"])

    def _done(self, records: list[dict[str, Any]]) -> None:
        """Remove the first ``len(records)`` records (those just read, which nothing else removes)."""
        if records:
            self.moto.stream_done(self.table_name, [r["dynamodb"]["SequenceNumber"] for r in records])

    def pending(self) -> int:
        """Records not yet done (for tests: ``wait_idle``)."""
        return self.moto.stream_pending(self.table_name)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every record written so far is done (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.02)
        return False

    # -- the event source mapping ---------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                records = self._read(self.trigger.batch_size, READ_WAIT_S)
                if not records:
                    continue
                self.process(records)
            except Exception:
                if self._stop_event.is_set():
                    return
                log.exception("stream poller %s failed; retrying", self.name)
                self._stop_event.wait(1)

    def process(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (the oldest not done) until each is done or dead-lettered."""
        patterns = self.trigger.filters  # a record passes when it matches any of them
        arn = self.stream_arn()
        size = len(records)
        attempt = 0
        while records and not self._stop_event.is_set():
            batch = records[:size]
            keep = [r for r in batch if not patterns or any(matches(p, r) for p in patterns)]
            if not keep:
                self._done(batch)
                records, attempt, size = records[len(batch) :], 0, len(records) - len(batch)
                continue
            event = {"Records": [_lambda_record(r, self.region, arn) for r in keep]}
            failed_from: int | None  # index in ``batch`` of the first record to retry
            try:
                result = self.functions.invoke(self.function, event, trigger="stream", source=self.trigger.name)
            except Exception:
                failed_from, whole = 0, True
            else:
                failed_from, whole = self._first_failure(batch, result)
            if failed_from is None:
                self._done(batch)
                records, attempt, size = records[len(batch) :], 0, len(records) - len(batch)
                continue
            self._done(batch[:failed_from])
            records = records[failed_from:]
            if failed_from:
                attempt, size = 0, len(records)
                continue
            attempt += 1
            if attempt > self.trigger.retry_attempts:
                self._dead_letter(batch)
                self._done(batch)
                records, attempt, size = records[len(batch) :], 0, len(records) - len(batch)
                continue
            if whole and len(batch) > 1:  # BisectBatchOnFunctionError
                size = max(1, len(batch) // 2)
            self._stop_event.wait(min(2.0, self.retry_base_s * 2 ** (attempt - 1)))

    @staticmethod
    def _first_failure(batch: list[dict[str, Any]], result: Any) -> tuple[int | None, bool]:
        failures = (result or {}).get("batchItemFailures") or [] if isinstance(result, dict) else []
        if not failures:
            return None, False
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
        first: int | None = None
        for f in failures:
            ident = f.get("itemIdentifier") if isinstance(f, dict) else None
            if not ident or ident not in seqs:
                return 0, True  # Lambda treats an invalid identifier as a failure of the whole batch
            i = seqs.index(ident)
            first = i if first is None else min(first, i)
        return first, False

    def _dead_letter(self, batch: list[dict[str, Any]]) -> None:
        """What AWS sends to a stream mapping's on-failure destination: where the records are, not them."""
        from smsdesk import aws

        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function.name},
            "responseContext": {"statusCode": 200},
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn(),
            },
        }
        log.error("stream %s: batch dead-lettered after %d retries", self.trigger.name, self.trigger.retry_attempts)
        try:
            aws.sqs().send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(body))
        except Exception:
            log.exception("stream %s: could not write to its dead-letter queue", self.trigger.name)
