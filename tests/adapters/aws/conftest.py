"""The AWS adapters on moto, without the handlers: one emulator per test module, and a fresh
table (from the shared contract) and SES outbox for each test."""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
TABLE = "users-adapters"
SENDER = "welcome@archon.example.com"


@pytest.fixture(scope="module")
def _emulator() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def dynamodb(_emulator: None) -> Iterator[Any]:
    import boto3

    from local_runner.moto_compat import sent_emails
    from tests.aws_tables import contract_table_spec, create_users_table

    client = boto3.client("dynamodb", region_name="us-east-1")
    create_users_table(client, contract_table_spec(TABLE))
    sent_emails("us-east-1").clear()
    yield client
    client.delete_table(TableName=TABLE)


@pytest.fixture
def sesv2(dynamodb: Any) -> Any:
    import boto3

    client = boto3.client("sesv2", region_name="us-east-1")
    boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress=SENDER)
    return client


def sent_emails() -> list[Any]:
    from local_runner.moto_compat import sent_emails

    return list(sent_emails("us-east-1"))
