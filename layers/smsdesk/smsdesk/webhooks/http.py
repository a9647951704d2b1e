"""A small router for the webhooks function's API Gateway HTTP API (payload 2.0) events.

The webhooks function serves four fixed routes and validates nothing but a signature, so it does
not use Powertools' event handler: importing any of it runs that package's ``__init__``, which loads
every resolver (AppSync with asyncio, Bedrock, VPC Lattice) and every event data class, a quarter of
``import boto3`` again at every cold start of the function that answers providers. What the routes
use of it is kept, with the same names: ``router.post``/``router.get`` with ``<name>`` path
parameters, ``router.current_event.raw_event``, :class:`Response` (a ``dict`` a route returns is a
200 JSON answer), and the management API's answers to errors (``smsdesk.api.errors``): an
:class:`~smsdesk.errors.AppError` its status and body, no route 404 ``not_found``, a path served for
other methods only 405 ``method_not_allowed`` with ``Allow``, anything else 500 ``internal_error``
(logged). ``tests/unit/test_api_errors.py`` holds both functions to that.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from smsdesk.errors import AppError, error_body
from smsdesk.observability import logger

APPLICATION_JSON = "application/json"

T = TypeVar("T")
Handler = Callable[..., Any]

#: A ``<name>`` path parameter matches one path segment (the characters Powertools' resolver allows).
_PARAM = re.compile(r"<(\w+)>")
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


class Response(Generic[T]):
    """An answer: ``body`` is sent as is (``str``/``bytes``) or as JSON (anything else, when the
    content type is JSON)."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: T | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = int(status_code)
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})
        if content_type:
            self.headers.setdefault("Content-Type", content_type)

    def to_event(self) -> dict[str, Any]:
        """The Lambda proxy answer (payload 2.0)."""
        body: Any = self.body
        encoded = False
        if isinstance(body, bytes):
            body, encoded = base64.b64encode(body).decode(), True
        elif body is not None and not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        return {
            "statusCode": self.status_code,
            "body": "" if body is None else body,
            "isBase64Encoded": encoded,
            "headers": self.headers,
            "cookies": [],
        }


class Request:
    """The event being answered (``raw_event``: the API Gateway event as it came)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.raw_event = event

    @property
    def path(self) -> str:
        return self.raw_event.get("rawPath") or "/"

    @property
    def http_method(self) -> str:
        return str(((self.raw_event.get("requestContext") or {}).get("http") or {}).get("method", "GET")).upper()


_current = threading.local()


class Router:
    """Routes registered with ``@router.post(rule)`` / ``@router.get(rule)``."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    @property
    def current_event(self) -> Request:
        return _current.request

    def route(self, rule: str, method: str) -> Callable[[Handler], Handler]:
        pattern = re.compile("^" + _PARAM.sub(lambda m: f"(?P<{m[1]}>{_SEGMENT})", rule) + "$")

        def register(func: Handler) -> Handler:
            self.routes.append((method.upper(), pattern, func))
            return func

        return register

    def get(self, rule: str) -> Callable[[Handler], Handler]:
        return self.route(rule, "GET")

    def post(self, rule: str) -> Callable[[Handler], Handler]:
        return self.route(rule, "POST")


class App(Router):
    """The function's resolver: its routers' routes, in the order they were included."""

    def __init__(self, *, what: str = "route") -> None:
        super().__init__()
        self.what = what

    def include_router(self, router: Router) -> None:
        self.routes.extend(router.routes)

    def resolve(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        request = Request(event)
        _current.request = request
        try:
            return self._answer(request).to_event()
        finally:
            _current.request = None

    def _answer(self, request: Request) -> Response[Any]:
        method, path = request.http_method, request.path
        allowed: set[str] = set()
        for route_method, pattern, func in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            if route_method != method:
                allowed.add(route_method)
                continue
            try:
                result = func(**match.groupdict())
            except AppError as exc:
                if exc.status >= 500:
                    logger.exception("application error")
                return Response(exc.status, APPLICATION_JSON, exc.body())
            except Exception:
                logger.exception("unhandled error")
                return Response(
                    500,
                    APPLICATION_JSON,
                    error_body("internal_error", "internal error; it was logged, please retry later"),
                )
            return result if isinstance(result, Response) else Response(200, APPLICATION_JSON, result)
        if allowed:
            methods = ", ".join(sorted(allowed))
            message = f"{method} is not allowed on {path} (allowed: {methods})"
            return Response(405, APPLICATION_JSON, error_body("method_not_allowed", message), {"Allow": methods})
        return Response(404, APPLICATION_JSON, error_body("not_found", f"no {self.what} {method} {path}"))
