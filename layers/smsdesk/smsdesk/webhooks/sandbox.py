"""The sandbox provider's own side (local stack only): ``GET /sandbox/outbox``, every send attempt the
sandbox carrier saw, newest first. Outside the local stack these routes answer 404 (and are never
deployed: the manifest marks ``/sandbox/{proxy+}`` local-only).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from smsdesk import config
from smsdesk.data import sandbox as repo
from smsdesk.errors import NotFound, ValidationError
from smsdesk.webhooks.routes import raw_event

router = APIGatewayHttpRouter()


@router.get("/sandbox/outbox")
def outbox() -> dict[str, Any]:
    if not config.is_local():
        raise NotFound("the sandbox exists only on the local stack")
    query = raw_event().get("queryStringParameters") or {}
    raw_limit = query.get("limit") or "50"
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        raise ValidationError("limit must be an integer from 1 to 200", field="limit")
    items, cursor = repo.list_outbox(limit=int(raw_limit), cursor=query.get("cursor"))
    return {"messages": items, "next_cursor": cursor}
