"""Bus events -> per-user notifications.

Foundation only: the event is received from the ``notifications`` rule and logged. Preferences and
the notification feed arrive with issue 6.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from smsdesk.observability import logger


def handle_event(event: EventBridgeEvent) -> None:
    logger.info("bus event received", extra={"detail_type": event.detail_type, "event_id": event.get_id})
