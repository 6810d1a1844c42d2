"""What the caller gets when the data store throttles, a transaction conflicts, the caller's create limit is used up, or the code fails."""

from __future__ import annotations

import json
import uuid
from unittest import mock
import pytest
from botocore.exceptions import ClientError
from tests.unit.conftest import REGION
from tests.unit.events import api_event
from users import contract
from tests.unit.api_calls import Reply, assert_error, call, create  # noqa: F401


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


def test_a_caller_past_its_hourly_creates_gets_429_with_retry_after_and_writes_nothing(aws, context):
    with mock.patch.object(aws.users_api.service, "_limit", 3):
        assert create(aws, context, email="one@example.com", sub="noisy").status == 201
        assert_error(create(aws, context, email="one@example.com", sub="noisy"), 409, "email_taken")  # a probe counts too
        assert create(aws, context, email="two@example.com", sub="noisy").status == 201
        users_before = [i for i in aws.items() if not i[contract.PARTITION_KEY]["S"].startswith(contract.QUOTA_PREFIX)]
        limited = create(aws, context, email="three@example.com", sub="noisy")
        assert_error(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 3600
        assert [i for i in aws.items() if not i[contract.PARTITION_KEY]["S"].startswith(contract.QUOTA_PREFIX)] == users_before
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
    quotas = [i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.QUOTA_PREFIX)]
    assert sorted(i[contract.PARTITION_KEY]["S"] for i in quotas) == [f"{contract.QUOTA_PREFIX}c#10800", f"{contract.QUOTA_PREFIX}c#7200"]
    assert all(int(i[contract.TTL_ATTRIBUTE]["N"]) > int(i[contract.PARTITION_KEY]["S"].rsplit("#", 1)[1]) + 3600 for i in quotas)  # the TTL cleans them up
