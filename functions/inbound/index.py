"""Lambda entry point: the inbound queue (SQS batch, partial failures)."""

from smsdesk.envelopes import InboundEnvelope
from smsdesk.inbound import handle_inbound
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, InboundEnvelope, handle_inbound)
