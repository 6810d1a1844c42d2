"""The users API handler end to end on moto: routes, errors, uniqueness, idempotency, paging."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from tests.unit.conftest import REGION
from users.cursor import encode as encode_cursor
from tests.unit.conftest import CURSOR_KEY
from tests.unit.events import api_event
from users import contract


class Reply:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.status = raw["statusCode"]
        headers = {k: v for k, v in (raw.get("headers") or {}).items()}
        for k, values in (raw.get("multiValueHeaders") or {}).items():
            headers[k] = ",".join(values)
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = json.loads(raw["body"]) if raw.get("body") else None


def call(aws, context, event) -> Reply:
    return Reply(aws.users_api.handler(event, context))


def create(aws, context, name="Ada Lovelace", email="ada@example.com", **kw) -> Reply:
    return call(aws, context, api_event("POST", "/users", body={"name": name, "email": email}, **kw))


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert set(reply.body) == {"error", "request_id"}
    assert reply.body["error"]["code"] == code
    assert isinstance(reply.body["error"]["message"], str) and reply.body["error"]["message"]
    assert isinstance(reply.body["error"]["details"], list)
    assert reply.body["request_id"]


def test_create_returns_201_with_the_user_and_location(aws, context):
    reply = create(aws, context, name="  Ada Lovelace  ", email="Ada@Example.COM")
    assert reply.status == 201
    user = reply.body
    assert set(user) == {"user_id", "name", "email", "created_at"}
    assert user["name"] == "Ada Lovelace"  # trimmed
    assert user["email"] == "Ada@Example.COM"  # stored as given
    uuid.UUID(user["user_id"], version=4)
    assert user["created_at"].endswith("Z") and "T" in user["created_at"]
    assert reply.headers["location"] == f"/dev/users/{user['user_id']}"  # under the stage the client called
    assert reply.headers["content-type"] == "application/json"


def test_every_item_records_the_region_that_wrote_it(aws, context):
    create(aws, context)
    items = aws.items()
    assert len(items) == 2  # the user and its email guard
    assert {i["region"]["S"] for i in items} == {REGION}
    user = next(i for i in items if i["pk"]["S"].startswith(contract.USER_PREFIX))
    assert user[contract.LIST_INDEX_PARTITION]["S"] == "user"


def test_ids_do_not_collide(aws, context):
    ids = {create(aws, context, email=f"u{i}@example.com").body["user_id"] for i in range(50)}
    assert len(ids) == 50


def test_get_returns_the_user(aws, context):
    user = create(aws, context).body
    reply = call(aws, context, api_event("GET", f"/users/{user['user_id']}"))
    assert reply.status == 200
    assert reply.body == user


def test_an_id_in_upper_case_names_the_same_user(aws, context):
    user = create(aws, context).body
    reply = call(aws, context, api_event("GET", f"/users/{user['user_id'].upper()}"))
    assert reply.status == 200
    assert reply.body == user


@pytest.mark.parametrize("user_id", ["6f1c2a51-8d1e-4f6e-9d35-0c5b8a7e2f10", "not-a-uuid", "../../etc", "x" * 64])
def test_get_unknown_or_malformed_id_is_404(aws, context, user_id):
    assert_error(call(aws, context, api_event("GET", f"/users/{user_id}")), 404, "not_found")


# Eight spellings of one mailbox: A-Z case in the part before the @; case, NFC and NFD, the
# punycode form, fullwidth letters and an ideographic full stop in the domain.
ONE_MAILBOX = [
    "jose.silva@b\u00fccher.example",
    "JOSE.Silva@B\u00dcCHER.EXAMPLE",
    "jose.silva@bu\u0308cher.example",
    "Jose.Silva@xn--bcher-kva.example",
    "jose.SILVA@XN--BCHER-KVA.example",
    "jose.silva@\uff42\u00fc\uff43\uff48\uff45\uff52\uff0eexample",
    "jose.silva@b\u00fccher\u3002example",
    "Jose.Silva@B\u00fcCHER.Example",
]


@pytest.mark.parametrize("first, second", [("ada@example.com", "ADA@EXAMPLE.com"), *zip(ONE_MAILBOX, ONE_MAILBOX[1:])])
def test_another_spelling_of_a_taken_mailbox_is_409_and_writes_nothing(aws, context, first, second):
    assert create(aws, context, email=first).status == 201
    before = aws.items()
    reply = create(aws, context, name="Other", email=second)
    assert_error(reply, 409, "email_taken")
    assert aws.items() == before


def test_the_user_keeps_the_spelling_it_was_created_with(aws, context):
    created = create(aws, context, email=ONE_MAILBOX[1]).body
    assert created["email"] == ONE_MAILBOX[1]
    user = next(i for i in aws.items() if i["pk"]["S"].startswith(contract.USER_PREFIX))
    assert user["email"]["S"] == ONE_MAILBOX[1]
    assert user["email_key"]["S"] == "jose.silva@xn--bcher-kva.example"


def test_concurrent_creations_of_one_mailbox_in_mixed_spellings_exactly_one_wins(aws, context, isolated_transactions):
    """Concurrent creates run in separate Lambda execution environments, never as threads of one:
    each racer gets its own client and service, as a container would. (Racing the handler module
    in threads broke Powertools' per-process metrics singleton, not the uniqueness rule.)"""
    import boto3

    from users.errors import EmailAlreadyRegistered
    from users.logic import UsersService
    from users.models import NewUser
    from adapters.aws.users_table import DynamoDBUserStore

    from tests.unit.conftest import TABLE

    services = [
        UsersService(store=DynamoDBUserStore(client=boto3.client("dynamodb"), table_name=TABLE, region=REGION))
        for _ in range(8)
    ]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(services))

    def racer(i: int) -> None:
        barrier.wait()
        try:
            services[i].create(NewUser(name=f"Racer {i}", email=ONE_MAILBOX[i]), request_key=f"key-{i}")
            outcomes.append("created")
        except EmailAlreadyRegistered:
            outcomes.append("taken")

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(len(services))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["taken"] * 7
    users = [i for i in aws.items() if i["pk"]["S"].startswith(contract.USER_PREFIX)]
    assert len(users) == 1
    # And the API agrees with the table afterwards: the mailbox is taken, in any spelling.
    assert_error(create(aws, context, name="Late", email="JOSE.SILVA@xn--bcher-kva.example"), 409, "email_taken")


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"name": "", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "   ", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "x" * 101, "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Bad\u0007Bell", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Line\nBreak", "email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Ada", "email": "not-an-email"}, "validation_error", "email"),
        ({"name": "Ada", "email": "a@b"}, "validation_error", "email"),
        ({"name": "Ada", "email": "a" * 65 + "@example.com"}, "validation_error", "email"),
        ({"name": "Ada"}, "validation_error", "email"),
        ({"email": "a@example.com"}, "validation_error", "name"),
        ({"name": "Ada", "email": "a@example.com", "admin": True}, "validation_error", "admin"),
        ({"name": 42, "email": "a@example.com"}, "validation_error", "name"),
    ],
)
def test_invalid_bodies_are_400_with_details_and_write_nothing(aws, context, body, code, field):
    reply = call(aws, context, api_event("POST", "/users", body=body))
    assert_error(reply, 400, code)
    assert field in [d.get("field") for d in reply.body["error"]["details"]]
    assert aws.items() == []


