"""Lambda entry point: the imports queue (S3 object-created events of uploaded contact files, and an
import's continuations; batch of one)."""

from smsdesk.crm.imports import handle_event
from smsdesk.envelopes import ImportEvent
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, ImportEvent, lambda job, _record: handle_event(job, context))
