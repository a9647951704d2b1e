"""The HTTP API gateway: manifest HttpRoutes -> payload format 2.0 events -> the functions' handlers.

Route selection follows API Gateway HTTP APIs: the most specific path wins (exact paths beat
``{proxy+}`` greedy routes, longer literal prefixes beat shorter ones), and a method route beats
``ANY``. No route: 404 ``{"message":"Not Found"}``; authorizer failure: 401
``{"message":"Unauthorized"}``; handler exception: 500 ``{"message":"Internal Server Error"}``.

Local-only route (not in AWS, no auth): ``GET /local/invocations[?since=N&function=NAME&kind=K]``.
Unrouted ``GET``s outside the API's paths go to the web app (``local/web.py``), as CloudFront does in AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from smsdesk import manifest
from smsdesk.local.auth import AuthError, JwtAuthorizer, render_claim
from smsdesk.local.functions import FunctionRegistry
from smsdesk.local.invocations import InvocationLog
from smsdesk.local.moto_client import ACCOUNT_ID
from smsdesk.local.web import StaticSite

log = logging.getLogger("smsdesk_local")

LOCAL_INVOCATIONS_PATH = "/local/invocations"
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|ecmascript|graphql|x-yaml|yaml))$", re.I
)


@dataclass(frozen=True)
class Route:
    function: manifest.Function
    route: manifest.HttpRoute
    regex: re.Pattern[str]
    params: tuple[str, ...]
    greedy: bool
    literal_len: int

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


def compile_route(fn: manifest.Function, route: manifest.HttpRoute) -> Route:
    parts = [p for p in route.path.split("/") if p]
    regex, params, greedy, literal = "", [], False, 0
    for p in parts:
        m = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", p)
        if m and m.group(2):
            regex += rf"/(?P<{m.group(1)}>.+)"
            params.append(m.group(1))
            greedy = True
        elif m:
            regex += rf"/(?P<{m.group(1)}>[^/]+)"
            params.append(m.group(1))
        else:
            regex += "/" + re.escape(p)
            literal += 1
    # DOTALL: a path parameter may hold any character (%0A included), as API Gateway routes it.
    return Route(fn, route, re.compile(f"^{regex or '/'}$", re.DOTALL), tuple(params), greedy, literal)


def manifest_routes() -> list[Route]:
    return [compile_route(fn, t) for fn in manifest.FUNCTIONS for t in fn.triggers if isinstance(t, manifest.HttpRoute)]


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
    for r in routes:
        if r.route.method not in ("ANY", method):
            continue
        m = r.regex.match(path)
        if not m:
            continue
        rank = (0 if r.greedy else 1, r.literal_len, 1 if r.route.method == method else 0)
        if best is None or rank > best[0]:
            best = (rank, r, {k: v for k, v in m.groupdict().items() if v is not None})
    return (best[1], best[2]) if best else None


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    route: Route,
    path_params: dict[str, str],
    claims: dict[str, Any] | None,
    domain: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    hdrs: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in headers:
        k = k.lower()
        if k == "cookie":
            cookies.extend(c.strip() for c in v.split(";") if c.strip())
            continue
        hdrs[k] = f"{hdrs[k]},{v}" if k in hdrs else v
    qsp: dict[str, str] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        qsp[k] = f"{qsp[k]},{v}" if k in qsp else v
    now = time.time()
    request_id = base64.b32encode(uuid.uuid4().bytes).decode()[:16]
    hdrs.setdefault("x-forwarded-for", source_ip)
    hdrs.setdefault("x-forwarded-proto", "http")
    hdrs.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")
    ctx: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": method,
            "path": unquote(raw_path),
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": hdrs.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        ctx["authorizer"] = {"jwt": {"claims": {k: render_claim(v) for k, v in claims.items()}, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": ctx,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if qsp:
        event["queryStringParameters"] = qsp
    if path_params:
        event["pathParameters"] = path_params
    if body:
        ctype = hdrs.get("content-type", "").split(";")[0].strip()
        if ctype and _TEXT_TYPES.match(ctype):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            # HTTP APIs base64-encode every body that is not text (form posts included).
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def to_http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Payload 2.0 response -> (status, headers, body), with API Gateway's inference for bare values."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = json.dumps(result).encode()
        return 200, [("content-type", "application/json")], body
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((k, str(v)) for v in values)
    headers.extend(("set-cookie", c) for c in result.get("cookies") or [])
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    if not any(k.lower() == "content-type" for k, _ in headers) and body:
        headers.append(("content-type", "application/json"))
    return int(result["statusCode"]), headers, body


class GatewayServer(ThreadingHTTPServer):
    """One daemon thread per connection, and a listen backlog for bursts of clients.

    ``socketserver``'s default backlog is 5: a burst of concurrent connections overflows the
    kernel's accept queue before the accept loop drains it, and the surplus clients stall on SYN
    retransmits or are reset. The kernel caps the backlog at ``net.core.somaxconn``.
    """

    request_queue_size = 1024
    daemon_threads = True  # a client holding a keep-alive connection never blocks shutdown
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (``curl | head``, a closed tab) is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Gateway:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        functions: FunctionRegistry,
        authorizer: Callable[[], JwtAuthorizer],
        log_: InvocationLog,
        site: StaticSite | None = None,
    ) -> None:
        self.routes = manifest_routes()
        self.site = site
        self.functions = functions
        self._authorizer = authorizer
        self.log = log_
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "smsdesk-local"

            def log_message(self, format: str, *args: Any) -> None:  # the invocation log says enough
                pass

            def _any(self) -> None:
                gateway.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _any

        self.server = GatewayServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # ----------------------------------------------------------------------------------------------

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        try:
            status, headers, body = self._dispatch(req)
        except Exception:  # a bug in the gateway itself
            log.exception("gateway error")
            status, headers, body = 500, [("content-type", "application/json")], b'{"message":"Internal Server Error"}'
        req.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                req.send_header(k, v)
        req.send_header("content-length", str(len(body)))
        req.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)

    def _dispatch(self, req: BaseHTTPRequestHandler) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(req.headers.get("content-length") or 0)
        body = req.rfile.read(length) if length else b""
        split = urlsplit(req.path)
        raw_path, raw_query = split.path or "/", split.query
        method = req.command.upper()
        if method == "GET" and raw_path == LOCAL_INVOCATIONS_PATH:
            return self._invocations(raw_query)
        found = match_route(self.routes, method, unquote(raw_path))
        if found is None:
            page = self.site.respond(method, raw_path, req.headers.get("accept", "")) if self.site else None
            return page or _message(404, "Not Found")
        route, params = found
        claims = None
        if route.route.authorized:
            try:
                claims = self._authorizer().verify(req.headers.get("authorization"))
            except AuthError as exc:
                return _message(
                    401,
                    "Unauthorized",
                    [
                        (
                            "www-authenticate",
                            f'Bearer scope="" error="invalid_token" error_description="{exc.description}"',
                        )
                    ],
                )
        event = build_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=list(req.headers.items()),
            body=body,
            source_ip=req.client_address[0],
            route=route,
            path_params=params,
            claims=claims,
            domain=req.headers.get("host", "localhost"),
        )
        try:
            result = self.functions.invoke(route.function, event, trigger="http", source=route.route_key)
        except Exception:
            log.exception("function %s raised", route.function.name)
            return _message(500, "Internal Server Error")
        return to_http_response(result)

    def _invocations(self, raw_query: str) -> tuple[int, list[tuple[str, str]], bytes]:
        q = dict(parse_qsl(raw_query))
        entries = self.log.entries(kind=q.get("kind"), function=q.get("function"), since=int(q.get("since", "0") or 0))
        body = json.dumps({"invocations": entries, "last_seq": self.log.last_seq}, default=str).encode()
        return 200, [("content-type", "application/json")], body


def _message(
    status: int, message: str, extra: list[tuple[str, str]] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return status, [("content-type", "application/json"), *(extra or [])], body