def _repeated(event: dict[str, Any], kind: str, name: str, values: list[str]) -> dict[str, Any]:
    """As API Gateway passes a header or query parameter sent more than once: the last value, and all."""
    single, multi = ("headers", "multiValueHeaders") if kind == "header" else ("queryStringParameters", "multiValueQueryStringParameters")
    event[single] = {**(event[single] or {}), name: values[-1]}
    event[multi] = {**(event[multi] or {}), name: values}
    return event


@pytest.mark.parametrize(("event", "field", "issue"), [
    (api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}, headers={"Idempotency-Key": "k" * 256}),
     "Idempotency-Key", "must be at most 255 characters"),
    (_repeated(api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}), "header", "Idempotency-Key", ["a", "b"]),
     "Idempotency-Key", "was sent 2 times; send it once"),
    (_repeated(api_event("GET", "/users", query={"limit": "5"}), "query", "limit", ["5", "6"]), "limit", "was sent 2 times; send it once"),
    (api_event("GET", "/users", query={"cursor": "c" * 3000}), "cursor", "must be at most 256 characters"),
    (api_event("POST", "/users", body={"name": "Ada", "email": "a@example.com"}, headers={"Idempotency-Key": ""}),
     "Idempotency-Key", "must be at least 1 character"),
    (api_event("GET", "/users", query={"limit": "0"}), "limit", "must be at least 1"),
    (api_event("GET", "/users", query={"limit": "101"}), "limit", "must be at most 100"),
    (api_event("GET", "/users", query={"limit": "ten"}), "limit", "must be a whole number"),
    (api_event("GET", "/users", query={"limit": "1.5"}), "limit", "must be a whole number"),
])
def test_a_bad_parameter_is_named_as_the_contract_spells_it_with_the_fix_in_words(aws, context, event, field, issue):
    """One detail per parameter, by its name in the contract (not pydantic's path to it, nor a
    union's members), saying what to change."""
    reply = call(aws, context, event)
    assert_error(reply, 400, "validation_error")
    assert reply.body["error"]["details"] == [{"field": field, "issue": issue}]
    assert aws.items() == []


