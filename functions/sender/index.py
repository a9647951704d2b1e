"""Lambda entry point: the outbound queue (SQS batch, partial failures)."""

from smsdesk.envelopes import OutboundJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch
from smsdesk.sending.sender import handle_outbound


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, OutboundJob, handle_outbound)
