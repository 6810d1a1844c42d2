"""The user pool's token endpoint, locally: the client-credentials grant, signed with the key
moto's user pools sign with, so the gateway's authorizer verifies the tokens as API Gateway would."""

from __future__ import annotations

import time
import uuid
from typing import Any

from local_runner import moto_compat
from local_runner.provisioning import LocalResources


class TokenRefused(Exception):
    """The token endpoint's refusal, in OAuth's terms (RFC 6749 5.2): `error` and a sentence."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _moto_signing_key() -> Any:
    """The emulated user pool's private signing key: moto signs every pool's tokens with it,
    and the runner's authorizer verifies them with its public half."""
    import jwt

    return jwt.PyJWK.from_dict(moto_compat.cognito_private_key())


def client_credentials_token(resources: LocalResources, *, client_id: str, secret: str | None, scope: str | None) -> dict[str, Any]:
    """Cognito's token endpoint for the client-credentials grant: the client's id and secret for
    an access token with the scopes asked for (all the client's scopes when none are)."""
    import jwt

    client = next((c for c in resources.clients.values() if c.client_id == client_id), None)
    if client is None or client.secret is None or secret != client.secret:
        raise TokenRefused("invalid_client", "unknown client or wrong secret")
    asked = scope.split() if scope else list(client.scopes)
    if not asked or any(s not in client.scopes for s in asked):
        raise TokenRefused("invalid_scope", f"this client may ask for: {' '.join(client.scopes) or '(no scopes)'}")
    key = _moto_signing_key()
    now = int(time.time())
    claims = {
        "sub": client.client_id, "client_id": client.client_id, "token_use": "access", "scope": " ".join(asked),
        "auth_time": now, "iat": now, "exp": now + client.access_token_minutes * 60, "version": 2,
        "iss": f"https://cognito-idp.{resources.region}.amazonaws.com/{resources.user_pool_id}",
        "jti": str(uuid.uuid4()),
    }
    token = jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": key.key_id})
    return {"access_token": token, "token_type": "Bearer", "expires_in": client.access_token_minutes * 60}


def local_token(resources: LocalResources, scopes: list[str] | None = None) -> dict[str, Any]:
    """A token for `make token`: from a client of the template that may have these scopes (by
    default the client with the most), through the same grant a deployed client uses."""
    clients = sorted(resources.clients.values(), key=lambda c: -len(c.scopes))
    wanted = scopes or list(clients[0].scopes)
    client = next((c for c in clients if c.secret is not None and set(wanted) <= set(c.scopes)), None)
    if client is None:
        known = sorted({s for c in clients for s in c.scopes})
        raise TokenRefused("invalid_scope", f"no client of the template may have {' '.join(wanted)}; scopes in use: {' '.join(known)}")
    issued = client_credentials_token(resources, client_id=client.client_id, secret=client.secret, scope=" ".join(wanted))
    return {"token": issued["access_token"], "client_id": client.client_id, "scopes": wanted}
