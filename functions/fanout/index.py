"""Lambda entry point: the campaign fan-out queue (SQS batch of one)."""

from smsdesk.envelopes import FanoutJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch
from smsdesk.sending.fanout import handle_fanout


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, FanoutJob, handle_fanout)
