"""The local gateway's web app serving (smsdesk.local.web): what CloudFront does in AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smsdesk.local.web import StaticSite, app_config

HTML = "text/html,application/xhtml+xml"


@pytest.fixture
def site(tmp_path: Path) -> StaticSite:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("no")
    cfg = app_config(region="eu-west-1", user_pool_id="p", client_id="c", cognito_endpoint="http://x", stage="local")
    return StaticSite(tmp_path, cfg)


def test_config_json_has_the_cognito_settings(site: StaticSite) -> None:
    status, headers, body = site.respond("GET", "/config.json", "*/*") or (0, [], b"")
    assert status == 200 and ("cache-control", "no-store") in headers
    assert json.loads(body) == {
        "region": "eu-west-1",
        "userPoolId": "p",
        "userPoolClientId": "c",
        "cognitoEndpoint": "http://x",
        "apiBase": "",
        "stage": "local",
    }


def test_assets_are_served_and_cached_for_good(site: StaticSite) -> None:
    status, headers, body = site.respond("GET", "/assets/index-abc.js", "*/*") or (0, [], b"")
    assert status == 200 and body == b"console.log(1)"
    assert ("cache-control", "public, max-age=31536000, immutable") in headers
    assert any(k == "content-type" and "javascript" in v for k, v in headers)


def test_page_paths_fall_back_to_index_html(site: StaticSite) -> None:
    for path in ("/", "/admin/channels/ch_1"):
        status, _, body = site.respond("GET", path, HTML if path != "/" else "*/*") or (0, [], b"")
        assert status == 200 and b"<title>app</title>" in body


def test_api_paths_and_non_pages_are_left_to_the_gateway(site: StaticSite) -> None:
    for path in ("/v1", "/v1/nope", "/webhooks/x", "/sandbox/outbox", "/health", "/docs", "/openapi.json", "/local/x"):
        assert site.respond("GET", path, HTML) is None, path
    assert site.respond("GET", "/nope", "*/*") is None  # curl and scripts keep API Gateway's 404
    assert site.respond("POST", "/", HTML) is None
    assert site.respond("GET", "/../secret.txt", "*/*") is None  # nothing outside web/dist


def test_missing_build_says_how_to_build(tmp_path: Path) -> None:
    status, _, body = StaticSite(tmp_path / "dist", {}).respond("GET", "/", HTML) or (0, [], b"")
    assert status == 404 and b"make web" in body
