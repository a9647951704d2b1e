"""The timers function: a fired timer (from an SQS delay or a Scheduler schedule) runs the action its
kind names in ``timers.ACTIONS``.

The modules whose actions run here are imported by this module, at the top of the import graph: they
import ``timers`` to schedule, so ``timers`` cannot import them. ``transfers`` (and the whole
conversation side behind it) loads with the first timer that needs it, not at every cold start.
"""

from __future__ import annotations

import time

from aws_lambda_powertools.metrics import MetricUnit

from smsdesk import aws, config, manifest
from smsdesk.envelopes import TimerFired
from smsdesk.inbox.timers import BOT_WAIT, TRANSFER_RETURN, delay_seconds, fire
from smsdesk.models import utcnow
from smsdesk.observability import logger, metrics
from smsdesk.runtime import SQSRecord


def _register_actions(kind: str) -> None:
    """Load the module whose import registers ``kind``'s action (``timers`` registers its own)."""
    if kind == TRANSFER_RETURN:
        from smsdesk.inbox import transfers  # noqa: F401
    elif kind == BOT_WAIT:
        from smsdesk.bots import runtime  # noqa: F401


def handle_timer(timer: TimerFired, record: SQSRecord) -> None:
    _register_actions(timer.kind)
    now = utcnow()
    lateness = (now - timer.due_at).total_seconds()
    if lateness < -1:
        # Clock skew delivered it early: put it back for the rest of the delay.
        delay = delay_seconds(timer.due_at, now) or 0
        aws.sqs().send_message(
            QueueUrl=config.queue_url(manifest.TIMERS_QUEUE), MessageBody=timer.model_dump_json(), DelaySeconds=delay
        )
        return
    if lateness < 0:
        time.sleep(-lateness)  # the sub-second remainder DelaySeconds cannot express
        now = utcnow()
        lateness = (now - timer.due_at).total_seconds()
    metrics.add_metric(name="TimersFired", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TimerLatenessMs", unit=MetricUnit.Milliseconds, value=max(0.0, lateness * 1000))
    logger.info("timer fired", extra={"timer_id": timer.timer_id, "kind": timer.kind, "lateness_s": lateness})
    fire(timer, now=now)
