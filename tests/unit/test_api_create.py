"""Creating and reading users: ids, the mailbox rule under races, idempotent retries and Location."""

from __future__ import annotations

import threading
import uuid
from unittest import mock
import pytest
from tests.unit.conftest import REGION
from tests.unit.events import api_event
from users import contract
from tests.unit.api_calls import Reply, assert_error, call, create  # noqa: F401


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
    user = next(i for i in items if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX))
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
    user = next(i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX))
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
    users = [i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX)]
    assert len(users) == 1
    # And the API agrees with the table afterwards: the mailbox is taken, in any spelling.
    assert_error(create(aws, context, name="Late", email="JOSE.SILVA@xn--bcher-kva.example"), 409, "email_taken")


def test_exactly_100_characters_after_trimming_is_accepted(aws, context):
    assert create(aws, context, name="  " + "n" * 100 + "  ").status == 201


def test_idempotent_retry_returns_the_first_response_and_creates_nothing(aws, context):
    headers = {"Idempotency-Key": "key-1"}
    first = create(aws, context, headers=headers)
    items = aws.items()
    again = create(aws, context, headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["location"] == first.headers["location"]
    assert len([i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX)]) == 1
    assert [i for i in aws.items() if not i[contract.PARTITION_KEY]["S"].startswith((contract.USER_PREFIX, contract.EMAIL_PREFIX))]  # the idempotency record
    assert len(aws.items()) == len(items)


def test_same_idempotency_key_with_another_body_is_422(aws, context):
    headers = {"Idempotency-Key": "key-2"}
    assert create(aws, context, headers=headers).status == 201
    assert_error(create(aws, context, name="Someone Else", headers=headers), 422, "idempotency_key_reused")


def test_idempotency_keys_are_per_caller(aws, context):
    a = create(aws, context, email="a@example.com", headers={"Idempotency-Key": "k"}, sub="alice")
    b = create(aws, context, email="b@example.com", headers={"Idempotency-Key": "k"}, sub="bob")
    assert a.status == b.status == 201 and a.body["user_id"] != b.body["user_id"]


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
    keys = [i[contract.PARTITION_KEY]["S"] for i in aws.items()]
    assert {k.split("#")[0] + "#" if not k.startswith(function_name) else function_name + "." for k in keys} == set(prefixes)
    assert all(k.startswith(prefixes) for k in keys)
