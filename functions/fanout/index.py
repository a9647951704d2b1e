"""Lambda entry point: the campaign fan-out queue (SQS batch of one; campaigns/fanout.py), and the
campaign-results queue of campaign messages' outcomes (batches; campaigns/results.py)."""

from smsdesk.campaigns import results
from smsdesk.campaigns.fanout import handle_fanout
from smsdesk.envelopes import FanoutJob
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    if results.is_batch(event):  # the campaign-results queue: outcomes, counted per campaign
        return results.handle_batch(event)
    if results.is_bus_event(event):  # the previous release's bus rule, during an upgrade
        return {"counted": results.apply_bus_event(event)}
    return process_queue_batch(event, context, FanoutJob, handle_fanout)
