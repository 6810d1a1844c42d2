"""Every use of moto's internals, in one module: the local run's optimisations and the few
internals it reads, each named for its effect.

moto is built for tests of a few calls; a local run makes thousands, keeps a table and a queue
for hours and polls streams four times a second. The patches (install()) remove costs that grow
with the data or with time, and keep moto's observable behaviour: tests/runner/test_moto_compat.py
runs the same calls on stock and patched moto and compares the results, patch by patch. They are
written against one moto version (PINNED_MOTO): on any other, install() warns once and leaves moto
stock, so the run is slower but right. install() and uninstall() are counted, so that an emulator
patches moto for as long as it runs and a process using stock moto (the unit tests) gets stock
moto back.

What the run cannot do without (the outbox Pipe's event filter, a fault's raw response, SES's
sent mail, the user pools' signing keys, the tests' transaction isolation) is read through the
functions below: on a moto that lacks one, UnsupportedMoto names it and the version to install.
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import datetime as dt
import functools
import gzip
import json
import re
import string
import threading
import time
import types
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from importlib import resources as package_files
from typing import Any

PINNED_MOTO = "5.1.22"
ACCOUNT = "123456789012"  # moto's default account


class UnsupportedMoto(RuntimeError):
    pass


def pinned() -> bool:
    return metadata.version("moto") == PINNED_MOTO


def _required(what: str, error: Exception) -> UnsupportedMoto:
    return UnsupportedMoto(f"the local run needs {what}, which moto {metadata.version('moto')} does not have ({error}): "
                           f"install moto=={PINNED_MOTO} (make setup)")


# --- What the run reads from moto ------------------------------------------------------------------


def event_pattern(pattern: str) -> Callable[[dict[str, Any]], bool]:
    """EventBridge's pattern matching as moto implements it (moto.events.models.EventPattern):
    the outbox Pipe's filter."""
    try:
        from moto.events.models import EventPattern
    except ImportError as exc:
        raise _required("moto's EventBridge pattern matcher (moto.events.models.EventPattern) for the outbox Pipe's filter", exc) from None
    matches: Callable[[dict[str, Any]], bool] = EventPattern.load(pattern).matches_event  # type: ignore[assignment]
    return matches


def raw_response(body: bytes) -> Any:
    """A raw HTTP body as botocore reads one (moto.core.botocore_stubber.MockRawResponse): an
    injected fault's answer."""
    try:
        from moto.core.botocore_stubber import MockRawResponse
    except ImportError as exc:
        raise _required("moto's MockRawResponse for injected faults", exc) from None
    return MockRawResponse(body)


def sent_emails(region: str) -> list[Any]:
    """SES's outbox in `region`: what moto records for every accepted email, in this process."""
    try:
        from moto.ses.models import ses_backends
    except ImportError as exc:
        raise _required("moto's SES backend for the local mailbox", exc) from None
    sent: list[Any] = ses_backends[ACCOUNT][region].sent_messages
    return sent


def _cognito_keys(name: str) -> dict[str, Any]:
    try:
        raw = package_files.files("moto.cognitoidp").joinpath(f"resources/{name}").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise _required(f"the signing keys moto's user pools sign tokens with ({name})", exc) from None
    keys: dict[str, Any] = json.loads(gzip.decompress(raw))
    return keys


def cognito_private_key() -> dict[str, Any]:
    """The private JWK moto signs every user pool's tokens with: the runner's token endpoint
    signs with it too."""
    return _cognito_keys("jwks-private.json.gz")


def cognito_public_keys() -> dict[str, Any]:
    """What a client fetches from a user pool's JWKS URL on moto: the authorizer verifies with it."""
    return _cognito_keys("jwks-public.json.gz")


