"""Lambda entry point: bus events (message.received, conversation.closed/assigned, interaction.queue_timeout) -> bots."""

from smsdesk.bots.runtime import handle_event
from smsdesk.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    handle_event(event)