@pytest.mark.parametrize(("body", "details"), [
    ('{"name": "Ada", "email": "ada@example.com", "email": "eve@example.com"}', [{"field": "email", "issue": "was sent 2 times; send it once"}]),
    ('{"name": "A", "name": "B", "email": "ada@example.com", "name": "C"}', [{"field": "name", "issue": "was sent 3 times; send it once"}]),
    ('{"name": "A", "email": "ada@example.com", "x": {"y": 1, "y": 2}}', [{"field": "x.y", "issue": "was sent 2 times; send it once"}]),
    ('{"name": "A", "email": "ada@example.com", "x": [{}, {"y": 1, "y": 2}]}', [{"field": "x.1.y", "issue": "was sent 2 times; send it once"}]),
])
def test_a_field_sent_twice_is_refused_not_settled_by_keeping_one_value(aws, context, body, details):
    """A reader that keeps the first value (a proxy, a request-model check) and one that keeps the
    last would see different users in one request: neither is chosen."""
    event = api_event("POST", "/users", body={})
    event["body"] = body
    reply = call(aws, context, event)
    assert_error(reply, 400, "validation_error")
    assert reply.body["error"]["details"] == details
    assert aws.items() == []


@pytest.mark.parametrize(("event", "status"), [
    (api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}), 201),
    (api_event("GET", "/users"), 200),
    (api_event("GET", "/users/0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"), 404),
    (api_event("POST", "/users", body={"name": ""}), 400),
    (api_event("POST", "/users", body="name=Ada", headers={"Content-Type": "text/plain"}), 415),
    (api_event("POST", "/users", body={"name": "x" * 9000, "email": "ada@example.com"}), 413),
])
def test_every_answer_is_kept_by_no_cache_and_never_sniffed(aws, context, event, status):
    """Answers hold users' names and emails: no cache between the client and the API keeps them."""
    reply = call(aws, context, event)
    assert reply.status == status, reply.body
    assert reply.headers["cache-control"] == "no-store" and reply.headers["x-content-type-options"] == "nosniff"


def test_exactly_100_characters_after_trimming_is_accepted(aws, context):
    assert create(aws, context, name="  " + "n" * 100 + "  ").status == 201