@contextlib.contextmanager
def isolated_transactions(lock: Any) -> Iterator[None]:
    """DynamoDB runs each transaction in isolation; moto does not (two threads interleave inside
    one): under this, each of moto's transactions holds `lock`, as the real service's guarantee."""
    from unittest import mock

    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def isolated(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    with mock.patch.object(DynamoDBBackend, "transact_write_items", isolated):
        yield


# --- The optimisations ------------------------------------------------------------------------------


class _Replaced:
    """What a patch replaced, to put back."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._originals.append((owner, name, owner.__dict__.get(name, _ABSENT) if isinstance(owner, type) else getattr(owner, name)))
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, original in reversed(self._originals):
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._originals.clear()


_ABSENT = object()


# --- DynamoDB transactions -----------------------------------------------------------------------


class _NoCopy:
    @staticmethod
    def deepcopy(value: Any) -> Any:
        return value


def snapshot_only_the_items_a_transaction_names(replaced: _Replaced) -> None:
    """moto deep-copies every table a TransactWriteItems touches, to roll back on failure
    (moto/dynamodb/models/__init__.py, DynamoDBBackend.transact_write_items): O(table size) per
    create, so a local run slowed as users piled up. This runs moto's own transaction code with
    that copy made a no-op, snapshots the items the transaction names, and restores them, and
    the stream, when it is cancelled. The runner serialises emulator calls, so no write interleaves."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items
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

    replaced.set(DynamoDBBackend, "transact_write_items", transact_write_items)


# --- SQS -------------------------------------------------------------------------------------------


def tell_queue_time_with_time_time(replaced: _Replaced) -> None:
    """moto checks every message's visibility and delay against a clock built from datetime
    arithmetic (moto/sqs/models.py, unix_time_millis), several times per message: here the
    same milliseconds from time.time(), at a fraction of the cost."""
    import moto.sqs.models as sqs_models

    original = sqs_models.unix_time_millis

    def unix_time_millis(when: Any = None) -> float:
        return time.time() * 1000.0 if when is None else original(when)

    replaced.set(sqs_models, "unix_time_millis", unix_time_millis)


class QueueAttributes(Mapping[str, Any]):
    """moto's Queue.attributes, each value computed when it is read. moto builds the whole dict,
    the message counts included (a pass over the queue each), to read one flag on every
    SendMessage: O(queue) per message, so a backlog of n took O(n^2) to queue. Same keys, same
    order, same values as moto's property."""

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


def read_queue_attributes_one_at_a_time(replaced: _Replaced) -> None:
    """moto/sqs/models.py, Queue.attributes: see QueueAttributes."""
    import moto.sqs.models as sqs_models

    replaced.set(sqs_models.Queue, "attributes", property(QueueAttributes))


# --- DynamoDB Streams ------------------------------------------------------------------------------


def write_stream_records_as_json(replaced: _Replaced) -> None:
    """moto answers GetRecords through its generic response serializer, which walks the botocore
    shape of every attribute value of every record (moto/dynamodbstreams/responses.py), most
    of the Pipe's time. Its records are already in the wire's JSON form but for the creation time,
    an ISO string the wire carries as epoch seconds (to the millisecond): this writes them as
    JSON directly. The same parsed answer as moto's, but for binary values, which moto's
    serializer base64-encodes a second time and these return as written, as DynamoDB Streams does."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

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

    replaced.set(DynamoDBStreamsHandler, "get_records", get_records)


class ExpiringIterators(dict[str, Any]):
    """moto's shard iterators, which it keeps forever: the Pipe takes two a poll, four polls a
    second, and an idle `make run` grew without bound. DynamoDB Streams' iterators expire 15
    minutes after they are handed out; here they are then forgotten too."""

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


def expire_shard_iterators(replaced: _Replaced) -> None:
    """moto/dynamodbstreams/models.py keeps every iterator in its backend's table and in the list
    of every model instance it ever made (for its dashboard): both forget them here, after
    DynamoDB Streams' 15 minutes (ExpiringIterators)."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    backend_init = DynamoDBStreamsBackend.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        backend_init(self, *args, **kwargs)
        self.shard_iterators = ExpiringIterators()

    replaced.set(DynamoDBStreamsBackend, "__init__", init)
    replaced.set(ShardIterator, "__new__", staticmethod(lambda cls, *args, **kwargs: object.__new__(cls)))


# --- request dispatch (in-process backend only) -----------------------------------------------------


def cache_moto_method_names(replaced: _Replaced) -> None:
    """moto lists a response class's methods with inspect, and turns "GetItem" into "get_item" a
    character at a time, on every call (moto/core/responses.py): both cached, the inputs are few."""
    import moto.core.responses as responses

    replaced.set(responses, "method_names_from_class", functools.cache(responses.method_names_from_class))
    replaced.set(responses, "camelcase_to_underscores", functools.cache(responses.camelcase_to_underscores))


def draw_request_ids_in_one_block(replaced: _Replaced) -> None:
    """moto draws each 52-character request id one character at a time
    (moto/moto_api/_internal/moto_random.py): here as one block of random bits mapped onto the
    same alphabets, from the same generator, so moto's seed still makes ids repeatable. 256 is not
    a multiple of the alphabets' sizes, so some characters are a little likelier (5/256 against
    4/256): immaterial for ids."""
    from moto.moto_api._internal.moto_random import MotoRandom

    alphabets = {True: string.ascii_letters + string.digits, False: string.ascii_letters}
    tables = {digits: bytes(ord(chars[i % len(chars)]) for i in range(256)) for digits, chars in alphabets.items()}

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        drawn = self.getrandbits(8 * length).to_bytes(length, "big").translate(tables[include_digits]).decode()
        return drawn.lower() if lower_case else drawn

    replaced.set(MotoRandom, "get_random_string", get_random_string)


def route_each_json_endpoint_once(replaced: _Replaced) -> None:
    """moto matches every call's URL against every service's patterns in turn, about a hundred
    regexes (moto/core/botocore_stubber.py, BotocoreStubber.process_request). A JSON-protocol
    service has one URL, so its route is found once, by moto's own search, and remembered; other
    requests (REST-style paths) go through moto's own code."""
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder

    original = BotocoreStubber.process_request
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

    replaced.set(BotocoreStubber, "process_request", process_request)


# Every patch, in the order they go in; the last three only where moto runs in this process.
EVERY_BACKEND = (snapshot_only_the_items_a_transaction_names, tell_queue_time_with_time_time,
                 read_queue_attributes_one_at_a_time, write_stream_records_as_json, expire_shard_iterators)
IN_PROCESS = (cache_moto_method_names, draw_request_ids_in_one_block, route_each_json_endpoint_once)

_lock = threading.Lock()
_installed: dict[bool, tuple[_Replaced, int]] = {}  # in_process -> (what it replaced, how many installs)


_warned: list[str] = []


def install(*, in_process: bool = True) -> bool:
    """Applies the patches (those of IN_PROCESS too, with in_process); counted. On a moto other
    than PINNED_MOTO: a warning, stock moto, and False."""
    if not pinned():
        found = metadata.version("moto")
        if found not in _warned:
            _warned.append(found)
            warnings.warn(f"moto {found}: the local run's optimisations are written for moto {PINNED_MOTO} "
                          f"(local_runner/moto_compat.py), so it runs on stock moto, slower as data and time grow; "
                          f"install moto=={PINNED_MOTO} (make setup) for the fast run", RuntimeWarning, stacklevel=2)
        return False
    with _lock:
        for group in (False, True) if in_process else (False,):
            replaced, count = _installed.get(group, (None, 0))
            if replaced is None:
                replaced = _Replaced()
                for patch in IN_PROCESS if group else EVERY_BACKEND:
                    patch(replaced)
            _installed[group] = (replaced, count + 1)
    return True


def uninstall(*, in_process: bool = True) -> None:
    """Undoes one install(); moto is stock again once every install is undone."""
    with _lock:
        for group in (True, False) if in_process else (False,):
            replaced, count = _installed.get(group, (None, 0))
            if replaced is None:
                continue
            if count <= 1:
                replaced.restore()
                del _installed[group]
            else:
                _installed[group] = (replaced, count - 1)


def installed() -> bool:
    return bool(_installed)
