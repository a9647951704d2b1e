"""One error shape for every answer an HTTP function gives, whatever went wrong.

:func:`install` wires a Powertools resolver (the management API and the webhooks) so that every error
body is ``{"error": {"code", "message", "field"}}`` (:mod:`smsdesk.errors`):

* an :class:`~smsdesk.errors.AppError` raised by a route or a business rule: its status and code;
* request validation (pydantic): 422 ``validation_error`` naming the first offending field;
* a request body that is not UTF-8 or not JSON: 422 ``invalid_body`` with ``field`` ``body``;
* a body in another media type than JSON: 415 ``unsupported_media_type`` (``field`` ``content-type``);
* no route for the path: 404 ``not_found``; a path served for other methods only: 405
  ``method_not_allowed`` with an ``Allow`` header;
* anything unexpected: 500 ``internal_error`` (logged with its traceback; the body says no more).

Request bodies are parsed here (:func:`json_body_validation`), not by Powertools' form/multipart
parsers: the API speaks JSON only.
"""

from __future__ import annotations

import base64
import binascii
import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from smsdesk.errors import AppError, ValidationError, error_body
from smsdesk.observability import logger


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"


class InvalidBody(ValidationError):
    code = "invalid_body"


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, with any parameters (``; charset=utf-8``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def request_body(event: Any) -> Any:
    """The request's JSON body (None when there is none): 415 unless it is sent as JSON (or without a
    content type), 422 ``invalid_body`` when it is not UTF-8 or not JSON."""
    raw = event.get("body")
    content_type = (event.get("headers") or {}).get("content-type", "")
    if raw in (None, ""):
        return None
    if content_type and not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {content_type.split(';', 1)[0].strip()}", field="content-type"
        )
    try:
        data = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode("utf-8")
        text = data.decode("utf-8")
    except (binascii.Error, UnicodeError) as exc:
        raise InvalidBody("the body is not UTF-8 text", field="body") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidBody(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", field="body"
        ) from exc


def json_body_validation() -> Any:
    """Powertools' request validation, with the body read by :func:`request_body` (JSON only).

    Built on demand: only a resolver with ``enable_validation`` uses it, and its module (Powertools'
    OpenAPI parameter machinery) is not worth loading in the webhooks function, which validates nothing
    but a signature.
    """
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
        OpenAPIRequestValidationMiddleware,
    )

    class JsonBodyValidation(OpenAPIRequestValidationMiddleware):
        def _get_body(self, app: Any) -> Any:
            return request_body(app.current_event.raw_event)

    return JsonBodyValidation()


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _field_path(loc: tuple | list) -> list[str]:
    """pydantic's location without the ``body``/``query`` prefix: the field as the client sent it."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return parts


def _field(loc: tuple | list) -> str | None:
    """The dotted field; ``body`` for the body as a whole (e.g. a list sent for an object)."""
    parts = _field_path(loc)
    if parts:
        return ".".join(parts)
    return "body" if loc and str(loc[0]) == "body" else None


def validation_response(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":  # Powertools' own JSON parsing (not used by JsonBodyValidation)
        return _json(422, InvalidBody("the body is not valid JSON", field="body").body())
    field = _field(first.get("loc", ()))
    body = error_body(
        "validation_error", f"{field}: {first.get('msg', 'invalid')}" if field else "invalid request", field
    )
    body["error"]["details"] = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in errors]
    return _json(422, body)


def _allowed_methods(app: APIGatewayHttpResolver, path: str) -> list[str]:
    routes = list(getattr(app, "_static_routes", [])) + list(getattr(app, "_dynamic_routes", []))
    return sorted({r.method.upper() for r in routes if r.rule.match(path)})


def install(app: APIGatewayHttpResolver, *, what: str = "route") -> None:
    """Error handlers (and JSON-only body parsing) on ``app``; ``what`` names the thing a 404 did not find."""
    if getattr(app, "_request_validation_middleware", None) is not None:
        app._request_validation_middleware = json_body_validation()

    @app.exception_handler(AppError)
    def _app_error(exc: AppError) -> Response:
        if exc.status >= 500:
            logger.exception("application error")
        return _json(exc.status, exc.body())

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        return validation_response(exc)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(_exc: RequestUnsupportedContentType) -> Response:
        return _json(415, UnsupportedMediaType("send the body as application/json", field="content-type").body())

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        ev = app.current_event
        allowed = _allowed_methods(app, ev.path)
        if allowed:
            exc = MethodNotAllowed(f"{ev.http_method} is not allowed on {ev.path} (allowed: {', '.join(allowed)})")
            return _json(405, exc.body(), {"Allow": ", ".join(allowed)})
        return _json(404, error_body("not_found", f"no {what} {ev.http_method} {ev.path}"))

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        if isinstance(exc, NotFoundError):
            return _not_found(exc)
        status = exc.status_code if 400 <= exc.status_code < 600 else 500
        if status >= 500:
            logger.exception("service error")
        code = (
            HTTPStatus(status).phrase.lower().replace(" ", "_") if status in HTTPStatus._value2member_map_ else "error"
        )
        return _json(status, error_body(code, str(exc.msg)))

    @app.exception_handler(Exception)
    def _unexpected(_exc: Exception) -> Response:
        logger.exception("unhandled error")
        return _json(500, error_body("internal_error", "internal error; it was logged, please retry later"))
