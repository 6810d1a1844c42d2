"""The AWS emulator (moto) and the local twins of the template's resources.

`memory` runs moto inside this process (fast, private); `server` starts moto's HTTP server on
loopback so the AWS CLI and other processes can look at the same state.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from local_runner import moto_compat
from local_runner.wiring import ACCOUNT, Wiring, WiringError


@dataclass(frozen=True)
class LocalClient:
    """An app client of the emulated user pool, as the template defines it."""

    client_id: str
    secret: str | None
    scopes: tuple[str, ...]
    access_token_minutes: int


@dataclass
class LocalResources:
    """What the template's logical ids became in the emulator."""

    region: str
    table_name: str
    stream_arn: str | None
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    user_pool_id: str = ""
    clients: dict[str, LocalClient] = field(default_factory=dict)  # client logical id -> its local twin

    def resolve(self, value: Any, wiring: Wiring, where: str) -> str:
        """A function environment value, with references to resources replaced by their local twins."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            target = value["Ref"]
            pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
            if target in pseudo:
                return pseudo[target]
            if target == wiring.table.logical_id:
                return self.table_name
            if target in self.queue_urls:
                return self.queue_urls[target]
            if target == wiring.user_pool.logical_id:
                return self.user_pool_id
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if target in self.queue_arns and attribute == "Arn":
                return self.queue_arns[target]
            if target in self.queue_urls and attribute == "QueueName":
                return wiring.queues[target].name
            if target == wiring.table.logical_id and attribute == "StreamArn" and self.stream_arn:
                return self.stream_arn
        if isinstance(value, dict) and "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(self.resolve(p, wiring, where) for p in parts)
        raise WiringError(f"{where}: cannot resolve {json.dumps(value)} locally")


class Emulator:
    def __init__(self, *, backend: str, region: str, moto_port: int = 0) -> None:
        if backend not in ("memory", "server"):
            raise WiringError(f"unknown backend '{backend}': use memory or server")
        self.backend, self.region = backend, region
        self.endpoint_url: str | None = None
        self._mock: Any = None
        self._server: Any = None
        self._moto_port = moto_port
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": region, "AWS_REGION": region}.items():
            os.environ[key] = value
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)

    def start(self) -> None:
        if self.backend == "server":
            # moto's server binds in its own thread, and a taken port there leaves this process
            # waiting for a server that never comes: take the port here first, so that the
            # failure is an OSError the command reports.
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind(("127.0.0.1", self._moto_port))
            finally:
                probe.close()
        moto_compat.install(in_process=self.backend == "memory")
        if self.backend == "memory":
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()
            # moto never checks a signature, and in this process nothing else can see the call:
            # the clients (the functions' too: they use the default session) skip computing
            # SigV4, a cost on every call. The server backend keeps signing, for the account.
            boto3.setup_default_session()
            boto3.DEFAULT_SESSION.events.register("choose-signer", _unsigned)
        else:
            from moto.server import ThreadedMotoServer

            # werkzeug logs each request moto's server answers at INFO, the pollers' several a
            # second: the console is one line per API request, so only its warnings show there.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._moto_port, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url  # every boto3 client, the functions' too

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
            moto_compat.uninstall(in_process=True)
        if self._server is not None:
            self._server.stop()
            self._server = None
            moto_compat.uninstall(in_process=False)

    def client(self, service: str) -> Any:
        """A client of the emulator. Creating one reads all of os.environ, which the function host
        swaps for each function it runs: create clients before the workers start, or under the
        host's lock, never beside a running function."""
        # Stream ARNs would otherwise route to an account-specific endpoint that moto does not serve.
        return boto3.client(service, region_name=self.region, config=Config(account_id_endpoint_mode="disabled"))

    def sent_emails(self, since: int = 0) -> list[Any]:
        """SES's outbox from the `since`-th email on; moto keeps it in this process in both backends."""
        return moto_compat.sent_emails(self.region)[since:]


def provision(emulator: Emulator, wiring: Wiring) -> LocalResources:
    """Creates the template's table, queues, user pool and sender identity in the emulator."""
    table = wiring.table
    dynamodb = emulator.client("dynamodb")
    create: dict[str, Any] = dict(
        TableName=table.name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=table.attributes, KeySchema=table.key_schema)
    if table.indexes:
        create["GlobalSecondaryIndexes"] = table.indexes
    if table.stream_view:
        create["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view}
    described = dynamodb.create_table(**create)["TableDescription"]
    if table.ttl_attribute:
        dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})
    resources = LocalResources(region=wiring.region, table_name=table.name, stream_arn=described.get("LatestStreamArn"))

    sqs = emulator.client("sqs")
    # Dead-letter queues first: a redrive policy names its target's ARN.
    for spec in sorted(wiring.queues.values(), key=lambda q: q.dead_letter_logical_id is not None):
        attributes = {"VisibilityTimeout": str(spec.visibility_timeout), "MessageRetentionPeriod": str(spec.retention_seconds)}
        if spec.dead_letter_logical_id:
            attributes["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": resources.queue_arns[spec.dead_letter_logical_id], "maxReceiveCount": spec.max_receive_count})
        url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]
        resources.queue_urls[spec.logical_id] = url
        resources.queue_arns[spec.logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    pool = wiring.user_pool
    cognito = emulator.client("cognito-idp")
    policy = {k: v for k, v in pool.password_policy.items() if k != "TemporaryPasswordValidityDays"}
    resources.user_pool_id = cognito.create_user_pool(
        PoolName=pool.name, UsernameAttributes=pool.username_attributes, Policies={"PasswordPolicy": policy})["UserPool"]["Id"]
    for identifier, scopes in pool.resource_servers.items():
        cognito.create_resource_server(UserPoolId=resources.user_pool_id, Identifier=identifier, Name=identifier, Scopes=scopes)
    for client in pool.clients:
        created = cognito.create_user_pool_client(
            UserPoolId=resources.user_pool_id, ClientName=client.name, GenerateSecret=client.generate_secret,
            ExplicitAuthFlows=client.auth_flows, AllowedOAuthFlows=client.oauth_flows, AllowedOAuthScopes=client.scopes,
            AllowedOAuthFlowsUserPoolClient=bool(client.oauth_flows))["UserPoolClient"]
        resources.clients[client.logical_id] = LocalClient(
            client_id=created["ClientId"], secret=created.get("ClientSecret"), scopes=tuple(client.scopes),
            access_token_minutes=client.access_token_minutes)

    ses = emulator.client("ses")
    for identity in wiring.email_identities:
        ses.verify_email_identity(EmailAddress=identity)
    secretsmanager = emulator.client("secretsmanager")
    for name, (template, key, length) in wiring.generated_secrets.items():
        # As Secrets Manager generates it: the template with one random value, new for each run.
        secretsmanager.create_secret(Name=name, SecretString=json.dumps({**template, key: secrets.token_urlsafe(length)[:length]}))
    return resources


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


def _unsigned(**_: Any) -> Any:
    return UNSIGNED
