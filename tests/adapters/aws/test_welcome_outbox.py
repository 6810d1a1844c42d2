"""The welcome outbox on the users table and the SES mailer (adapters.aws), on moto: the lease, the
mark, and what each failure is reported as."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from adapters.aws.mailer import SesMailer
from adapters.aws.users_table import DynamoDBUserStore
from adapters.aws.welcome_outbox import DynamoDBWelcomeOutbox
from tests.adapters.aws.conftest import SENDER, TABLE, sent_emails
from users.models import User
from users.ports import Claim, EmailContent, MailerError, OutboxError
from users import contract

ID = "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f"


@pytest.fixture
def outbox(dynamodb: Any) -> DynamoDBWelcomeOutbox:
    DynamoDBUserStore(client=dynamodb, table_name=TABLE, region="us-east-1").insert(
        User(user_id=ID, name="Ada", email="ada@example.com", created_at="2026-01-01T00:00:00.000Z"), email_key="ada@example.com")
    return DynamoDBWelcomeOutbox(client=dynamodb, table_name=TABLE)


def user_item(dynamodb: Any) -> dict[str, Any]:
    found: dict[str, Any] = dynamodb.get_item(TableName=TABLE, Key={contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{ID}"}})["Item"]
    return found


def welcome_attributes(dynamodb: Any) -> dict[str, Any]:
    return {k: v for k, v in user_item(dynamodb).items() if k.startswith("welcome_")}


def failing(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "UpdateItem")


def test_a_claim_takes_the_lease_until_it_expires(dynamodb, outbox):
    assert outbox.claim(ID, token="a", now=1000, lease_until=1060) is Claim.TAKEN
    assert welcome_attributes(dynamodb) == {"welcome_lease_token": {"S": "a"}, "welcome_lease_until": {"N": "1060"}}
    assert outbox.claim(ID, token="b", now=1059, lease_until=1119) is Claim.IN_PROGRESS
    assert outbox.claim(ID, token="b", now=1060, lease_until=1120) is Claim.IN_PROGRESS  # until its last second
    assert outbox.claim(ID, token="c", now=1061, lease_until=1121) is Claim.TAKEN  # then another worker's


def test_a_marked_user_is_already_sent_and_no_lease_remains(dynamodb, outbox):
    outbox.claim(ID, token="a", now=1000, lease_until=1060)
    outbox.mark_sent(ID, token="a", sent_at="2026-01-01T00:00:00Z")
    assert welcome_attributes(dynamodb) == {"welcome_email_sent_at": {"S": "2026-01-01T00:00:00Z"}}
    assert outbox.claim(ID, token="b", now=5000, lease_until=5060) is Claim.ALREADY_SENT


def test_a_user_that_does_not_exist_is_never_created_by_a_claim(dynamodb, outbox):
    other = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
    assert outbox.claim(other, token="a", now=1000, lease_until=1060) is Claim.NO_USER
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{other}"}})


def test_a_released_lease_frees_the_user_and_only_its_holder_releases_it(dynamodb, outbox):
    outbox.claim(ID, token="a", now=1000, lease_until=1060)
    outbox.release(ID, token="someone-else")
    assert welcome_attributes(dynamodb)["welcome_lease_token"] == {"S": "a"}
    outbox.release(ID, token="a")
    assert welcome_attributes(dynamodb) == {}
    assert outbox.claim(ID, token="b", now=1001, lease_until=1061) is Claim.TAKEN


def test_a_failed_release_is_left_to_the_lease_expiry(dynamodb, outbox):
    with mock.patch.object(dynamodb, "update_item", side_effect=failing("ThrottlingException")):
        outbox.release(ID, token="a")  # no error: the lease expires on its own


def test_a_lost_lease_cannot_be_marked(dynamodb, outbox):
    outbox.claim(ID, token="a", now=1000, lease_until=1060)
    outbox.claim(ID, token="b", now=2000, lease_until=2060)  # a's lease expired and was taken over
    with pytest.raises(OutboxError) as lost:
        outbox.mark_sent(ID, token="a", sent_at="2026-01-01T00:00:00Z")
    assert lost.value.reason == "dynamodb_ConditionalCheckFailedException" and lost.value.transient is False
    assert "welcome_email_sent_at" not in user_item(dynamodb)


TRANSIENT = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException",
             "InternalServerError", "ServiceUnavailable", "TransactionConflictException"]
PERMANENT = ["ConditionalCheckFailedException", "ValidationException", "AccessDeniedException", "ResourceNotFoundException"]


@pytest.mark.parametrize(("code", "transient"), [(c, True) for c in TRANSIENT] + [(c, False) for c in PERMANENT])
def test_each_mark_failure_says_whether_a_retry_may_succeed(dynamodb, outbox, code, transient):
    with mock.patch.object(dynamodb, "update_item", side_effect=failing(code)), pytest.raises(OutboxError) as failed:
        outbox.mark_sent(ID, token="a", sent_at="2026-01-01T00:00:00Z")
    assert failed.value.reason == f"dynamodb_{code}" and str(failed.value) == f"dynamodb_{code}"
    assert failed.value.transient is transient


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_a_failed_claim_is_reported_with_its_code(dynamodb, outbox, code):
    with mock.patch.object(dynamodb, "update_item", side_effect=failing(code)), pytest.raises(OutboxError) as failed:
        outbox.claim(ID, token="a", now=1000, lease_until=1060)
    assert failed.value.reason == f"dynamodb_{code}"


def test_the_mailer_sends_the_content_from_the_sender(sesv2):
    SesMailer(client=sesv2, sender=SENDER).send(to="ada@example.com", content=EmailContent(subject="Hi", text="Hello\n"))
    (email,) = sent_emails()
    assert email.source == SENDER and email.destinations["ToAddresses"] == ["ada@example.com"]
    assert email.subject == "Hi" and email.body == "Hello\n"


def test_the_mailer_says_utf_8_for_subject_and_body(sesv2):
    seen: list[dict[str, Any]] = []
    sesv2.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: seen.append(params))
    SesMailer(client=sesv2, sender=SENDER).send(to="ada@example.com", content=EmailContent(subject="Hi", text="Hello\n"))
    simple = seen[0]["Content"]["Simple"]
    assert simple["Subject"]["Charset"] == "UTF-8" and simple["Body"]["Text"]["Charset"] == "UTF-8"


@pytest.mark.parametrize("code", ["MessageRejected", "TooManyRequestsException"])
def test_a_refused_email_is_reported_with_the_providers_code(sesv2, code):
    mailer = SesMailer(client=sesv2, sender=SENDER)
    with mock.patch.object(sesv2, "send_email", side_effect=ClientError({"Error": {"Code": code, "Message": "no"}}, "SendEmail")):
        with pytest.raises(MailerError) as refused:
            mailer.send(to="ada@example.com", content=EmailContent(subject="Hi", text="Hello\n"))
    assert refused.value.reason == f"ses_{code}" and str(refused.value) == f"ses_{code}"
