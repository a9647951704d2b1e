"""Lambda entry point: bus events (conversation.*, message.*) -> per-user notifications."""

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from smsdesk.notifier import handle_event
from smsdesk.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    handle_event(EventBridgeEvent(event))
