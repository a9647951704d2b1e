"""Every error the API functions answer has one shape, and the OpenAPI document lists them (no AWS)."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from apigw import FakeContext, http_event
from smsdesk import manifest
from smsdesk.data import table
from smsdesk.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]


def _handler(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_index", ROOT / f"functions/{name}/index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


api = _handler("api")
webhooks = _handler("webhooks")
OWNER = {"sub": "u1", "cognito:groups": ["owner"]}


def call(event: dict[str, Any], handler: Any = api) -> tuple[int, dict[str, str], Any]:
    resp = handler(event, FakeContext())
    headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
    return resp["statusCode"], headers, json.loads(resp["body"]) if resp.get("body") else None


def assert_error_shape(body: Any, code: str, field: str | None) -> None:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert {"code", "message", "field"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert (body["error"]["code"], body["error"]["field"]) == (code, field), body


def openapi() -> dict[str, Any]:
    status, _, doc = call(http_event("GET", "/openapi.json"))
    assert status == 200
    return doc


def body_operations() -> list[tuple[str, str]]:
    """(method, concrete path) of every operation that takes a JSON body."""
    out = []
    for path, item in openapi()["paths"].items():
        for method, op in item.items():
            if "requestBody" in op:
                out.append((method.upper(), re.sub(r"\{[^}]+\}", "x1", path)))
    return sorted(out)


BODY_OPERATIONS = body_operations()


def test_there_are_body_operations() -> None:
    assert len(BODY_OPERATIONS) >= 15 and ("POST", "/v1/messages") in BODY_OPERATIONS


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_that_is_not_utf8_is_422_naming_the_body(method: str, path: str) -> None:
    event = http_event(method, path, claims=OWNER)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b'{"text": "\xff\xfe"}').decode(), True
    status, _, body = call(event)
    assert status == 422
    assert_error_shape(body, "invalid_body", "body")


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_that_is_not_json_is_422_naming_the_body(method: str, path: str) -> None:
    event = http_event(method, path, claims=OWNER)
    event["body"] = '{"text": '
    status, _, body = call(event)
    assert status == 422
    assert_error_shape(body, "invalid_body", "body")
    assert "not valid JSON" in body["error"]["message"] and "line 1, column 10" in body["error"]["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonx"]
)
def test_a_body_in_another_media_type_is_415(content_type: str) -> None:
    event = http_event("POST", "/v1/teams", claims=OWNER, headers={"content-type": content_type})
    event["body"] = "name=x"
    status, _, body = call(event)
    assert status == 415
    assert_error_shape(body, "unsupported_media_type", "content-type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json", ""])
def test_json_media_types_and_none_are_read_as_json(content_type: str) -> None:
    event = http_event("POST", "/v1/messages/preview", claims=OWNER, headers={"content-type": content_type})
    event["body"] = json.dumps({"text": "hi"})
    status, _, body = call(event)
    assert status == 200, body


def test_a_body_of_the_wrong_type_names_the_body() -> None:
    status, _, body = call(http_event("POST", "/v1/messages/preview", claims=OWNER, body=["hi"]))
    assert status == 422
    assert_error_shape(body, "validation_error", "body")


def test_a_missing_body_names_the_body() -> None:
    status, _, body = call(http_event("POST", "/v1/messages/preview", claims=OWNER))
    assert status == 422
    assert_error_shape(body, "validation_error", "body")


def test_a_known_path_with_another_method_is_405_with_allow() -> None:
    status, headers, body = call(http_event("DELETE", "/v1/me", claims=OWNER))
    assert status == 405 and headers["allow"] == "GET, PATCH"
    assert_error_shape(body, "method_not_allowed", None)
    status, headers, _ = call(http_event("PUT", "/v1/channels/c1", claims=OWNER))
    assert status == 405 and headers["allow"] == "GET, PATCH"


def test_an_unknown_path_is_404() -> None:
    status, _, body = call(http_event("GET", "/v1/nope", claims=OWNER))
    assert status == 404
    assert_error_shape(body, "not_found", None)


def test_an_unexpected_exception_is_500_internal_error_and_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from smsdesk.api import errors
    from smsdesk.api.routes import system

    logged: list[tuple[str, BaseException | None]] = []
    monkeypatch.setattr(errors.logger, "exception", lambda msg, *a, **k: logged.append((msg, sys.exc_info()[1])))

    def boom() -> str:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(system.config, "stage", boom)
    status, _, body = call(http_event("GET", "/health"))
    assert status == 500
    assert_error_shape(body, "internal_error", None)
    assert "secret detail" not in json.dumps(body)
    assert [(msg, str(exc)) for msg, exc in logged] == [("unhandled error", "secret detail")]


def test_webhooks_answer_the_same_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    status, _, body = call(http_event("POST", "/webhooks/nope/c1/status"), webhooks)
    assert status == 404
    assert_error_shape(body, "not_found", "provider")
    status, headers, body = call(http_event("GET", "/webhooks/sandbox/c1/status"), webhooks)
    assert status == 405 and headers["allow"] == "POST"
    assert_error_shape(body, "method_not_allowed", None)

    from smsdesk.webhooks import routes

    def boom(_name: str) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(routes, "is_known", boom)
    status, _, body = call(http_event("POST", "/webhooks/sandbox/c1/status"), webhooks)
    assert status == 500
    assert_error_shape(body, "internal_error", None)


# -- the OpenAPI document -------------------------------------------------------------------------


def test_every_operation_documents_its_error_responses_with_the_error_schema() -> None:
    doc = openapi()
    assert "Error" in doc["components"]["schemas"] and "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            codes = {int(c) for c in op["responses"]}
            errors = {c for c in codes if c >= 400}
            if path.startswith("/v1/"):
                assert 401 in errors and op.get("security") is None, where  # the document's bearer security
            else:
                assert 401 not in errors and op["security"] == [], where
            if "requestBody" in op:
                assert {415, 422} <= errors, where
            if any(p["in"] == "path" for p in op.get("parameters", [])):
                assert 404 in errors, where
            if not op.get("parameters") and "requestBody" not in op:
                assert 422 not in errors, where
            for code in errors:
                schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
                assert "#/components/schemas/Error" in json.dumps(schema), where
            assert any(200 <= c < 300 for c in codes), where


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "/v1/messages", {401, 402, 403, 404, 409, 415, 422, 503}),
        ("post", "/v1/users", {401, 403, 409, 415, 422}),
        ("get", "/v1/me", {401}),
        ("get", "/health", set()),
        ("delete", "/v1/blocklist/{number}", {401, 403, 404, 422}),
    ],
)
def test_documented_error_codes(method: str, path: str, codes: set[int]) -> None:
    responses = openapi()["paths"][path][method]["responses"]
    assert {int(c) for c in responses if int(c) >= 400} == codes


def test_success_codes_are_the_ones_answered() -> None:
    paths = openapi()["paths"]
    assert "201" in paths["/v1/teams"]["post"]["responses"] and "200" not in paths["/v1/teams"]["post"]["responses"]
    assert "204" in paths["/v1/opt-outs/{number}"]["delete"]["responses"]
    assert "content" not in paths["/v1/opt-outs/{number}"]["delete"]["responses"]["204"]


def test_every_documented_path_is_routed_by_api_gateway() -> None:
    from smsdesk.api.openapi import _authorized

    for path in openapi()["paths"]:
        assert _authorized(path) == path.startswith("/v1/"), path
    assert any(r.path == "/v1/{proxy+}" and r.authorized for r in manifest.API.triggers)


# -- cursors ------------------------------------------------------------------------------------------


def test_a_cursor_is_checked_against_the_query_it_resumes() -> None:
    key = {"PK": {"S": "TEAM#1"}, "SK": {"S": "META"}, "GSI1PK": {"S": "TEAMS"}, "GSI1SK": {"S": "t#1"}}
    assert table.check_start(key, index="GSI1", partition="TEAMS") == key
    for start, kwargs in [
        (key, {"index": "GSI1", "partition": "USERS"}),  # another list
        (key, {"index": "GSI2", "partition": "TEAMS"}),  # another index
        (key, {"index": None, "partition": "TEAM#1"}),  # extra attributes
        (key, {"index": "GSI1", "partition": "TEAMS", "sk_prefix": "u#"}),
        (key, {"index": "GSI1", "partition": "TEAMS", "sk_min": "u"}),
        ({**key, "PK": {"N": "1"}}, {"index": "GSI1", "partition": "TEAMS"}),
        ([1], {"index": "GSI1", "partition": "TEAMS"}),
    ]:
        with pytest.raises(ValidationError) as err:
            table.check_start(start, **kwargs)
        assert err.value.field == "cursor"


@pytest.mark.parametrize("cursor", ["!!", base64.urlsafe_b64encode(b'{"k": null}').decode(), "WzFd"])
def test_a_position_cursor_of_another_kind_is_422(cursor: str) -> None:
    with pytest.raises(ValidationError) as err:
        table.decode_position(cursor, "c", field="before")
    assert err.value.field == "before"
