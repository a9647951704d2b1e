"""Consumer of the fanout queue.

Foundation only: the record is parsed into its envelope (an unparsable record fails and is retried,
then dead-lettered) and logged. Campaign expansion arrives with the campaigns issue.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from smsdesk.envelopes import FanoutJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import SQSRecord


def handle_fanout(job: FanoutJob, record: SQSRecord) -> None:
    logger.info("fanout record received", extra={"message_id": record.message_id, "job": job.model_dump(mode="json")})
    metrics.add_metric(name="FanoutRecords", unit=MetricUnit.Count, value=1)
