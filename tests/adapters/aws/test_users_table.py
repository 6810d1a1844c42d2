"""The user store on DynamoDB (adapters.aws.users_table), on moto: what it writes, how it reads and
pages, and what each DynamoDB failure becomes for the domain."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from adapters.aws.users_table import DynamoDBUserStore, error_code
from tests.adapters.aws.conftest import TABLE
from users.errors import CreateLimitReached, EmailAlreadyRegistered, TemporarilyUnavailable, UserNotFound
from users.models import User
from users.ports import Quota
from users import contract

ID = "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f"
OTHER_ID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
CREATED = "2026-01-01T00:00:00.000Z"


def store(client: Any, *, replica: Any = None) -> DynamoDBUserStore:
    return DynamoDBUserStore(client=client, table_name=TABLE, region="us-east-1", replica=replica)


def user(user_id: str = ID, created_at: str = CREATED, email: str = "Ada@Example.com") -> User:
    return User(user_id=user_id, name="Ada", email=email, created_at=created_at)


def item(client: Any, pk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(TableName=TABLE, Key={contract.PARTITION_KEY: {"S": pk}}).get("Item")
    return found


def failing(code: str, operation: str = "TransactWriteItems", reasons: list[str | None] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "x"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} if r else {} for r in reasons]
    return ClientError(response, operation)  # type: ignore[arg-type]


def test_a_user_and_its_guard_are_written_as_the_contract_says(dynamodb):
    assert store(dynamodb).insert(user(), email_key="ada@example.com", request_key="caller:key") == ID
    assert item(dynamodb, f"{contract.USER_PREFIX}{ID}") == {
        contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{ID}"}, contract.LIST_INDEX_PARTITION: {"S": "user"}, contract.LIST_INDEX_SORT: {"S": f"{CREATED}#{ID}"},
        "user_id": {"S": ID}, "name": {"S": "Ada"}, "email": {"S": "Ada@Example.com"}, "created_at": {"S": CREATED},
        "email_key": {"S": "ada@example.com"}, "region": {"S": "us-east-1"}}
    assert item(dynamodb, f"{contract.EMAIL_PREFIX}ada@example.com") == {
        contract.PARTITION_KEY: {"S": f"{contract.EMAIL_PREFIX}ada@example.com"}, "user_id": {"S": ID}, "created_at": {"S": CREATED},
        "region": {"S": "us-east-1"}, "request_key": {"S": "caller:key"}}
    assert store(dynamodb).get(ID) == user()


def test_a_guard_without_a_request_key_holds_none(dynamodb):
    store(dynamodb).insert(user(), email_key="ada@example.com")
    assert "request_key" not in (item(dynamodb, f"{contract.EMAIL_PREFIX}ada@example.com") or {})


def test_a_taken_mailbox_is_refused_unless_the_same_request_committed_it(dynamodb):
    users = store(dynamodb)
    users.insert(user(), email_key="ada@example.com", request_key="caller:key")
    assert users.insert(user(OTHER_ID), email_key="ada@example.com", request_key="caller:key") == ID
    for request_key in ("caller:other", None):
        with pytest.raises(EmailAlreadyRegistered):
            users.insert(user(OTHER_ID), email_key="ada@example.com", request_key=request_key)
    assert item(dynamodb, f"{contract.USER_PREFIX}{OTHER_ID}") is None


def test_a_taken_user_id_is_not_reported_as_a_taken_mailbox(dynamodb):
    users = store(dynamodb)
    users.insert(user(), email_key="ada@example.com")
    with pytest.raises(ClientError):
        users.insert(user(email="bob@example.com"), email_key="bob@example.com")
    assert item(dynamodb, f"{contract.EMAIL_PREFIX}bob@example.com") is None


def test_a_conflicting_transaction_is_retried_until_the_guard_decides(dynamodb):
    real = dynamodb.transact_write_items
    answers = [failing("TransactionCanceledException", reasons=[None, "TransactionConflict"])] * 2

    def transact(**kwargs):
        return real(**kwargs) if not answers else (_ for _ in ()).throw(answers.pop(0))

    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return high

    with (mock.patch.object(dynamodb, "transact_write_items", side_effect=transact) as calls, mock.patch("time.sleep") as naps,
          mock.patch("random.uniform", side_effect=uniform)):
        assert store(dynamodb).insert(user(), email_key="ada@example.com") == ID
    assert calls.call_count == 3
    assert drawn == [(0.01, 0.05)] * 2  # 10 to 50 ms of jitter,
    assert [nap.args[0] for nap in naps.call_args_list] == [0.05, 0.1]  # times the attempt: a longer wait after each conflict


def test_a_transaction_that_keeps_conflicting_is_a_503_after_three_attempts(dynamodb):
    conflict = failing("TransactionCanceledException", reasons=["TransactionConflict", None])
    with mock.patch.object(dynamodb, "transact_write_items", side_effect=conflict) as calls, mock.patch("time.sleep"):
        with pytest.raises(TemporarilyUnavailable) as busy:
            store(dynamodb).insert(user(), email_key="ada@example.com")
    assert calls.call_count == 3 and busy.value.retry_after_seconds == 1


@pytest.mark.parametrize(("failure", "retry_after"), [
    (failing("ProvisionedThroughputExceededException"), 1),
    (failing("ThrottlingException"), 1),
    (failing("RequestLimitExceeded"), 1),
    (failing("LimitExceededException"), 1),
    (failing("TransactionCanceledException", reasons=["ThrottlingError", None]), 1),
    (failing("TransactionCanceledException", reasons=[None, "ProvisionedThroughputExceeded"]), 1),
    (failing("InternalServerError"), 5),
    (failing("ServiceUnavailable"), 5),
    (failing("ServiceUnavailableException"), 5),
    (EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"), 5),
    (ReadTimeoutError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"), 5),
])
def test_a_busy_or_unreachable_write_region_is_a_503_with_its_retry_after(dynamodb, failure, retry_after):
    with mock.patch.object(dynamodb, "transact_write_items", side_effect=failure):
        with pytest.raises(TemporarilyUnavailable) as busy:
            store(dynamodb).insert(user(), email_key="ada@example.com")
    assert busy.value.retry_after_seconds == retry_after


def test_any_other_failure_stays_an_internal_error(dynamodb):
    with mock.patch.object(dynamodb, "transact_write_items", side_effect=failing("ValidationException")):
        with pytest.raises(ClientError):
            store(dynamodb).insert(user(), email_key="ada@example.com")


@pytest.mark.parametrize(("failure", "raised"), [
    (EndpointConnectionError(endpoint_url="https://x"), TemporarilyUnavailable),
    (failing("InternalServerError", "GetItem"), TemporarilyUnavailable),
    (failing("AccessDeniedException", "GetItem"), ClientError),
])
def test_finding_the_committed_user_fails_as_the_write_region_does(dynamodb, failure, raised):
    users = store(dynamodb)
    users.insert(user(), email_key="ada@example.com", request_key="caller:key")
    with mock.patch.object(dynamodb, "get_item", side_effect=failure), pytest.raises(raised) as caught:
        users.insert(user(OTHER_ID), email_key="ada@example.com", request_key="caller:key")
    if raised is TemporarilyUnavailable:
        assert caught.value.retry_after_seconds == 5  # type: ignore[attr-defined]


def test_reads_are_strongly_consistent(dynamodb):
    seen: list[dict[str, Any]] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.GetItem", lambda params, **_: seen.append(dict(params)))
    users = store(dynamodb)
    users.insert(user(), email_key="ada@example.com", request_key="caller:key")
    users.get(ID)
    users.insert(user(OTHER_ID), email_key="ada@example.com", request_key="caller:key")
    assert len(seen) == 2 and all(params["ConsistentRead"] is True for params in seen)


def test_a_missing_user_is_not_found(dynamodb):
    with pytest.raises(UserNotFound):
        store(dynamodb).get(ID)


def test_a_user_the_replica_lacks_yet_is_read_from_the_write_region(dynamodb):
    replica = mock.Mock()
    replica.get_item.return_value = {}
    users = store(dynamodb, replica=replica)
    users.insert(user(), email_key="ada@example.com")
    assert users.get(ID) == user()
    replica.get_item.assert_called_once()


@pytest.mark.parametrize("failure", [EndpointConnectionError(endpoint_url="https://x"), failing("InternalServerError", "GetItem")])
def test_with_the_write_region_out_of_reach_the_replicas_answer_stands(dynamodb, failure):
    replica = mock.Mock()
    replica.get_item.return_value = {}
    with mock.patch.object(dynamodb, "get_item", side_effect=failure), pytest.raises(UserNotFound):
        store(dynamodb, replica=replica).get(ID)


@pytest.mark.parametrize(("failure", "raised", "retry_after"), [
    (EndpointConnectionError(endpoint_url="https://x"), TemporarilyUnavailable, 5),
    (failing("ThrottlingException", "GetItem"), TemporarilyUnavailable, 1),
    (failing("AccessDeniedException", "GetItem"), ClientError, None),
])
def test_a_failed_read_is_a_503_or_an_internal_error(dynamodb, failure, raised, retry_after):
    with mock.patch.object(dynamodb, "get_item", side_effect=failure), pytest.raises(raised) as caught:
        store(dynamodb).get(ID)
    if retry_after is not None:
        assert caught.value.retry_after_seconds == retry_after  # type: ignore[attr-defined]


def test_pages_follow_creation_order_and_say_where_the_next_starts(dynamodb):
    users = store(dynamodb)
    ids = [f"{i:08x}-3d4a-4b8c-9e1f-0a2b3c4d5e6f" for i in range(5)]
    for i, user_id in enumerate(reversed(ids)):  # created in the opposite order of their ids
        users.insert(user(user_id, f"2026-01-01T00:00:0{i}.000Z", f"u{i}@example.com"), email_key=f"u{i}@example.com")
    first, position = users.page(limit=2, after=None)
    assert [u.user_id for u in first] == ids[::-1][:2]
    assert position == f"2026-01-01T00:00:01.000Z#{ids[3]}"
    rest, last = users.page(limit=3, after=position)
    assert [u.user_id for u in rest] == ids[::-1][2:] and last is None
    assert users.page(limit=5, after=None)[1] is None  # exactly one page
    assert rest[0] == user(ids[2], "2026-01-01T00:00:02.000Z", "u2@example.com")


def test_a_failed_page_is_a_503_or_an_internal_error(dynamodb):
    with mock.patch.object(dynamodb, "query", side_effect=failing("ThrottlingException", "Query")), pytest.raises(TemporarilyUnavailable):
        store(dynamodb).page(limit=1, after=None)
    with mock.patch.object(dynamodb, "query", side_effect=failing("ValidationException", "Query")), pytest.raises(ClientError):
        store(dynamodb).page(limit=1, after=None)


def quota(limit: int = 2, start: int = 7200) -> Quota:
    return Quota(caller="client-1", window_start=start, window_end=start + 3600, limit=limit)


def test_attempts_count_up_to_the_limit_in_one_item_that_expires_an_hour_after_its_window(dynamodb):
    users = store(dynamodb)
    users.count_attempt(quota())
    users.count_attempt(quota())
    assert item(dynamodb, f"{contract.QUOTA_PREFIX}client-1#7200") == {contract.PARTITION_KEY: {"S": f"{contract.QUOTA_PREFIX}client-1#7200"}, "creates": {"N": "2"},
                                                     contract.TTL_ATTRIBUTE: {"N": str(7200 + 3600 + 3600)}}
    with mock.patch("time.time", return_value=7200 + 3000), pytest.raises(CreateLimitReached) as limited:
        users.count_attempt(quota())
    assert limited.value.retry_after_seconds == 600
    users.count_attempt(quota(start=10800))  # the next window starts afresh


def test_a_limit_reached_as_its_window_ends_asks_for_at_least_a_second(dynamodb):
    users = store(dynamodb)
    users.count_attempt(quota(limit=1))
    with mock.patch("time.time", return_value=7200 + 3600 + 5), pytest.raises(CreateLimitReached) as limited:
        users.count_attempt(quota(limit=1))
    assert limited.value.retry_after_seconds == 1


@pytest.mark.parametrize(("failure", "raised", "retry_after"), [
    (EndpointConnectionError(endpoint_url="https://x"), TemporarilyUnavailable, 5),
    (failing("ThrottlingException", "UpdateItem"), TemporarilyUnavailable, 1),
    (failing("ValidationException", "UpdateItem"), ClientError, None),
])
def test_a_failed_count_is_a_503_or_an_internal_error(dynamodb, failure, raised, retry_after):
    with mock.patch.object(dynamodb, "update_item", side_effect=failure), pytest.raises(raised) as caught:
        store(dynamodb).count_attempt(quota())
    if retry_after is not None:
        assert caught.value.retry_after_seconds == retry_after  # type: ignore[attr-defined]


def test_a_user_the_replica_holds_is_never_asked_of_the_write_region(dynamodb):
    store(dynamodb).insert(user(), email_key="ada@example.com")
    write_region = mock.Mock(wraps=dynamodb)  # another region's client; here the same table answers
    assert store(write_region, replica=dynamodb).get(ID) == user()
    write_region.get_item.assert_not_called()


def test_a_page_reads_one_user_more_than_it_returns_and_resumes_after_the_exact_key_of_the_last(dynamodb):
    seen: list[dict[str, Any]] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: seen.append(dict(params)))
    users = store(dynamodb)
    for i in range(3):
        users.insert(user(f"{i:08x}-3d4a-4b8c-9e1f-0a2b3c4d5e6f", f"2026-01-01T00:00:0{i}.000Z", f"u{i}@example.com"), email_key=f"u{i}@example.com")
    _, position = users.page(limit=2, after=None)
    users.page(limit=2, after=position)
    assert [params["Limit"] for params in seen] == [3, 3]
    assert seen[1]["ExclusiveStartKey"] == {
        contract.LIST_INDEX_PARTITION: {"S": contract.USER_ENTITY},
        contract.LIST_INDEX_SORT: {"S": position},
        contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}00000001-3d4a-4b8c-9e1f-0a2b3c4d5e6f"},
    }


def test_an_error_without_a_code_is_reported_as_unknown():
    assert error_code(ClientError({}, "GetItem")) == "Unknown"  # type: ignore[arg-type]
    assert error_code(failing("ThrottlingException")) == "ThrottlingException"
