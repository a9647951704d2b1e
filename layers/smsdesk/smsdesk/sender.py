"""Consumer of the sender queue.

Foundation only: the record is parsed into its envelope (an unparsable record fails and is retried,
then dead-lettered) and logged. Provider sending, rate limits and retries arrive with issue 4.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from smsdesk.envelopes import OutboundJob
from smsdesk.observability import logger, metrics


def handle_outbound(job: OutboundJob, record: SQSRecord) -> None:
    logger.info("sender record received", extra={"message_id": record.message_id, "job": job.model_dump(mode="json")})
    metrics.add_metric(name="SenderRecords", unit=MetricUnit.Count, value=1)
