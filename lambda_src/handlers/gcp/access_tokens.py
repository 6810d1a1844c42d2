"""What API Gateway's Cognito authorizer checks on AWS, for any OAuth 2.0 issuer on GCP, with
PyJWT: the signature against the issuer's JWKS, the issuer, the expiry, the audience or the
machine client, then the route's scope. A bad token is 401; a good one without the scope, 403."""

from __future__ import annotations

from typing import Any

import jwt

from handlers.settings import TokenSettings

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 30  # clock skew between the issuer and the function
JWKS_CACHE_SECONDS = 300


class Unauthorized(Exception):
    """The token is missing, malformed, forged, expired, or not for this API."""


def scopes_of(claims: dict[str, Any]) -> set[str]:
    """OAuth's `scope` (a space-separated string) or `scp` (a list, as some issuers spell it)."""
    value = claims.get("scope", claims.get("scp", ""))
    return set(value.split() if isinstance(value, str) else value if isinstance(value, list) else ())


class AccessTokens:
    def __init__(self, settings: TokenSettings, *, jwks: jwt.PyJWKClient | None = None) -> None:
        self._settings = settings
        self._jwks = jwks or jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)

    def claims(self, authorization: str | None) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("no bearer token")
        try:
            key = self._jwks.get_signing_key_from_jwt(token.strip())
            claims: dict[str, Any] = jwt.decode(
                token.strip(), key=key.key, algorithms=ALGORITHMS, issuer=self._settings.issuer,
                audience=self._settings.audience, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss"], "verify_aud": self._settings.audience is not None})
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized(type(exc).__name__) from None
        if claims.get("token_use", "access") != "access":
            raise Unauthorized("not an access token")
        client = claims.get("client_id") or claims.get("azp")
        if self._settings.client_ids and client not in self._settings.client_ids:
            raise Unauthorized("not a client of this API")
        return claims
