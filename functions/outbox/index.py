"""Lambda entry point: the main table's DynamoDB stream (the outbox; partial batch failures)."""

from smsdesk.observability import logger
from smsdesk.outbox_relay import handle


@logger.inject_lambda_context
def handler(event, context):
    return handle(event)