@pytest.mark.parametrize("body", ["{not json", "", "[]", '"just a string"', "null"])
def test_malformed_json_is_400(aws, context, body):
    reply = call(aws, context, api_event("POST", "/users", body=body))
    assert reply.status == 400
    assert reply.body["error"]["code"] in ("invalid_json", "validation_error")
    assert aws.items() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(aws, context, content_type):
    event = api_event("POST", "/users", body="name=Ada&email=a%40example.com", headers={"Content-Type": content_type})
    assert_error(call(aws, context, event), 415, "unsupported_media_type")
    assert aws.items() == []


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/json;charset=utf-8", " application/json "])
def test_json_media_types_match_without_case_and_with_parameters(aws, context, content_type):
    event = api_event("POST", "/users", body={"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"}, headers={"Content-Type": content_type})
    assert call(aws, context, event).status == 201


def test_json_too_deeply_nested_is_400_in_the_error_body(aws, context):
    deep = '{"name": ' + "[" * 100_000 + "]" * 100_000 + ', "email": "a@example.com"}'
    reply = call(aws, context, api_event("POST", "/users", body=deep))
    assert reply.status in (400, 413)
    nested = '{"name": "Ada", "email": "a@example.com", "x": ' + "[" * 3000 + "]" * 3000 + "}"
    assert_error(call(aws, context, api_event("POST", "/users", body=nested)), 400, "invalid_json")
    assert aws.items() == []


def test_a_refused_body_still_gets_cors_headers_for_a_configured_origin(aws, context):
    event = api_event("POST", "/users", body="x", headers={"Content-Type": "text/plain", "Origin": "https://app.example.com"})
    reply = call(aws, context, event)
    assert_error(reply, 415, "unsupported_media_type")
    assert reply.headers["access-control-allow-origin"] == "https://app.example.com"


def test_oversize_body_is_413(aws, context):
    event = api_event("POST", "/users", body={"name": "x" * 9000, "email": "a@example.com"})
    assert_error(call(aws, context, event), 413, "payload_too_large")


def test_an_unknown_route_reaching_the_function_is_404(aws, context):
    assert_error(call(aws, context, api_event("GET", "/nothing", resource="/nothing")), 404, "not_found")


def test_idempotent_retry_returns_the_first_response_and_creates_nothing(aws, context):
    headers = {"Idempotency-Key": "key-1"}
    first = create(aws, context, headers=headers)
    items = aws.items()
    again = create(aws, context, headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["location"] == first.headers["location"]
    assert len([i for i in aws.items() if i["pk"]["S"].startswith(contract.USER_PREFIX)]) == 1
    assert [i for i in aws.items() if not i["pk"]["S"].startswith((contract.USER_PREFIX, contract.EMAIL_PREFIX))]  # the idempotency record
    assert len(aws.items()) == len(items)


def test_same_idempotency_key_with_another_body_is_422(aws, context):
    headers = {"Idempotency-Key": "key-2"}
    assert create(aws, context, headers=headers).status == 201
    assert_error(create(aws, context, name="Someone Else", headers=headers), 422, "idempotency_key_reused")


def test_idempotency_keys_are_per_caller(aws, context):
    a = create(aws, context, email="a@example.com", headers={"Idempotency-Key": "k"}, sub="alice")
    b = create(aws, context, email="b@example.com", headers={"Idempotency-Key": "k"}, sub="bob")
    assert a.status == b.status == 201 and a.body["user_id"] != b.body["user_id"]


def test_pagination_walks_more_than_three_pages_without_gaps_or_repeats(aws, context):
    created = [create(aws, context, email=f"p{i}@example.com").body["user_id"] for i in range(23)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
        reply = call(aws, context, api_event("GET", "/users", query=query))
        assert reply.status == 200
        pages += 1
        seen += [u["user_id"] for u in reply.body["users"]]
        cursor = reply.body.get("next_cursor")
        if not cursor:
            break
    assert pages == 5
    assert seen == created  # creation order, each once


def test_default_page_is_20_and_max_is_100(aws, context):
    for i in range(21):
        create(aws, context, email=f"d{i}@example.com")
    reply = call(aws, context, api_event("GET", "/users"))
    assert len(reply.body["users"]) == 20 and reply.body["next_cursor"]
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "101"})), 400, "validation_error")
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "0"})), 400, "validation_error")
    assert_error(call(aws, context, api_event("GET", "/users", query={"limit": "ten"})), 400, "validation_error")


