"""Unit and integration tests of lambda_src on moto.

moto must be active before the handler modules are imported: they create their boto3 clients at
import time, once per container, as in Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.aws_tables import contract_table_spec, create_users_table
from users import contract

REGION = "us-east-1"
TABLE = "users-test"
SENDER = "welcome@archon.example.com"

os.environ.update({
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    contract.ENV_TABLE_NAME: TABLE,
    contract.ENV_SENDER_ADDRESS: SENDER,
    contract.ENV_DELIVERY_LEASE_SECONDS: "60",
    contract.ENV_CORS_ORIGINS: "https://app.example.com,http://localhost:3000",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "Archon",
    "POWERTOOLS_SERVICE_NAME": "test",
    "STAGE": "test",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    contract.ENV_CURSOR_KEY_SECRET: "archon/test/cursor-key",
})
CURSOR_KEY = "k" * 64


@pytest.fixture(scope="session")
def table_spec() -> Any:
    return contract_table_spec(TABLE)


@dataclass
class Aws:
    dynamodb: Any
    ses: Any
    users_api: Any  # the handler module
    notifications: Any
    table_spec: Any

    def items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]

    def sent_emails(self) -> list[Any]:
        from local_runner.moto_compat import sent_emails

        return list(sent_emails(REGION))


@pytest.fixture(scope="session")
def _mocked(table_spec):
    from local_runner import moto_compat

    # These tests hold the functions to stock moto: the local run's patches must not be in.
    assert not moto_compat.installed(), "a test left moto patched (local_runner/moto_compat.py)"
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        ses = boto3.client("ses")
        create_users_table(dynamodb, table_spec)
        ses.verify_email_identity(EmailAddress=SENDER)
        boto3.client("secretsmanager").create_secret(Name=os.environ[contract.ENV_CURSOR_KEY_SECRET], SecretString=json.dumps({"current": CURSOR_KEY}))
        users_api = importlib.import_module("handlers.users_api")
        notifications = importlib.import_module("handlers.notifications")
        yield Aws(dynamodb=dynamodb, ses=ses, users_api=users_api, notifications=notifications, table_spec=table_spec)


@pytest.fixture
def aws(_mocked: Aws) -> Aws:
    """A fresh table and an empty outbox for each test."""
    from local_runner.moto_compat import sent_emails

    _mocked.dynamodb.delete_table(TableName=TABLE)
    create_users_table(_mocked.dynamodb, _mocked.table_spec)
    sent_emails(REGION).clear()
    return _mocked


class LambdaContext:
    function_name = "archon-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:archon-test"
    aws_request_id = "11111111-2222-3333-4444-555555555555"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


TRANSACTIONS = threading.RLock()


@pytest.fixture
def isolated_transactions():
    """DynamoDB runs each transaction in isolation; moto does not (two threads interleave inside
    one), so give the emulator the real service's guarantee. The racers still race. Stream readers
    (tests/unit/replication.py) take the same lock: moto rolls a transaction back by swapping in a
    copy of the table, and an iterator taken meanwhile would read the discarded writes."""
    from local_runner.moto_compat import isolated_transactions

    with isolated_transactions(TRANSACTIONS):
        yield
