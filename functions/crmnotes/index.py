"""Lambda entry point: bus events (crm.linked; messages of a conversation) -> transcript notes."""

from smsdesk.crm.noteshandler import handle
from smsdesk.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    handle(event)
