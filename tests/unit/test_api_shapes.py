"""The management API's public contract that needs no AWS: health, error shapes, OpenAPI."""

import importlib.util
import json
from pathlib import Path

from apigw import FakeContext, http_event

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fn_api_index", ROOT / "functions/api/index.py")
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)


def call(event):
    resp = api.handler(event, FakeContext())
    return resp["statusCode"], json.loads(resp["body"]) if resp.get("body") else None


def test_health_is_public_and_ok():
    status, body = call(http_event("GET", "/health"))
    assert status == 200
    assert body["status"] == "ok"


def test_unknown_route_is_404_with_the_error_shape():
    status, body = call(http_event("GET", "/v1/nope", claims={"sub": "u1"}))
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert "field" in body["error"]


def test_v1_without_authorizer_claims_is_401_with_the_error_shape():
    status, body = call(http_event("GET", "/v1/me"))
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "missing or invalid bearer token", "field": None}}


def test_openapi_document_lists_the_routes():
    status, body = call(http_event("GET", "/openapi.json"))
    assert status == 200
    assert body["openapi"].startswith("3.")
    assert "/v1/me" in body["paths"]
    assert "bearer" in body["components"]["securitySchemes"]


ADMIN = {"sub": "u1", "cognito:groups": ["owner"]}


def test_preview_counts_like_the_carrier():
    status, body = call(http_event("POST", "/v1/messages/preview", body={"text": "a" * 161}, claims=ADMIN))
    assert status == 200
    assert (body["encoding"], body["segments"], body["units"], body["credits"]) == ("GSM-7", 2, 161, 2)


def test_preview_normalises_the_recipient_with_the_default_country():
    status, body = call(
        http_event("POST", "/v1/messages/preview", body={"text": "hé", "to": "06 12345678"}, claims=ADMIN)
    )
    assert status == 200
    assert body["to"] == "+31612345678"


def test_preview_rejects_a_landline_naming_the_field():
    status, body = call(
        http_event("POST", "/v1/messages/preview", body={"text": "hi", "to": "020 123 4567"}, claims=ADMIN)
    )
    assert status == 422
    assert body["error"]["field"] == "to"


def test_preview_missing_text_is_422_naming_the_field():
    status, body = call(http_event("POST", "/v1/messages/preview", body={"to": "+31612345678"}, claims=ADMIN))
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["field"] == "text"


def test_preview_unknown_property_is_refused():
    status, body = call(http_event("POST", "/v1/messages/preview", body={"text": "x", "colour": 1}, claims=ADMIN))
    assert status == 422
    assert body["error"]["field"] == "colour"


def test_preview_needs_a_caller():
    status, _ = call(http_event("POST", "/v1/messages/preview", body={"text": "x"}))
    assert status == 401
