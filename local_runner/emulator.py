"""The AWS emulator (moto) and the local twins of the template's resources.

`memory` runs moto inside this process (fast, private); `server` starts moto's HTTP server on
loopback so the AWS CLI and other processes can look at the same state.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import string
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

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
        make_transactions_cheap()
        make_queues_cheap()
        make_streams_cheap()
        if self.backend == "memory":
            from moto import mock_aws

            make_dispatch_cheap()
            self._mock = mock_aws()
            self._mock.start()
            # moto never checks a signature, and in this process nothing else can see the call:
            # the clients (the functions' too: they use the default session) skip computing
            # SigV4, a tenth of each GET's CPU. The server backend keeps signing, for the account.
            boto3.setup_default_session()
            boto3.DEFAULT_SESSION.events.register("choose-signer", _unsigned)
        else:
            from moto.server import ThreadedMotoServer

            # moto's server binds in its own thread, and a taken port there leaves this process
            # waiting for a server that never comes: take the port here first, so that the
            # failure is an OSError the command reports.
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                probe.bind(("127.0.0.1", self._moto_port))
            finally:
                probe.close()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._moto_port, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{host}:{port}"
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url  # every boto3 client, the functions' too

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
        if self._server is not None:
            self._server.stop()

    def client(self, service: str) -> Any:
        # Stream ARNs would otherwise route to an account-specific endpoint that moto does not serve.
        return boto3.client(service, region_name=self.region, config=Config(account_id_endpoint_mode="disabled"))

    def sent_emails(self, since: int = 0) -> list[Any]:
        """SES's outbox from the `since`-th email on; moto keeps it in this process in both backends."""
        from moto.ses.models import ses_backends

        return ses_backends[ACCOUNT][self.region].sent_messages[since:]


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
    return resources


class TokenRefused(Exception):
    """The token endpoint's refusal, in OAuth's terms (RFC 6749 5.2): `error` and a sentence."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def _moto_signing_key() -> Any:
    """The emulated user pool's private signing key: moto signs every pool's tokens with it,
    and the runner's authorizer verifies them with its public half."""
    import gzip
    from importlib import resources as package_files

    import jwt

    raw = package_files.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return jwt.PyJWK.from_dict(json.loads(gzip.decompress(raw)))


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


def make_queues_cheap() -> None:
    """Two of moto's SQS costs grow with the queue: every message's visibility and delay are
    checked against a clock built from datetime arithmetic (several times per message), and every
    read of one queue attribute (a flag on each SendMessage, the retention period for each message
    ReceiveMessage returns) builds all of them, message counts included. A 10,000-message backlog
    took hours. Here the clock is time.time() (the same milliseconds, ~6x cheaper) and the
    attributes are read one at a time (QueueAttributes); results are unchanged (bench/drain.py)."""

    import moto.sqs.models as sqs_models

    original = sqs_models.unix_time_millis
    if getattr(original, "_archon_cheap", False):
        return

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else original(dt)

    unix_time_millis._archon_cheap = True  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = unix_time_millis
    QueueAttributes.moto = sqs_models.Queue.attributes
    sqs_models.Queue.attributes = property(QueueAttributes)  # type: ignore[assignment,method-assign]


class QueueAttributes(Mapping[str, Any]):
    """moto's Queue.attributes, each value computed when it is read. moto builds the whole dict,
    the message counts included (a pass over the queue each), to read one flag on every
    SendMessage: O(queue) per message, so a backlog of n took O(n^2) to queue. Same keys, same
    order, same values as moto's property (tests/e2e/test_emulator.py compares them)."""

    moto: Any = None  # moto's own property, kept for the comparison

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def _names(self) -> list[str]:
        queue = self._queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        return list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        from moto.core.utils import camelcase_to_underscores

        queue = self._queue
        value = getattr(queue, camelcase_to_underscores(name))
        if name == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class ExpiringIterators(dict[str, Any]):
    """moto's shard iterators, which it keeps forever: the Pipe takes two a poll, four polls a
    second, and an idle `make run` grew by ~70 MB an hour. DynamoDB Streams' iterators expire 15
    minutes after they are handed out; here they are then forgotten too (with a 5 s lifetime, an
    idle runner's memory stayed flat over 7 minutes, within 0.2 MB)."""

    LIFETIME_SECONDS = 15 * 60

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._handed_out: deque[tuple[float, str]] = deque()

    def __setitem__(self, arn: str, iterator: Any) -> None:
        now = self._clock()
        while self._handed_out and now - self._handed_out[0][0] > self.LIFETIME_SECONDS:
            self.pop(self._handed_out.popleft()[1], None)
        super().__setitem__(arn, iterator)
        self._handed_out.append((now, arn))


def make_streams_cheap() -> None:
    """moto answers GetRecords through its generic response serializer, which walks the botocore
    shape of every attribute value of every record (~0.4 ms a record here, half of the Pipe's
    time). Its records are already in the wire's JSON form but for the creation time, an ISO
    string the wire carries as epoch seconds (to the millisecond): this writes them as JSON
    directly. The same parsed answer as moto's (tests/e2e/test_emulator.py compares them), but for
    binary values, which moto's serializer base64-encodes a second time and these return as written.
    Its shard iterators expire (ExpiringIterators)."""
    import calendar

    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    original = DynamoDBStreamsHandler.get_records
    if getattr(original, "_archon_cheap", False):
        return
    backend_init = DynamoDBStreamsBackend.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        backend_init(self, *args, **kwargs)
        self.shard_iterators = ExpiringIterators()

    DynamoDBStreamsBackend.__init__ = init  # type: ignore[method-assign]
    # moto also lists every model instance it ever made (for its dashboard and reset); an
    # iterator listed there outlives its expiry, so iterators are left off that list.
    ShardIterator.__new__ = staticmethod(lambda cls, *args, **kwargs: object.__new__(cls))  # type: ignore[method-assign]

    def epoch_seconds(iso: str) -> float:
        when = dt.datetime.fromisoformat(iso)
        whole = calendar.timegm(when.utctimetuple())
        return whole + (when.microsecond // 1000) / 1000.0 if when.microsecond else whole

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit")
        result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        records = []
        for record in result["Records"]:
            stream = dict(record["dynamodb"], ApproximateCreationDateTime=epoch_seconds(record["dynamodb"]["ApproximateCreationDateTime"]))
            records.append(dict(record, dynamodb=stream))
        return json.dumps({"NextShardIterator": result["NextShardIterator"], "Records": records})

    get_records._archon_cheap = True  # type: ignore[attr-defined]
    get_records._archon_original = original  # type: ignore[attr-defined]
    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign,assignment]


