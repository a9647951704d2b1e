"""What every SQS-triggered function shares: batch processing with partial failures.

``process_queue_batch`` wraps Powertools' ``BatchProcessor``: each record is parsed into its envelope
model and handed to the record handler; a record that raises is reported in ``batchItemFailures`` so
SQS retries only that one (the event source mapping enables ``ReportBatchItemFailures``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def parse_record(record: SQSRecord, model: type[M]) -> M:
    body = record.body
    data: Any = json.loads(body)
    # SNS -> SQS without raw delivery wraps the payload; unwrap so both arrive the same.
    if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
        data = json.loads(data["Message"])
    return model.model_validate(data)


def process_queue_batch(
    event: dict[str, Any], context: Any, model: type[M], handle: Callable[[M, SQSRecord], None]
) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        handle(parse_record(record, model), record)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