def test_last_page_has_no_cursor(aws, context):
    for i in range(5):
        create(aws, context, email=f"l{i}@example.com")
    reply = call(aws, context, api_event("GET", "/users", query={"limit": "5"}))
    assert len(reply.body["users"]) == 5 and "next_cursor" not in reply.body  # absent, not null


@pytest.mark.parametrize("sent, route, base", [
    ("/dev/users", "/users", "/dev"),  # the execute-api URL: the stage's path
    ("/v1/users", "/users", "/v1"),  # a custom domain with a base path mapping
    ("/users", "/users", ""),  # a custom domain at the empty base path, or the local run
    (None, "/users", ""),
])
def test_location_is_valid_under_the_path_the_client_called(aws, context, sent, route, base):
    event = api_event("POST", "/users", body={"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"})
    event["requestContext"]["path"] = sent
    reply = call(aws, context, event)
    assert reply.headers["location"] == f"{base}/users/{reply.body['user_id']}"


def test_location_and_retry_after_are_exposed_to_browsers(aws, context):
    reply = create(aws, context, headers={"Origin": "https://app.example.com"})
    exposed = {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert {"location", "retry-after"} <= exposed


@pytest.mark.parametrize("cursor", ["garbage", "eyJ2IjoxLCJwIjoiJ30", "eyJ2IjoyLCJwIjoiMjAyNi0wMS0wMVQwMDowMDowMC4wMDBaI3gifQ", "%%%", "e30"])
def test_tampered_cursor_is_400(aws, context, cursor):
    assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": cursor})), 400, "invalid_cursor")


def _b64(raw: str) -> str:
    import base64

    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


POSITION = "2026-01-01T00:00:00.000Z#0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"
ISSUED = encode_cursor(POSITION, key=CURSOR_KEY.encode())
PAYLOAD, MAC = ISSUED.split(".")


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:]


@pytest.mark.parametrize("cursor", [
    *(_flip(ISSUED, i) for i in range(0, len(ISSUED), 3) if ISSUED[i] != "."),  # any one character changed
    _b64(json.dumps({"v": 1, "p": POSITION}, separators=(",", ":"))),  # the previous format: no MAC
    f"{_b64(json.dumps({'p': POSITION, 'v': 2}, separators=(',', ':')))}.{MAC}",  # another spelling, the old MAC
    encode_cursor(POSITION, key=b"another key"),  # signed with a key that is not the stage's
    f"{PAYLOAD}.{MAC}.{MAC}", f"{PAYLOAD}.", f".{MAC}", PAYLOAD,
    ISSUED[:10] + "*" + ISSUED[10:],  # a character base64 decoding would skip
    ISSUED + "==",
])
def test_only_a_cursor_as_the_service_writes_and_signs_it_is_taken(aws, context, cursor):
    """A cursor carries an HMAC under the stage's cursor key: changed in any character, spelled
    otherwise, of the previous (unsigned) format or signed with another key, it is 400, and
    nothing of it reaches DynamoDB's start key."""
    assert call(aws, context, api_event("GET", "/users", query={"cursor": ISSUED})).status == 200
    assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": cursor})), 400, "invalid_cursor")


def test_after_a_key_rotation_cursors_of_the_previous_key_still_work(aws, context):
    import boto3

    from tests.unit.conftest import CURSOR_KEY as OLD

    secrets = boto3.client("secretsmanager")
    name = aws.users_api.CURSOR_KEY_SECRET
    for _ in range(7):
        create(aws, context, email=f"rotate-{uuid.uuid4().hex[:8]}@example.com")
    before = call(aws, context, api_event("GET", "/users", query={"limit": "2"})).body["next_cursor"]
    try:
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": "n" * 64, "previous": OLD}))
        aws.users_api.parameters.clear_caches()
        assert call(aws, context, api_event("GET", "/users", query={"cursor": before})).status == 200
        after = call(aws, context, api_event("GET", "/users", query={"limit": "2"})).body["next_cursor"]
        assert after != before  # signed with the new key
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": "n" * 64}))  # the old key retired
        aws.users_api.parameters.clear_caches()
        assert_error(call(aws, context, api_event("GET", "/users", query={"cursor": before})), 400, "invalid_cursor")
        assert call(aws, context, api_event("GET", "/users", query={"cursor": after})).status == 200
    finally:
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps({"current": OLD}))
        aws.users_api.parameters.clear_caches()


