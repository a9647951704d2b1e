"""The local stack's HTTP functions serve requests concurrently, each request seeing its own event.

A Powertools resolver keeps the request on the ``BaseRouter`` class; the local runtime makes that state
per thread (``smsdesk.local.resolvers``) instead of running every HTTP invocation behind one lock.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smsdesk import manifest
from smsdesk.local.functions import FunctionRegistry
from smsdesk.local.invocations import InvocationLog

PARALLEL = 4

_FUNCTION = f"""
import threading

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

app = APIGatewayHttpResolver()
router = APIGatewayHttpRouter()
#: Every request waits here until {PARALLEL} are in the handler at once: served one at a time, it times out.
together = threading.Barrier({PARALLEL}, timeout=10)


@router.get("/echo/<name>")
def echo(name: str):
    together.wait()
    # read after every request has set its own event: a shared slot would hold the last one
    event = router.current_event
    return {{
        "name": name,
        "path": event.path,
        "query": event.query_string_parameters.get("q"),
        "request_id": router.lambda_context.aws_request_id,
        "app_path": app.current_event.path,
        "route_args": app.context.get("_route_args"),
    }}


app.include_router(router)


def handler(event, context):
    return app.resolve(event, context)
"""


def _event(name: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "GET /echo/{name}",
        "rawPath": f"/echo/{name}",
        "rawQueryString": f"q={name}",
        "queryStringParameters": {"q": name},
        "pathParameters": {"name": name},
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": f"/echo/{name}"}, "stage": "$default"},
        "isBase64Encoded": False,
    }


def test_concurrent_requests_each_see_their_own_event(tmp_path: Path) -> None:
    (tmp_path / "functions" / "echo").mkdir(parents=True)
    (tmp_path / "functions" / "echo" / "index.py").write_text(_FUNCTION)
    fn = manifest.Function(
        name="echo-test",
        description="test",
        entry="echo",
        memory_mb=128,
        timeout_s=10,
        access=(),
        triggers=(manifest.HttpRoute("GET", "/echo/{name}", authorized=False),),
    )
    registry = FunctionRegistry(tmp_path, "eu-west-1", InvocationLog())
    registry.load(fn)
    names = [f"n{i}" for i in range(PARALLEL)]

    def call(name: str) -> dict[str, Any]:
        result = registry.invoke(fn, _event(name), trigger="http", source="GET /echo/{name}")
        assert result["statusCode"] == 200, result
        return json.loads(result["body"])

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(call, names))

    for name, body in zip(names, results, strict=True):
        assert body["name"] == name
        assert body["path"] == f"/echo/{name}"
        assert body["app_path"] == f"/echo/{name}"
        assert body["query"] == name
        assert body["route_args"] == {"name": name}
    assert len({b["request_id"] for b in results}) == PARALLEL
