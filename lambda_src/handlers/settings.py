"""Each function's settings, read once from its environment (the stack sets it; users.contract
names the variables) and checked: a missing or malformed one stops the init with a message that
names it, instead of a KeyError or a ValueError from deep inside the first request.

Plain dataclasses rather than a validation library: the processor never loads pydantic, which was
the largest part of its cold start, and a handful of strings need no more.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from users import contract


class SettingsError(RuntimeError):
    """The function's environment lacks a setting or holds a malformed one."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: the stack sets it on the function (cdk_app/stack.py)")
    return value


def _whole_number(environ: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    text = environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < minimum:
        raise SettingsError(f"{name} is {text!r}: give a whole number of at least {minimum}")
    return int(text)


@dataclass(frozen=True, kw_only=True)
class UsersApiSettings:
    table_name: str
    region: str
    write_region: str  # where creates commit; this region's replica serves reads
    cors_origins: tuple[str, ...]
    creates_per_caller_per_hour: int | None  # None: no per-caller limit
    cursor_key_secret: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> UsersApiSettings:
        region = _required(environ, "AWS_REGION")
        return cls(
            table_name=_required(environ, contract.ENV_TABLE_NAME),
            region=region,
            write_region=environ.get(contract.ENV_WRITE_REGION, "").strip() or region,
            cors_origins=tuple(o for o in environ.get(contract.ENV_CORS_ORIGINS, "").split(",") if o),
            creates_per_caller_per_hour=_whole_number(environ, contract.ENV_CREATES_PER_CALLER_PER_HOUR, minimum=1),
            cursor_key_secret=_required(environ, contract.ENV_CURSOR_KEY_SECRET),
        )


@dataclass(frozen=True, kw_only=True)
class NotificationsSettings:
    table_name: str
    sender: str
    lease_seconds: int  # a delivery's lease: longer than any invocation holding it

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> NotificationsSettings:
        lease = _whole_number(environ, contract.ENV_DELIVERY_LEASE_SECONDS, minimum=1)
        if lease is None:
            raise SettingsError(f"{contract.ENV_DELIVERY_LEASE_SECONDS} is not set: the stack sets it on the function (cdk_app/notifications.py)")
        return cls(table_name=_required(environ, contract.ENV_TABLE_NAME), sender=_required(environ, contract.ENV_SENDER_ADDRESS),
                   lease_seconds=lease)


def _origins(environ: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(o for o in environ.get(contract.ENV_CORS_ORIGINS, "").split(",") if o)


def _https_url(environ: Mapping[str, str], name: str, *, loopback_http: bool = True) -> str:
    value = _required(environ, name)
    loopback = value.startswith(("http://127.0.0.1:", "http://localhost:"))
    if not value.startswith("https://") and not (loopback_http and loopback):
        raise SettingsError(f"{name} is {value!r}: give an https:// URL (http:// only on loopback, for the local run)")
    return value


@dataclass(frozen=True, kw_only=True)
class FirestoreSettings:
    project: str
    database: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> FirestoreSettings:
        return cls(project=_required(environ, contract.ENV_GCP_PROJECT), database=_required(environ, contract.ENV_FIRESTORE_DATABASE))


@dataclass(frozen=True, kw_only=True)
class TokenSettings:
    """The stage's OAuth 2.0 issuer: tokens are checked against its JWKS, its issuer string and,
    where given, the audience and the machine clients' ids."""

    issuer: str
    jwks_url: str
    audience: str | None
    client_ids: tuple[str, ...]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> TokenSettings:
        clients = tuple(c.strip() for c in environ.get(contract.ENV_TOKEN_CLIENT_IDS, "").split(",") if c.strip())
        audience = environ.get(contract.ENV_TOKEN_AUDIENCE, "").strip() or None
        if audience is None and not clients:
            raise SettingsError(f"set {contract.ENV_TOKEN_AUDIENCE} or {contract.ENV_TOKEN_CLIENT_IDS}: without either, "
                                "any client of the issuer could call the API (config/stages.yaml: gcp.auth)")
        return cls(issuer=_https_url(environ, contract.ENV_TOKEN_ISSUER), jwks_url=_https_url(environ, contract.ENV_TOKEN_JWKS_URL),
                   audience=audience, client_ids=clients)


@dataclass(frozen=True, kw_only=True)
class GcpUsersApiSettings:
    firestore: FirestoreSettings
    tokens: TokenSettings
    cors_origins: tuple[str, ...]
    creates_per_caller_per_hour: int | None
    cursor_key_file: str
    timeout_seconds: int  # the function's timeout, as the sidecar sets it

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> GcpUsersApiSettings:
        return cls(firestore=FirestoreSettings.from_environ(environ), tokens=TokenSettings.from_environ(environ),
                   timeout_seconds=_whole_number(environ, contract.ENV_FUNCTION_TIMEOUT_SECONDS, minimum=1) or 60,
                   cors_origins=_origins(environ),
                   creates_per_caller_per_hour=_whole_number(environ, contract.ENV_CREATES_PER_CALLER_PER_HOUR, minimum=1),
                   cursor_key_file=_required(environ, contract.ENV_CURSOR_KEY_FILE))


@dataclass(frozen=True, kw_only=True)
class GcpRelaySettings:
    firestore: FirestoreSettings
    topic: str  # projects/<project>/topics/<name>

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> GcpRelaySettings:
        topic = _required(environ, contract.ENV_WELCOME_TOPIC)
        if not topic.startswith("projects/") or "/topics/" not in topic:
            raise SettingsError(f"{contract.ENV_WELCOME_TOPIC} is {topic!r}: give the topic's full name, projects/<project>/topics/<name>")
        return cls(firestore=FirestoreSettings.from_environ(environ), topic=topic)


@dataclass(frozen=True, kw_only=True)
class GcpWelcomeSettings:
    firestore: FirestoreSettings
    sender: str
    lease_seconds: int
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    smtp_username: str | None
    smtp_password_file: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> GcpWelcomeSettings:
        lease = _whole_number(environ, contract.ENV_DELIVERY_LEASE_SECONDS, minimum=1)
        if lease is None:
            raise SettingsError(f"{contract.ENV_DELIVERY_LEASE_SECONDS} is not set: the sidecar sets it on the function (terraform/modules/gcp-service)")
        host = _required(environ, contract.ENV_SMTP_HOST)
        tls = environ.get(contract.ENV_SMTP_TLS, "").strip() or "starttls"
        if tls not in ("implicit", "starttls", "none"):
            raise SettingsError(f"{contract.ENV_SMTP_TLS} is {tls!r}: give implicit (port 465), starttls (port 587) or none")
        if tls == "none" and host not in ("127.0.0.1", "localhost", "::1"):
            raise SettingsError(f"{contract.ENV_SMTP_TLS}=none sends mail in clear: only to a loopback sink, not to {host!r}")
        port = _whole_number(environ, contract.ENV_SMTP_PORT, minimum=1) or (465 if tls == "implicit" else 587)
        username = environ.get(contract.ENV_SMTP_USERNAME, "").strip() or None
        password_file = environ.get(contract.ENV_SMTP_PASSWORD_FILE, "").strip() or None
        if username and not password_file:
            raise SettingsError(f"{contract.ENV_SMTP_USERNAME} is set without {contract.ENV_SMTP_PASSWORD_FILE}: mount the "
                                "Secret Manager secret holding the SMTP password and name its file")
        return cls(firestore=FirestoreSettings.from_environ(environ), sender=_required(environ, contract.ENV_SENDER_ADDRESS),
                   lease_seconds=lease, smtp_host=host, smtp_port=port, smtp_tls=tls, smtp_username=username,
                   smtp_password_file=password_file)