def _throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "arn:aws:dynamodb:secret"}}, operation)


def test_dynamodb_throttling_is_503_with_retry_after(aws, context):
    with mock.patch.object(aws.users_api._dynamodb, "get_item", side_effect=_throttled("GetItem")):
        reply = call(aws, context, api_event("GET", f"/users/{uuid.uuid4()}"))
    assert_error(reply, 503, "temporarily_unavailable")
    assert reply.headers["retry-after"] == "1"
    assert "arn:" not in json.dumps(reply.body)


def test_throttled_transaction_is_503_and_writes_nothing(aws, context):
    cancelled = ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "x"}, "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}]},
        "TransactWriteItems",
    )
    with mock.patch.object(aws.users_api._dynamodb, "transact_write_items", side_effect=cancelled):
        assert_error(create(aws, context), 503, "temporarily_unavailable")
    assert aws.items() == []


def test_transaction_conflict_is_retried(aws, context):
    conflict = ClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "x"}, "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
        "TransactWriteItems",
    )
    real = aws.users_api._dynamodb.transact_write_items
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise conflict
        return real(**kwargs)

    with mock.patch.object(aws.users_api._dynamodb, "transact_write_items", side_effect=flaky):
        assert create(aws, context).status == 201
    assert calls["n"] == 2


def test_unexpected_errors_are_500_with_only_the_request_id(aws, context):
    secret = RuntimeError("Traceback: password=hunter2 at /var/task/users/repository.py")
    with mock.patch.object(aws.users_api._dynamodb, "get_item", side_effect=secret):
        event = api_event("GET", f"/users/{uuid.uuid4()}")
        reply = call(aws, context, event)
    assert_error(reply, 500, "internal_error")
    assert reply.body["request_id"] == event["requestContext"]["requestId"]
    text = json.dumps(reply.body)
    assert "hunter2" not in text and "Traceback" not in text and "repository" not in text


def test_cors_headers_only_for_configured_origins(aws, context):
    allowed = call(aws, context, api_event("GET", "/users", headers={"Origin": "https://app.example.com"}))
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    other = call(aws, context, api_event("GET", "/users", headers={"Origin": "https://evil.example.com"}))
    assert other.headers.get("access-control-allow-origin") != "https://evil.example.com"
    assert other.headers.get("access-control-allow-origin") != "*"


def test_logs_carry_the_request_id_and_no_names_or_emails(aws, context, caplog):
    event = api_event("POST", "/users", body={"name": "Secret Name", "email": "secret.person@example.com"})
    with caplog.at_level("INFO"):
        call(aws, context, event)
    formatter = aws.users_api.logger.registered_formatter
    lines = [formatter.format(r) for r in caplog.records if r.name == aws.users_api.logger.name]
    logs = [json.loads(line) for line in lines]
    assert logs and all(entry.get("correlation_id") == event["requestContext"]["requestId"] for entry in logs)
    text = "\n".join(lines)
    assert "Secret Name" not in text and "secret.person@example.com" not in text


@pytest.mark.parametrize("event, caller, status", [
    (api_event("POST", "/users", body={"name": "Secret Name", "email": "secret.person@example.com"}, sub="client-abc"), "client-abc", 201),
    (api_event("GET", f"/users/{uuid.uuid4()}", sub="client-xyz"), "client-xyz", 404),
    (api_event("POST", "/users", body={"name": "Secret Name", "email": "not-an-email"}, sub="client-abc"), "client-abc", 400),
])
def test_every_request_logs_its_caller_and_outcome_and_no_names_or_emails(aws, context, caplog, event, caller, status):
    with caplog.at_level("INFO"):
        call(aws, context, event)
    formatter = aws.users_api.logger.registered_formatter
    lines = [formatter.format(r) for r in caplog.records if r.name == aws.users_api.logger.name]
    logs = [json.loads(line) for line in lines]
    assert all(entry["caller"] == caller for entry in logs)
    (outcome,) = [entry for entry in logs if entry["message"] == "request handled"]
    assert outcome["status"] == status and outcome["http_method"] == event["httpMethod"] and outcome["route"] == event["resource"]
    text = "\n".join(lines)
    assert "Secret Name" not in text and "secret.person" not in text and "not-an-email" not in text


