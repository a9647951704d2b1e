"""Lambda entry point: the management API (API Gateway HTTP API, JWT-authorized /v1 routes)."""

from aws_lambda_powertools.logging import correlation_paths

from smsdesk.api.app import handle
from smsdesk.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event, context):
    return handle(event, context)
