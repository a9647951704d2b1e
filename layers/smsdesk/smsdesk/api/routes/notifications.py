"""Notifications: my preferences and my feed (newest first) with read marks."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from smsdesk.api.identity import caller
from smsdesk.inbox import notifications

router = APIGatewayHttpRouter()


@router.get("/v1/me/notification-preferences", summary="My notification preferences", tags=["notifications"])
def get_preferences() -> notifications.Preferences:
    return notifications.get_preferences(caller(router).user_id)


@router.put(
    "/v1/me/notification-preferences",
    summary="Change my notification preferences (fields left out keep their value)",
    tags=["notifications"],
)
def put_preferences(body: notifications.PreferencesUpdate) -> notifications.Preferences:
    return notifications.update_preferences(caller(router).user_id, body)


@router.get("/v1/notifications", summary="My notifications, newest first", tags=["notifications"])
def list_notifications(
    cursor: Annotated[str | None, Query()] = None, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> notifications.NotificationPage:
    return notifications.feed(caller(router).user_id, limit=limit, cursor=cursor)


@router.post("/v1/notifications/<notification_id>/read", summary="Mark a notification read", tags=["notifications"])
def mark_read(notification_id: str) -> dict[str, str]:
    notifications.mark_read(caller(router).user_id, notification_id)
    return {"id": notification_id, "status": "read"}
