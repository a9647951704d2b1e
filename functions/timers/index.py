"""Lambda entry point: the timers queue, fed by Scheduler schedules and SQS delays."""

from smsdesk.envelopes import TimerFired
from smsdesk.inbox.timer_handler import handle_timer
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, TimerFired, handle_timer)
