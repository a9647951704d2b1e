"""What every SQS-triggered function shares: batch processing with partial failures.

``process_queue_batch`` does what Powertools' ``BatchProcessor`` + ``process_partial_response`` do for
SQS, without their import cost (the batch package loads asyncio, the Kinesis/Kafka/DynamoDB parser
models and every event data class: about half of ``import boto3`` again at every cold start): each
record is parsed into its envelope model and handed to the record handler; a record that raises is
reported in ``batchItemFailures`` so SQS retries only that one (the event source mapping enables
``ReportBatchItemFailures``); when every record of the batch fails, the invocation fails
(:class:`BatchFailed`), as Powertools' processor does, so the whole batch is retried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_log = logging.getLogger(__name__)


class SQSRecordAttributes:
    """The SQS system attributes of a record (the names of Powertools' ``SQSRecordAttributes``)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    @property
    def approximate_receive_count(self) -> str:
        return self._data["ApproximateReceiveCount"]

    @property
    def approximate_first_receive_timestamp(self) -> str:
        return self._data["ApproximateFirstReceiveTimestamp"]

    @property
    def sent_timestamp(self) -> str:
        return self._data["SentTimestamp"]


class SQSRecord:
    """One record of an SQS event: the part of Powertools' ``SQSRecord`` (same names) the handlers use.

    Record handlers are typed with this class; Powertools' own ``SQSRecord`` fits them as well.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.raw_event = data

    @property
    def message_id(self) -> str:
        return self.raw_event["messageId"]

    @property
    def receipt_handle(self) -> str:
        return self.raw_event["receiptHandle"]

    @property
    def body(self) -> str:
        return self.raw_event["body"]

    @property
    def attributes(self) -> SQSRecordAttributes:
        return SQSRecordAttributes(self.raw_event.get("attributes") or {})

    @property
    def event_source_arn(self) -> str:
        return self.raw_event["eventSourceARN"]


class BatchFailed(RuntimeError):
    """Every record of the batch failed: the invocation fails and SQS retries the whole batch."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(
            f"All records failed processing. {len(errors)} individual errors: "
            + "; ".join(f"{type(e).__name__}: {e}" for e in errors)
        )
        self.errors = errors


def parse_record(record: SQSRecord, model: type[M]) -> M:
    body = record.body
    data: Any = json.loads(body)
    # SNS -> SQS without raw delivery wraps the payload; unwrap so both arrive the same.
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = json.loads(data["Message"])
    return model.model_validate(data)


def jobs_of(event: Any, model: type[M]) -> list[M]:
    """The records of an SQS event that parse as ``model``, in order (the others are left to
    :func:`process_queue_batch`, which reports them): for a look at the whole batch before it runs."""
    out: list[M] = []
    for raw in (event.get("Records") if isinstance(event, dict) else None) or []:
        try:
            out.append(parse_record(SQSRecord(raw), model))
        except Exception:  # reported by process_queue_batch
            continue
    return out


def process_queue_batch(
    event: dict[str, Any], context: Any, model: type[M], handle: Callable[[M, SQSRecord], None]
) -> dict[str, Any]:
    """Handle each record of an SQS event; the partial batch response (the records that raised)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not records or not isinstance(records, list):
        raise ValueError("not an SQS batch event: no Records")
    failures: list[dict[str, str]] = []
    errors: list[BaseException] = []
    for raw in records:
        record = SQSRecord(raw)
        try:
            handle(parse_record(record, model), record)
        except Exception as exc:
            _log.debug("Record processing exception: %s:%s", type(exc), exc)
            errors.append(exc)
            failures.append({"itemIdentifier": record.message_id})
    if errors and len(errors) == len(records):
        raise BatchFailed(errors) from errors[0]
    return {"batchItemFailures": failures}
