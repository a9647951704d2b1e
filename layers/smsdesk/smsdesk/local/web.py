"""The web app on the local stack: ``web/dist`` (built by ``make web``) on the API's origin.

What CloudFront does in AWS (``infra/web.py``), the gateway does here for requests no API route
matches: ``GET /config.json`` answers the app's settings (Cognito ids, region, the Cognito endpoint,
here moto's server); a file of ``web/dist`` is served as is; any other ``GET`` of a page (a browser
navigation, ``Accept: text/html``) outside the API's prefixes gets ``index.html``, so a reload of
``/admin/channels`` works. Everything else keeps API Gateway's ``404 {"message":"Not Found"}``.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

#: Paths that belong to the API (or the local runtime): never answered with the app.
API_PREFIXES = ("/v1", "/webhooks", "/sandbox", "/health", "/docs", "/openapi.json", "/local")
SECURITY_HEADERS = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
]

Response = tuple[int, list[tuple[str, str]], bytes]


def app_config(*, region: str, user_pool_id: str, client_id: str, cognito_endpoint: str, stage: str) -> dict[str, Any]:
    """``config.json``: the same keys the CDK stack writes (``infra/web.py``)."""
    return {
        "region": region,
        "userPoolId": user_pool_id,
        "userPoolClientId": client_id,
        "cognitoEndpoint": cognito_endpoint,
        "apiBase": "",
        "stage": stage,
    }


class StaticSite:
    def __init__(self, root: Path, config: dict[str, Any]) -> None:
        self.root = root.resolve()
        self.config = config

    def _api_path(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)

    def respond(self, method: str, path: str, accept: str) -> Response | None:
        """The answer for an unrouted request, or None (the gateway's 404)."""
        if method not in ("GET", "HEAD") or self._api_path(path):
            return None
        if path == "/config.json":
            body = json.dumps(self.config).encode()
            return 200, [("content-type", "application/json"), ("cache-control", "no-store")], body
        file = (self.root / path.lstrip("/")).resolve()
        if path != "/" and file.is_file() and file.is_relative_to(self.root):
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            # Vite names assets by content hash: cache them for good; everything else revalidates.
            cache = "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
            return 200, [("content-type", ctype), ("cache-control", cache), *SECURITY_HEADERS], file.read_bytes()
        if path == "/" or "text/html" in accept:
            index = self.root / "index.html"
            if not index.is_file():
                msg = b"The web app is not built: run `make web` (make run builds it)."
                return 404, [("content-type", "text/plain; charset=utf-8")], msg
            headers = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-cache"), *SECURITY_HEADERS]
            return 200, headers, index.read_bytes()
        return None
