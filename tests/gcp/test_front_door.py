"""What the GCP entry point checks before the routes run, as API Gateway does on AWS: the token
(PyJWT against the issuer's JWKS), the route's scope and the body's model; and the settings each
GCP function refuses to start without. No emulator needed."""

from __future__ import annotations

import time
from typing import Any, Iterator

import jwt
import pytest

from handlers.gcp.access_tokens import AccessTokens, Unauthorized, scopes_of
from handlers.settings import GcpRelaySettings, GcpUsersApiSettings, GcpWelcomeSettings, SettingsError, TokenSettings
from local_runner.gcp.issuer import LocalIssuer
from users import contract

AUDIENCE = "archon-test-users-api"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    local = LocalIssuer(clients={"svc": (contract.READ_SCOPE, contract.CREATE_SCOPE), "reader": (contract.READ_SCOPE,)}, audience=AUDIENCE)
    yield local
    local.stop()


def _verifier(issuer: LocalIssuer, **overrides: Any) -> AccessTokens:
    fields: dict[str, Any] = {"issuer": issuer.url, "jwks_url": issuer.jwks_url, "audience": AUDIENCE, "client_ids": (), **overrides}
    return AccessTokens(TokenSettings(**fields))


def _token(issuer: LocalIssuer, name: str = "svc") -> str:
    client = next(c for c in issuer.clients if c.name == name)
    return str(issuer.token(client_id=client.client_id, secret=client.secret, scope=None)["access_token"])


def _forged(issuer: LocalIssuer, **claims: Any) -> str:
    """A token signed by the issuer's own key with chosen claims (the issuer's private key)."""
    now = int(time.time())
    body = {"iss": issuer.url, "sub": "c", "client_id": "c", "aud": AUDIENCE, "scope": contract.READ_SCOPE, "iat": now, "exp": now + 60, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, issuer._key, algorithm="RS256", headers={"kid": issuer._kid})


def test_the_issuers_token_is_accepted_with_its_scopes(issuer: LocalIssuer) -> None:
    claims = _verifier(issuer).claims(f"Bearer {_token(issuer)}")
    assert scopes_of(claims) == {contract.READ_SCOPE, contract.CREATE_SCOPE}
    assert scopes_of({"scp": [contract.READ_SCOPE]}) == {contract.READ_SCOPE} and scopes_of({}) == set()


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic abc", "Bearer not-a-jwt",
                                           "Bearer eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl91c2UiOiJpZCJ9.c2lnbmF0dXJl"])
def test_no_token_or_not_a_token_is_unauthorized(issuer: LocalIssuer, authorization: str | None) -> None:
    with pytest.raises(Unauthorized):
        _verifier(issuer).claims(authorization)


@pytest.mark.parametrize("claims", [
    {"iss": "https://another-issuer.example.com/"}, {"aud": "another-api"}, {"exp": int(time.time()) - 120},
    {"exp": None}, {"iat": None}, {"token_use": "id"},
])
def test_a_token_of_another_issuer_audience_or_time_is_unauthorized(issuer: LocalIssuer, claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthorized):
        _verifier(issuer).claims(f"Bearer {_forged(issuer, **claims)}")


def test_a_token_signed_by_another_key_or_alg_none_is_unauthorized(issuer: LocalIssuer) -> None:
    other = LocalIssuer(clients={"x": (contract.READ_SCOPE,)}, audience=AUDIENCE)
    try:
        foreign = jwt.encode({"iss": issuer.url, "aud": AUDIENCE, "iat": int(time.time()), "exp": int(time.time()) + 60}, other._key,
                             algorithm="RS256", headers={"kid": issuer._kid})
    finally:
        other.stop()
    unsigned = jwt.encode({"iss": issuer.url, "aud": AUDIENCE, "iat": int(time.time()), "exp": int(time.time()) + 60}, None,
                          algorithm="none", headers={"kid": issuer._kid})
    for token in (foreign, unsigned):
        with pytest.raises(Unauthorized):
            _verifier(issuer).claims(f"Bearer {token}")


def test_client_ids_admit_only_the_stages_clients(issuer: LocalIssuer) -> None:
    reader = next(c for c in issuer.clients if c.name == "reader")
    verifier = _verifier(issuer, audience=None, client_ids=(reader.client_id,))
    assert verifier.claims(f"Bearer {_token(issuer, 'reader')}")["client_id"] == reader.client_id
    with pytest.raises(Unauthorized):
        verifier.claims(f"Bearer {_token(issuer, 'svc')}")


GCP_ENV = {contract.ENV_GCP_PROJECT: "p", contract.ENV_FIRESTORE_DATABASE: "archon-dev", contract.ENV_TOKEN_ISSUER: "https://issuer.example.com/",
           contract.ENV_TOKEN_JWKS_URL: "https://issuer.example.com/.well-known/jwks.json", contract.ENV_TOKEN_AUDIENCE: "api",
           contract.ENV_CURSOR_KEY_FILE: "/etc/secrets/cursor/key.json", contract.ENV_WELCOME_TOPIC: "projects/p/topics/t",
           contract.ENV_SENDER_ADDRESS: "welcome@example.com", contract.ENV_DELIVERY_LEASE_SECONDS: "90", contract.ENV_SMTP_HOST: "smtp.example.com"}


def test_each_functions_settings_are_read_whole() -> None:
    api = GcpUsersApiSettings.from_environ(GCP_ENV)
    assert api.firestore.database == "archon-dev" and api.tokens.audience == "api" and api.timeout_seconds == 60
    assert GcpRelaySettings.from_environ(GCP_ENV).topic == "projects/p/topics/t"
    welcome = GcpWelcomeSettings.from_environ(GCP_ENV)
    assert (welcome.smtp_tls, welcome.smtp_port, welcome.lease_seconds) == ("starttls", 587, 90)
    assert GcpWelcomeSettings.from_environ({**GCP_ENV, contract.ENV_SMTP_TLS: "implicit"}).smtp_port == 465


@pytest.mark.parametrize(("change", "named"), [
    ({contract.ENV_TOKEN_ISSUER: "http://issuer.example.com/"}, contract.ENV_TOKEN_ISSUER),
    ({contract.ENV_TOKEN_AUDIENCE: ""}, contract.ENV_TOKEN_CLIENT_IDS),
    ({contract.ENV_FIRESTORE_DATABASE: ""}, contract.ENV_FIRESTORE_DATABASE),
    ({contract.ENV_WELCOME_TOPIC: "t"}, contract.ENV_WELCOME_TOPIC),
    ({contract.ENV_SMTP_TLS: "ssl"}, contract.ENV_SMTP_TLS),
    ({contract.ENV_SMTP_TLS: "none"}, "in clear"),
    ({contract.ENV_SMTP_USERNAME: "apikey"}, contract.ENV_SMTP_PASSWORD_FILE),
    ({contract.ENV_DELIVERY_LEASE_SECONDS: ""}, contract.ENV_DELIVERY_LEASE_SECONDS),
])
def test_a_missing_or_unsafe_setting_stops_the_function_naming_it(change: dict[str, str], named: str) -> None:
    environ = {**GCP_ENV, **change}
    with pytest.raises(SettingsError, match=named):
        GcpUsersApiSettings.from_environ(environ)
        GcpRelaySettings.from_environ(environ)
        GcpWelcomeSettings.from_environ(environ)
