"""Lambda entry point: provider webhooks (public routes; signatures verified in code)."""

from aws_lambda_powertools.logging import correlation_paths

from smsdesk.observability import logger, metrics
from smsdesk.webhooks.app import app


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