def test_every_read_and_list_leaves_an_audit_line_of_who_read_whom(aws, context, caplog):
    """The audit trail answers "who read which user, when": a read logs the caller and the user id,
    a list the caller, limit, whether a cursor was given and how many users came back."""
    first = create(aws, context, email="audited.one@example.com").body
    create(aws, context, email="audited.two@example.com")
    page = call(aws, context, api_event("GET", "/users", query={"limit": "1"}, sub="auditor")).body
    with caplog.at_level("INFO"):
        call(aws, context, api_event("GET", f"/users/{first['user_id'].upper()}", sub="auditor"))
        call(aws, context, api_event("GET", "/users", query={"limit": "1", "cursor": page["next_cursor"]}, sub="auditor"))
    formatter = aws.users_api.logger.registered_formatter
    logs = [json.loads(formatter.format(r)) for r in caplog.records if r.name == aws.users_api.logger.name]
    read, listed = [entry for entry in logs if "audit" in entry][-2:]
    assert (read["audit"], read["caller"], read["user_id"]) == ("read", "auditor", first["user_id"])
    assert (listed["audit"], listed["caller"], listed["limit"], listed["cursor_given"], listed["returned"]) == ("list", "auditor", 1, True, 1)
    assert "audited.one" not in json.dumps(logs) and "audited.two" not in json.dumps(logs)


def test_one_callers_requests_do_not_leak_their_caller_into_the_next(aws, context, caplog):
    call(aws, context, api_event("GET", "/users", sub="first-caller"))
    with caplog.at_level("INFO"):
        call(aws, context, {**api_event("GET", "/users"), "requestContext": {**api_event("GET", "/users")["requestContext"], "authorizer": None}})
    formatter = aws.users_api.logger.registered_formatter
    logs = [json.loads(formatter.format(r)) for r in caplog.records if r.name == aws.users_api.logger.name]
    assert logs and all(entry["caller"] == "anonymous" for entry in logs)


def test_a_caller_past_its_hourly_creates_gets_429_with_retry_after_and_writes_nothing(aws, context):
    with mock.patch.object(aws.users_api.service, "_limit", 3):
        assert create(aws, context, email="one@example.com", sub="noisy").status == 201
        assert_error(create(aws, context, email="one@example.com", sub="noisy"), 409, "email_taken")  # a probe counts too
        assert create(aws, context, email="two@example.com", sub="noisy").status == 201
        users_before = [i for i in aws.items() if not i["pk"]["S"].startswith(contract.QUOTA_PREFIX)]
        limited = create(aws, context, email="three@example.com", sub="noisy")
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        assert [i for i in aws.items() if not i["pk"]["S"].startswith(contract.QUOTA_PREFIX)] == users_before
        assert create(aws, context, email="three@example.com", sub="quiet").status == 201  # the limit is per caller


def test_past_the_limit_a_registered_address_is_429_not_409_so_probing_costs_what_creating_does(aws, context):
    """The quota is checked before the mailbox: once it is used up, "is this address registered?"
    gets the same 429 as a new address."""
    with mock.patch.object(aws.users_api.service, "_limit", 2):
        assert create(aws, context, email="known@example.com", sub="victim").status == 201
        assert_error(create(aws, context, email="known@example.com", sub="prober"), 409, "email_taken")
        assert_error(create(aws, context, email="known@example.com", sub="prober"), 409, "email_taken")
        registered = create(aws, context, email="known@example.com", sub="prober")
        unknown = create(aws, context, email="unknown@example.com", sub="prober")
        assert_error(registered, 429, "rate_limited")
        assert_error(unknown, 429, "rate_limited")


