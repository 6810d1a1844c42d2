"""A create whose answer was lost after the commit (the idempotency save throttled, a timeout)
must not turn the client's retry into "email taken": found by the ledger (tools/ledger.py),
where 500s for committed users left the client unable to learn its user."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.conftest import REGION, TABLE
from users import contract


def _service(aws: Any, new_id: str) -> Any:
    from users.logic import UsersService
    from adapters.aws.users_table import DynamoDBUserStore

    return UsersService(store=DynamoDBUserStore(client=aws.dynamodb, table_name=TABLE, region=REGION), new_id=lambda: new_id)


def test_a_retry_with_the_same_request_key_gets_the_committed_user(aws: Any) -> None:
    from users.models import NewUser

    first = _service(aws, "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f").create(
        NewUser(name="Ada", email="ada@example.com"), request_key="caller:key-1")
    again = _service(aws, "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a").create(
        NewUser(name="Ada", email="ada@example.com"), request_key="caller:key-1")
    assert again == first
    assert len([i for i in aws.items() if i[contract.PARTITION_KEY]["S"].startswith(contract.USER_PREFIX)]) == 1


def test_another_request_key_still_gets_email_taken(aws: Any) -> None:
    from users.errors import EmailAlreadyRegistered
    from users.models import NewUser

    _service(aws, "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f").create(NewUser(name="Ada", email="ada@example.com"), request_key="caller:key-1")
    with pytest.raises(EmailAlreadyRegistered):
        _service(aws, "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a").create(NewUser(name="Ada", email="ADA@example.com"), request_key="caller:key-2")
    with pytest.raises(EmailAlreadyRegistered):
        _service(aws, "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a").create(NewUser(name="Ada", email="ada@example.com"))


def test_idempotency_store_failure_is_a_503_to_retry_with_the_same_key(aws: Any, context: Any) -> None:
    import json
    from unittest import mock

    from tests.unit.events import api_event

    event = api_event("POST", "/users", body={"name": "Ada", "email": "ada@example.com"}, headers={"Idempotency-Key": "k-1"})
    failure = RuntimeError("throttled at /var/task/secret.py")
    with mock.patch.object(aws.users_api._idempotency_store, "save_inprogress", side_effect=failure):
        reply = aws.users_api.handler(event, context)
    assert reply["statusCode"] == 503 and reply["multiValueHeaders"]["Retry-After"] == ["1"]
    assert json.loads(reply["body"])["error"]["code"] == "temporarily_unavailable"
    assert "throttled" not in reply["body"] and "secret" not in reply["body"]
