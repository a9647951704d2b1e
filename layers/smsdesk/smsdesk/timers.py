"""Consumer of the timers queue: a timer came due (Scheduler one-time schedule or SQS delay).

Each timer ``kind`` maps to an action registered in ``ACTIONS``; the action re-checks the state of
its target before doing anything, so a timer that raced a cancel is harmless. Queue timers
(transfer return, max time in queue) register here with issue 6.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from smsdesk.envelopes import TimerFired
from smsdesk.observability import logger, metrics

ACTIONS: dict[str, Callable[[TimerFired], None]] = {}


def handle_timer(timer: TimerFired, record: SQSRecord) -> None:
    action = ACTIONS.get(timer.kind)
    metrics.add_metric(name="TimersFired", unit=MetricUnit.Count, value=1)
    if action is None:
        # A kind this version does not know (e.g. removed): nothing to re-check, so nothing to do.
        logger.warning("timer of unknown kind ignored", extra={"timer": timer.model_dump(mode="json")})
        return
    action(timer)
