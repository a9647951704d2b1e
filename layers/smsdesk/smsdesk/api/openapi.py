"""The OpenAPI document lists, for each operation, the error statuses it really answers.

Powertools documents the success response and a 422 in its own shape. :class:`Resolver` rewrites the
generated document in one place (``/openapi.json`` and ``/docs`` alike):

* every error response has the one error schema (``Error``: ``{"error": {"code", "message", "field"}}``);
* derived from the route: 401 where API Gateway's JWT authorizer guards the path (``manifest.API``'s
  routes; public paths get ``security: []``), 415 and 422 with a request body, 422 with parameters,
  404 with path parameters (an unknown id);
* declared by the route, for what only its code knows (402, 403, 404 of an id in the body, 409, 503):
  ``@router.post(..., openapi_extensions=errors(403, 409))``;
* a 204 has no content.

Powertools' OpenAPI document models (``event_handler.openapi.models``, a large pydantic schema: about a
third of ``import boto3`` at cold start) are loaded only when a document is asked for (``/openapi.json``,
``/docs``), never to serve the API itself; request validation does not need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import manifest

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

#: The operation extension :func:`errors` sets and :func:`with_error_responses` turns into responses.
ERRORS_KEY = "x-smsdesk-errors"
_REF = "#/components/schemas/{model}"

DESCRIPTIONS = {
    401: "Not signed in (no token, or an expired or invalid one). Answered by API Gateway's JWT authorizer "
    'as `{"message": "Unauthorized"}`',
    402: "Not enough credits: `balance` and `cost` say how many there are and how many it takes",
    403: "Signed in, but not allowed (a role, or a channel not granted to your teams)",
    404: "Not found (`field` names the id)",
    409: "Conflicts with the current state (`code` says how)",
    413: "The answer would be too large (`code` says what to do instead)",
    415: "The body is not sent as `application/json`",
    422: "Invalid input: `field` names it (`body` for a body that is not UTF-8 JSON); `details` lists every "
    "problem found",
    503: "Could not complete now (nothing was charged or sent twice); retry, with the same `Idempotency-Key`",
}


# The error models below only describe the document (``_schemas``): built when it is asked for.
class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow", title="ErrorDetail", defer_build=True)
    code: str = Field(description="Machine-readable, e.g. `validation_error`, `not_found`, `insufficient_credits`")
    message: str = Field(description="For people")
    field: str | None = Field(description="The offending input (dotted path, header or query name), or null")


class Error(BaseModel):
    """Every error body."""

    model_config = ConfigDict(defer_build=True)

    error: ErrorDetail


class GatewayError(BaseModel):
    """A body API Gateway answers by itself (the JWT authorizer's 401)."""

    model_config = ConfigDict(defer_build=True)

    message: str


def errors(*codes: int) -> dict[str, Any]:
    """``openapi_extensions=`` for a route: the error statuses its code answers beyond the derived ones."""
    unknown = set(codes) - set(DESCRIPTIONS)
    if unknown:
        raise ValueError(f"no description for {sorted(unknown)}")
    return {ERRORS_KEY: sorted(codes)}


def _authorized(path: str) -> bool:
    """Whether API Gateway guards ``path`` with the JWT authorizer (the most specific route of the API
    function wins, as API Gateway picks it); ValueError if no route reaches it."""
    best: tuple[int, bool] | None = None
    for route in manifest.API.triggers:
        if not isinstance(route, manifest.HttpRoute):
            continue
        if route.path.endswith("/{proxy+}"):
            prefix = route.path[: -len("{proxy+}")]
            if path.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), route.authorized)
        elif route.path == path:
            best = (len(path) + 1, route.authorized)
    if best is None:
        raise ValueError(f"no API Gateway route reaches {path}")
    return best[1]


def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in (Error, GatewayError):
        schema = model.model_json_schema(ref_template=_REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _response(code: int) -> dict[str, Any]:
    ref: dict[str, Any] = {"$ref": _REF.format(model="Error")}
    schema = {"anyOf": [ref, {"$ref": _REF.format(model="GatewayError")}]} if code == 401 else ref
    return {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": schema}}}


def with_error_responses(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a generated document, as JSON) with every operation's error responses (see the module)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_schemas())
    for path, item in doc.get("paths", {}).items():
        authorized = _authorized(path)
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            codes = set(op.pop(ERRORS_KEY, []))
            params = op.get("parameters") or []
            if "requestBody" in op:
                codes |= {415, 422}
            if params:
                codes.add(422)
            if any(p.get("in") == "path" for p in params):
                codes.add(404)
            if authorized:
                codes.add(401)
            else:
                op["security"] = []
            responses = op["responses"]
            for key in [k for k in responses if int(k) >= 400]:
                del responses[key]
            if "204" in responses:
                responses["204"].pop("content", None)
            for code in sorted(codes):
                responses[str(code)] = _response(code)
    text = str(doc.get("paths"))
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"/{name}'" not in text:
            schemas.pop(name, None)
    return doc


class Resolver(APIGatewayHttpResolver):
    """The management API's resolver: its OpenAPI document has the error responses."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPI:
        from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

        generated = super().get_openapi_schema(*args, **kwargs)
        doc = generated.model_dump(mode="json", by_alias=True, exclude_none=True)
        return OpenAPI.model_validate(with_error_responses(doc))

    def enable_swagger(self, *, path: str = "/swagger", **kwargs: Any) -> None:
        """Swagger UI at ``path``, as Powertools' ``enable_swagger`` serves it (``?format=json``: the
        document; ``?format=oauth2-redirect``: the OAuth2 redirect page), with its modules loaded on the
        first request instead of at cold start. Options are not supported (the document is configured
        with ``configure_openapi``)."""
        if kwargs:
            raise TypeError(f"unsupported Swagger UI options: {sorted(kwargs)}")

        def swagger_ui():  # unannotated: Powertools would model a return annotation
            return self._swagger_ui()

        self.get(path, include_in_schema=False)(swagger_ui)

    def _swagger_ui(self) -> Response:
        from aws_lambda_powertools.event_handler import api_gateway
        from aws_lambda_powertools.event_handler.openapi.models import Server
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import (
            generate_oauth2_redirect_html,
            generate_swagger_html,
        )

        query = self.current_event.query_string_parameters or {}
        if query.get("format") == "oauth2-redirect":
            return Response(status_code=200, content_type="text/html", body=generate_oauth2_redirect_html())
        # </ escaped: the document is embedded in a <script> element
        spec = self.get_openapi_json_schema(servers=[Server(url=self._get_base_path() or "/")]).replace("</", "<\\/")
        if query.get("format") == "json":
            return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=spec)
        assets = Path(api_gateway.__file__).parent / "openapi" / "swagger_ui"
        js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
        css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
        return Response(
            status_code=200, content_type="text/html", body=generate_swagger_html(spec, js, css, None, None)
        )