def test_the_create_limit_window_is_the_clock_hour(aws):
    from users.errors import CreateLimitReached
    from users.logic import UsersService
    from users.models import NewUser
    from adapters.aws.users_table import DynamoDBUserStore

    from tests.unit.conftest import TABLE

    now = [7200.0 + 3590]
    service = UsersService(store=DynamoDBUserStore(client=aws.dynamodb, table_name=TABLE, region=REGION),
                           creates_per_caller_per_hour=1, epoch=lambda: now[0])
    service.create(NewUser(name="A", email="a@example.com"), caller="c")
    with pytest.raises(CreateLimitReached):
        service.create(NewUser(name="B", email="b@example.com"), caller="c")
    now[0] = 7200.0 + 3600  # the next hour
    service.create(NewUser(name="B", email="b@example.com"), caller="c")
    quotas = [i for i in aws.items() if i["pk"]["S"].startswith(contract.QUOTA_PREFIX)]
    assert sorted(i["pk"]["S"] for i in quotas) == [f"{contract.QUOTA_PREFIX}c#10800", f"{contract.QUOTA_PREFIX}c#7200"]
    assert all(int(i[contract.TTL_ATTRIBUTE]["N"]) > int(i["pk"]["S"].rsplit("#", 1)[1]) + 3600 for i in quotas)  # the TTL cleans them up


def test_every_item_the_api_writes_has_a_key_prefix_its_role_may_write(aws, context):
    """The API role's writes are limited to these leading keys (cdk_app/stack.py; the template
    test asserts the condition). Powertools names idempotency records after the function."""
    import os

    from tests.unit.events import api_event as event

    create(aws, context, sub="caller-9")
    call(aws, context, event("POST", "/users", body={"name": "I", "email": "idem@example.com"}, headers={"Idempotency-Key": "k-1"}))
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "test-func")
    with mock.patch.object(aws.users_api.service, "_limit", 5):
        create(aws, context, email="quota@example.com", sub="caller-9")
    prefixes = (contract.USER_PREFIX, contract.EMAIL_PREFIX, contract.QUOTA_PREFIX, f"{function_name}.")
    keys = [i["pk"]["S"] for i in aws.items()]
    assert {k.split("#")[0] + "#" if not k.startswith(function_name) else function_name + "." for k in keys} == set(prefixes)
    assert all(k.startswith(prefixes) for k in keys)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-16", "application/json;charset=ISO-8859-1", 'application/json; charset="latin1"'])
def test_a_charset_other_than_utf8_is_415_before_the_body_is_read(aws, context, content_type):
    body = json.dumps({"name": "Ada", "email": "a@example.com"})
    reply = call(aws, context, api_event("POST", "/users", body=body, headers={"Content-Type": content_type}))
    assert_error(reply, 415, "unsupported_media_type")
    assert "UTF-8" in reply.body["error"]["message"]


def test_a_body_that_is_not_utf8_text_is_400_not_500(aws, context):
    event = api_event("POST", "/users", body=base64.b64encode('{"name": "Ada"}'.encode("utf-16")).decode())
    event["isBase64Encoded"] = True
    assert_error(call(aws, context, event), 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF8", "application/json"])
def test_utf8_or_no_charset_is_taken(aws, context, content_type):
    body = json.dumps({"name": "Ada", "email": f"ada-{uuid.uuid4().hex[:6]}@example.com"})
    assert call(aws, context, api_event("POST", "/users", body=body, headers={"Content-Type": content_type})).status == 201


@pytest.mark.parametrize("limit", ["1", "100"])
def test_the_page_limit_is_taken_at_both_its_edges(aws, context, limit):
    for _ in range(2):
        create(aws, context, email=f"edge-{uuid.uuid4().hex[:8]}@example.com")
    reply = call(aws, context, api_event("GET", "/users", query={"limit": limit}))
    assert reply.status == 200 and len(reply.body["users"]) == min(int(limit), 2)
