"""The management API application: one resolver, routers per area, one error shape (``api.errors``),
error responses in the OpenAPI document (``api.openapi``).

``functions/api/index.py`` calls :func:`handle`. Routes live in ``smsdesk.api.routes``.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types

from smsdesk.api import errors
from smsdesk.api.openapi import Resolver
from smsdesk.api.routes import (
    audiences,
    campaigns,
    channels,
    contacts,
    conversations,
    credits,
    groups,
    imports,
    lists,
    messages,
    notifications,
    system,
    teams,
    transfers,
    users,
)

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
for _module in (
    system,
    users,
    teams,
    channels,
    lists,
    credits,
    messages,
    conversations,
    transfers,
    notifications,
    imports,  # before contacts: /v1/contacts/export is not a contact id
    contacts,
    groups,
    audiences,
    campaigns,
):
    app.include_router(_module.router)
errors.install(app)


@app.get("/openapi.json", include_in_schema=False)
def _openapi():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=app.get_openapi_json_schema())
