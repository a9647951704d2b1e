"""Lambda entry point: the campaign fan-out queue (SQS batch of one; campaigns/fanout.py), and the bus
rule of campaign messages' outcomes (campaigns/results.py)."""

from smsdesk.campaigns.fanout import handle_fanout
from smsdesk.envelopes import FanoutJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    if "Records" not in event and event.get("source"):  # an EventBridge event: a message's outcome
        from smsdesk.campaigns import results

        results.apply(event)
        return None
    return process_queue_batch(event, context, FanoutJob, handle_fanout)
