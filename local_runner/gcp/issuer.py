"""The stage's OAuth 2.0 issuer, locally: machine clients from config with the client-credentials
grant, RS256 access tokens, and the JWKS the users API fetches over HTTP, as it would from any
issuer (Auth0, Okta, Keycloak, Entra ID: config/stages.yaml names the real one)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local_runner.tokens import TokenRefused

TOKEN_MINUTES = 60


@dataclass(frozen=True)
class IssuerClient:
    name: str
    client_id: str
    secret: str
    scopes: tuple[str, ...]


class LocalIssuer:
    def __init__(self, *, clients: dict[str, tuple[str, ...]], audience: str) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        self.audience = audience
        self.clients = [IssuerClient(name=name, client_id=f"local-{name}-{secrets.token_hex(6)}", secret=secrets.token_urlsafe(24),
                                     scopes=scopes) for name, scopes in clients.items()]
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        self._jwks = json.dumps({"keys": [{**jwk, "kid": self._kid, "use": "sig", "alg": "RS256"}]}).encode()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.jwks_url = f"{self.url}/.well-known/jwks.json"
        threading.Thread(target=self._server.serve_forever, name="LocalIssuer", daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        jwks = self._jwks

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                found = self.path == "/.well-known/jwks.json"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks if found else b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, *, client_id: str, secret: str | None, scope: str | None) -> dict[str, Any]:
        client = next((c for c in self.clients if c.client_id == client_id), None)
        if client is None or secret is None or not secrets.compare_digest(secret, client.secret):
            raise TokenRefused("invalid_client", "unknown client or wrong secret")
        asked = scope.split() if scope else list(client.scopes)
        if not asked or any(s not in client.scopes for s in asked):
            raise TokenRefused("invalid_scope", f"this client may ask for: {' '.join(client.scopes) or '(no scopes)'}")
        now = int(time.time())
        claims = {"iss": self.url, "sub": client.client_id, "client_id": client.client_id, "aud": self.audience,
                  "scope": " ".join(asked), "iat": now, "exp": now + TOKEN_MINUTES * 60, "jti": str(uuid.uuid4())}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_MINUTES * 60}

    def local_token(self, scopes: list[str] | None) -> dict[str, Any]:
        ranked = sorted(self.clients, key=lambda c: -len(c.scopes))
        wanted = scopes or list(ranked[0].scopes)
        client = next((c for c in ranked if set(wanted) <= set(c.scopes)), None)
        if client is None:
            known = sorted({s for c in ranked for s in c.scopes})
            raise TokenRefused("invalid_scope", f"no client of the stage may have {' '.join(wanted)}; scopes in use: {' '.join(known)}")
        issued = self.token(client_id=client.client_id, secret=client.secret, scope=" ".join(wanted))
        return {"token": issued["access_token"], "client_id": client.client_id, "scopes": wanted}
