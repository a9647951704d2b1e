"""Consumer of the inbound queue.

Foundation only: the record is parsed into its envelope (an unparsable record fails and is retried,
then dead-lettered) and logged. Inbound routing (blocklists, opt-outs, business hours, conversations) arrives with issue 5.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from smsdesk.envelopes import InboundEnvelope
from smsdesk.observability import logger, metrics


def handle_inbound(job: InboundEnvelope, record: SQSRecord) -> None:
    logger.info("inbound record received", extra={"message_id": record.message_id, "job": job.model_dump(mode="json")})
    metrics.add_metric(name="InboundRecords", unit=MetricUnit.Count, value=1)
