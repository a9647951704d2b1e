"""The management API application: one resolver, routers per area, one error shape.

``functions/api/index.py`` calls :func:`handle`. Routes live in ``smsdesk.api.routes``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from smsdesk.api.routes import (
    channels,
    conversations,
    credits,
    lists,
    messages,
    notifications,
    system,
    teams,
    transfers,
    users,
)
from smsdesk.errors import AppError, error_body
from smsdesk.observability import logger

app = APIGatewayHttpResolver(enable_validation=True)
app.configure_openapi(
    title="smsdesk management API",
    version="0.1.0",
    description="Serverless SMS contact center. Authenticate with a Cognito JWT: `Authorization: Bearer <token>`.",
    security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
    security=[{"bearer": []}],
)
app.enable_swagger(path="/docs")
for _module in (system, users, teams, channels, lists, credits, messages, conversations, transfers, notifications):
    app.include_router(_module.router)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(AppError)
def _app_error(exc: AppError) -> Response:
    if exc.status >= 500:
        logger.exception("application error")
    return _json(exc.status, exc.body())


def _field_path(loc: tuple | list) -> list[str]:
    """pydantic's location without the ``body``/``query`` prefix: the field as the client sent it."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return parts


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = _field_path(first.get("loc", ()))
    field = ".".join(loc) or None
    details = [{"field": ".".join(_field_path(e.get("loc", ()))) or None, "message": e.get("msg", "")} for e in errors]
    body = error_body(
        "validation_error", f"{field}: {first.get('msg', 'invalid')}" if field else "invalid request", field
    )
    body["error"]["details"] = details
    return _json(422, body)


@app.not_found
def _not_found(_exc: Exception) -> Response:
    return _json(404, error_body("not_found", f"no route {app.current_event.http_method} {app.current_event.path}"))


@app.get("/openapi.json", include_in_schema=False)
def _openapi():
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=app.get_openapi_json_schema())
