"""The management API application: one resolver, routers per area, one error shape (``api.errors``),
error responses in the OpenAPI document (``api.openapi``).

``functions/api/index.py`` calls :func:`handle`. Routes live in ``smsdesk.api.routes``; a request loads
only the routers of its area (``AREAS``).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from smsdesk.api import errors
from smsdesk.api.openapi import Resolver

#: The route modules (``smsdesk.api.routes.<name>``) that answer each first path segment after ``/v1/``
#: (``""``: the public paths). A request loads only the modules of its own segment, on first use: a cold
#: start imports one area's code, not the whole API's (``tests/unit/test_api_areas.py`` checks every
#: route is reachable through this table). Within a segment the order is the inclusion order.
AREAS: dict[str, tuple[str, ...]] = {
    "": ("system",),
    "me": ("system", "notifications"),
    "users": ("users",),
    "teams": ("teams",),
    "channels": ("channels", "quiet_hours"),  # quiet_hours: /v1/channels/{id}/quiet-hours
    "blocklist": ("lists",),
    "opt-outs": ("lists",),
    "credits": ("credits",),
    "messages": ("messages",),
    "conversations": ("conversations", "transfers", "crm", "bots"),
    "notifications": ("notifications",),
    "contact-imports": ("imports",),
    "contacts": ("imports", "contacts", "crm"),  # imports first: /v1/contacts/export is not a contact id
    "contact-fields": ("contacts",),
    "groups": ("groups",),
    "audiences": ("audiences",),
    # issue 16: leads, deals, pipelines, links, notes
    "leads": ("crm",),
    "deals": ("crm",),
    "pipelines": ("crm",),
    "crm": ("crm",),
    # issue 15: bots (and a conversation's bot runs, above)
    "bots": ("bots",),
    # issue 14: campaigns
    "campaigns": ("campaigns",),
    # issue 14 item 6: quiet hours for marketing (the account's; a channel's, above)
    "quiet-hours": ("quiet_hours",),
}
ALL = tuple(dict.fromkeys(m for ms in AREAS.values() for m in ms))
#: The OpenAPI document and its Swagger UI list every operation: they load every router.
DOCUMENTS = ("/openapi.json", "/docs")

app = Resolver(enable_validation=True)
app.configure_openapi(
    title="smsdesk management API",
    version="0.1.0",
    description="Serverless SMS contact center. Authenticate with a Cognito JWT: `Authorization: Bearer <token>`. "
    'Every error answers `{"error": {"code", "message", "field"}}`.',
    # a plain dict (validated into Powertools' HTTPBearer with the document): the OpenAPI models are
    # loaded only when a document is asked for (api.openapi)
    security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},  # type: ignore[dict-item]
    security=[{"bearer": []}],
)
app.enable_swagger(path="/docs")
errors.install(app)


_included: set[str] = set()
_lock = threading.Lock()


def include(*names: str) -> None:
    """Include these route modules' routers (once each; safe from concurrent requests)."""
    with _lock:
        for name in names:
            if name not in _included:
                app.include_router(importlib.import_module(f"smsdesk.api.routes.{name}").router)
                _included.add(name)


def area_of(path: str) -> str:
    """The ``AREAS`` key of a request path: ``/v1/contacts/x`` → ``contacts``; anything else → ``""``."""
    parts = path.split("/", 3)
    return parts[2] if len(parts) > 2 and parts[1] == "v1" else ""


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API Gateway HTTP API event, loading the routers its path needs first."""
    path = event.get("rawPath") or event.get("path") or "/"
    include(*(ALL if path in DOCUMENTS else AREAS.get(area_of(path), ())))
    return app.resolve(event, context)


@app.get("/openapi.json", include_in_schema=False)
def _openapi():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=app.get_openapi_json_schema())
