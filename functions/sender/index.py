"""Lambda entry point: the outbound queue (SQS batch, partial failures)."""

from smsdesk.envelopes import OutboundJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import jobs_of, process_queue_batch
from smsdesk.sending.sender import handle_outbound, reserve_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    reserve_batch(jobs_of(event, OutboundJob))  # one rate-limit update per channel for the whole batch
    return process_queue_batch(event, context, OutboundJob, handle_outbound)