def _unsigned(**_: Any) -> Any:
    return UNSIGNED


def make_dispatch_cheap() -> None:
    """Four of moto's per-call costs that do not depend on the call: it lists the response
    class's methods with inspect on every call (~60 µs), matches the URL against every service's
    patterns in turn (~100 regexes), turns the action name into a method name a character at a
    time, and draws each 52-character request id one character at a time (~10 µs). Here the method
    list and the method names are cached, the route of a JSON-protocol endpoint (one URL per
    service) is found once, and ids are drawn as one block of random bits mapped onto the same
    alphabet (~0.6 µs)."""
    import functools
    import re

    import moto.backend_index as backend_index
    import moto.backends as backends
    import moto.core.responses as responses
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder
    from moto.moto_api._internal.moto_random import MotoRandom

    original = BotocoreStubber.process_request
    if getattr(original, "_archon_cheap", False):
        return
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    # "GetItem" -> "get_item", a loop over its characters on every call; the names are few.
    responses.camelcase_to_underscores = functools.cache(responses.camelcase_to_underscores)
    # Byte -> character tables over moto's two alphabets. 256 is not a multiple of their sizes, so
    # some characters are a little likelier than others (5/256 against 4/256): immaterial for ids.
    alphabets = {True: string.ascii_letters + string.digits, False: string.ascii_letters}
    tables = {digits: bytes(ord(chars[i % len(chars)]) for i in range(256)) for digits, chars in alphabets.items()}

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        # From this MotoRandom's own bits, so moto's seed still makes ids repeatable.
        drawn = self.getrandbits(8 * length).to_bytes(length, "big").translate(tables[include_digits]).decode()
        return drawn.lower() if lower_case else drawn

    MotoRandom.get_random_string = get_random_string  # type: ignore[method-assign]

    routes: dict[str, Any] = {}

    def route(clean_url: str) -> Any:
        """moto's own search (BotocoreStubber.process_request), minus the call."""
        for service, pattern in backend_index.backend_url_patterns:
            if not pattern.match(clean_url):
                continue
            if passthrough_service(service) or not service_whitelisted(service):
                return None
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            for url, method in backend.urls.items():
                if re.compile(url).match(clean_url):
                    return method
            return None
        return None

    def process_request(self: Any, request: Any) -> Any:
        parsed, _ = get_equivalent_url_in_aws_domain(request.url)
        if parsed.path not in ("", "/"):  # REST-style paths vary per resource: moto's own way
            return original(self, request)
        clean_url = f"{parsed.scheme}://{parsed.netloc}{parsed.path}"
        method = routes.get(clean_url)
        if method is None:
            if passthrough_url(clean_url) or (method := route(clean_url)) is None:
                return original(self, request)  # passthrough, not whitelisted, or not found: as moto does
            routes[clean_url] = method
        for header, value in request.headers.items():
            if isinstance(value, bytes):
                request.headers[header] = value.decode("utf-8")
        try:
            recorder._record_request(request)
            return method(request, request.url, request.headers)
        except HTTPException as exc:
            return exc.code, exc.get_headers(), exc.get_body()

    process_request._archon_cheap = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


class _NoCopy:
    @staticmethod
    def deepcopy(value: Any) -> Any:
        return value


def make_transactions_cheap() -> None:
    """moto deep-copies every table a transaction touches, to roll back on failure: each
    TransactWriteItems costs O(table size), so a local run slows down as users pile up (4 ops/s
    at 1,000 users, measured by bench/runner.py). This keeps moto's own transaction logic but
    snapshots only the items the transaction names, and restores them (and the stream) when
    it is cancelled. The runner serialises emulator calls, so no other write interleaves."""
    import copy
    import types

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_archon_cheap", False):
        return
    moto_logic = types.FunctionType(original.__code__, {**original.__globals__, "copy": _NoCopy}, original.__name__)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, bool]] = []
        streams: dict[str, tuple[Any, int]] = {}
        for entry in transact_items:
            kind, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op["Item"] if kind == "Put" else op.get("Key", {})
            if table.hash_key_attr not in attrs:
                continue  # moto's own validation will reject it
            hash_value = DynamoType(attrs[table.hash_key_attr])
            present = hash_value in table.items
            saved.append((table, hash_value, copy.deepcopy(table.items[hash_value]) if present else None, present))
            if table.stream_shard is not None and table.name not in streams:
                streams[table.name] = (table.stream_shard, len(table.stream_shard.items))
        try:
            moto_logic(self, transact_items)
        except BaseException:
            for table, hash_value, value, present in reversed(saved):
                if present:
                    table.items[hash_value] = value
                else:
                    table.items.pop(hash_value, None)
            for shard, length in streams.values():
                del shard.items[length:]  # a cancelled transaction writes nothing to the stream
            raise

    transact_write_items._archon_cheap = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
