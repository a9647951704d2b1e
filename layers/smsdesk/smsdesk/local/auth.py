"""What API Gateway's HTTP API JWT authorizer (Cognito issuer) does before the Lambda runs.

Identity source ``$request.header.Authorization``: the token alone or prefixed with ``Bearer``.
Checks: RS256 signature against the issuer's JWKS (fetched from moto's
``/<pool_id>/.well-known/jwks.json``), ``iss`` equal to the issuer, ``aud`` (ID token) or
``client_id`` (access token, when there is no ``aud``) equal to the app client, ``exp`` in the
future, ``nbf``/``iat`` not in the future. Any failure: 401 ``{"message":"Unauthorized"}``.
Claims reach the handler as API Gateway renders them: every value a string, arrays as ``[a b]``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

LEEWAY_S = 0


class AuthError(Exception):
    """The request is not authorized; ``description`` goes into ``www-authenticate``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def render_claim(value: Any) -> str:
    """API Gateway's rendering of a JWT claim in ``requestContext.authorizer.jwt.claims``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(render_claim(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class JwtAuthorizer:
    def __init__(self, *, issuer: str, audience: list[str], jwks_url: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            # API Gateway caches the JWKS; on an unknown kid refetch, at most every 5 s.
            if self._keys is None or (refresh and time.monotonic() - self._fetched_at > 5):
                with urllib.request.urlopen(self.jwks_url, timeout=5) as resp:
                    self._keys = KeySet.import_key_set(json.loads(resp.read()))
                self._fetched_at = time.monotonic()
            return self._keys

    @staticmethod
    def token_from_header(value: str | None) -> str:
        if not value or not value.strip():
            raise AuthError("missing token")
        parts = value.strip().split()
        if len(parts) == 2 and parts[0].lower() == "bearer":
            return parts[1]
        if len(parts) == 1:
            return parts[0]
        raise AuthError("malformed authorization header")

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The verified claims (raw JSON values); raise :class:`AuthError`."""
        token = self.token_from_header(authorization)
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise AuthError("invalid token") from exc
        if header.get("alg") != "RS256":
            raise AuthError("unsupported algorithm")
        kid = header.get("kid")
        keys = self._key_set()
        if kid and not any(k.kid == kid for k in keys.keys):
            keys = self._key_set(refresh=True)
        try:
            decoded = jwt.decode(token, keys, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise AuthError("signature verification failed") from exc
        claims = dict(decoded.claims)
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise AuthError("invalid issuer")
        aud = claims.get("aud")
        audiences = (aud if isinstance(aud, list) else [aud]) if aud is not None else [claims.get("client_id")]
        if not any(a in self.audience for a in audiences if a):
            raise AuthError("invalid audience")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now - LEEWAY_S:
            raise AuthError("the token has expired")
        for name in ("nbf", "iat"):
            v = claims.get(name)
            if v is not None and (not isinstance(v, int | float) or v > now + LEEWAY_S + 1):
                raise AuthError(f"the token is not valid yet ({name})")
        return claims
