"""Lambda entry point: bus events (conversation.*, message.*) -> per-user notifications."""

from smsdesk.inbox.notifier import EventBridgeEvent, handle_event
from smsdesk.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    handle_event(EventBridgeEvent(event))
