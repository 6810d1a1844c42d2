"""The welcome-notification processor on moto: one email per user, partial failures, poison."""

from __future__ import annotations

import json
import time
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from tests.unit.events import api_event, sqs_event, welcome
from users import contract


def make_user(aws, context, email="new.user@example.com", name="New User") -> str:
    reply = aws.users_api.handler(api_event("POST", "/users", body={"name": name, "email": email}), context)
    assert reply["statusCode"] == 201
    return json.loads(reply["body"])["user_id"]


def process(aws, context, *bodies: str) -> list[str]:
    """Runs one batch; returns the ids of the records reported as failed."""
    result = aws.notifications.handler(sqs_event(*bodies), context)
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def user_item(aws, user_id):
    return aws.dynamodb.get_item(TableName="users-test", Key={contract.PARTITION_KEY: {"S": f"{contract.USER_PREFIX}{user_id}"}})["Item"]


def test_sends_one_welcome_email_from_the_sender(aws, context):
    user_id = make_user(aws, context)
    assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    (email,) = aws.sent_emails()
    assert email.source == "welcome@archon.example.com"
    assert email.destinations["ToAddresses"] == ["new.user@example.com"]
    assert email.subject == "Welcome to Archon" and "New User" not in email.body and email.body.startswith("Hello,")
    item = user_item(aws, user_id)
    assert "welcome_email_sent_at" in item and "welcome_lease_token" not in item


def test_a_user_stored_before_the_64_byte_limit_still_gets_the_welcome_email(aws, context, monkeypatch):
    address = "a" * 70 + "@example.com"
    monkeypatch.setattr("users.rules.LOCAL_PART_MAX_OCTETS", 1000)
    user_id = make_user(aws, context, email=address)
    monkeypatch.undo()
    assert process(aws, context, welcome(user_id, address)) == []
    assert [email.destinations["ToAddresses"] for email in aws.sent_emails()] == [[address]]


def test_redelivered_message_does_not_send_twice(aws, context):
    user_id = make_user(aws, context)
    message = welcome(user_id, "new.user@example.com")
    assert process(aws, context, message, message) == []  # the duplicate in the same batch too
    assert process(aws, context, message) == []
    assert len(aws.sent_emails()) == 1


# USER_ID stands for the id of a user who has no email yet: were one of these accepted, it would
# send that user's email and the well-formed message after it would find it sent.
@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "null",
        "[" * 100_000,
        json.dumps([1, 2]),
        json.dumps({"type": "goodbye_email", "user_id": "USER_ID", "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "nope", "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "{USER_ID}", "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "USER_ID\n", "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "USER_ID", "email": "x"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "USER_ID", "email": "a@example.com", "extra": "x"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": 7, "email": "a@example.com"}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "USER_ID", "email": ["a@example.com"]}),
        json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": "USER_ID", "email": "a\u202e@example.com"}),
    ],
)
def test_malformed_messages_are_reported_and_the_rest_of_the_batch_succeeds(aws, context, caplog, body):
    user_id = make_user(aws, context)
    with caplog.at_level("WARNING"):
        failed = process(aws, context, body.replace("USER_ID", user_id), welcome(user_id, "new.user@example.com"))
    assert failed == ["m-0"]
    assert len(aws.sent_emails()) == 1
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.reason == "malformed_message"
    # What is wrong, for whoever looks at the dead letter, but never a value from the message.
    assert warning.detail.startswith("the message") and "@" not in warning.detail and user_id not in warning.detail


def test_message_for_an_unknown_user_fails_without_sending(aws, context):
    assert process(aws, context, welcome("00000000-0000-4000-8000-000000000000", "ghost@example.com")) == ["m-0"]
    assert aws.sent_emails() == []
    assert aws.items() == []  # the claim never creates an item


@pytest.mark.parametrize("code", ["Throttling", "MessageRejected", "TooManyRequestsException"])
def test_ses_failure_fails_only_that_record_and_releases_the_claim(aws, context, code):
    first = make_user(aws, context, email="first@example.com")
    second = make_user(aws, context, email="second@example.com")
    real_send = aws.notifications._ses.send_email

    def send(**kwargs):
        if kwargs["Destination"]["ToAddresses"] == ["first@example.com"]:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "SendEmail")
        return real_send(**kwargs)

    with mock.patch.object(aws.notifications._ses, "send_email", side_effect=send):
        failed = process(aws, context, welcome(first, "first@example.com"), welcome(second, "second@example.com"))
    assert failed == ["m-0"]
    item = user_item(aws, first)
    assert "welcome_email_sent_at" not in item and "welcome_lease_token" not in item  # not marked, lease freed
    # The retry succeeds and the first user still gets exactly one email.
    assert process(aws, context, welcome(first, "first@example.com")) == []
    assert sorted(e.destinations["ToAddresses"][0] for e in aws.sent_emails()) == ["first@example.com", "second@example.com"]


def test_a_delivery_in_progress_elsewhere_is_retried_later(aws, context):
    user_id = make_user(aws, context)
    now = int(time.time())
    aws.notifications.welcome._outbox.claim(user_id, token="another-worker", now=now, lease_until=now + 60)
    assert process(aws, context, welcome(user_id, "new.user@example.com")) == ["m-0"]
    assert aws.sent_emails() == []


def test_an_expired_lease_is_taken_over(aws, context):
    user_id = make_user(aws, context)
    aws.notifications.welcome._outbox.claim(user_id, token="crashed-worker", now=1_000, lease_until=1_060)
    assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert len(aws.sent_emails()) == 1


def _failing_marks(processor, failures: int, code: str = "ProvisionedThroughputExceededException"):
    """update_item with the sent mark failing `failures` times (the SDK's retries already spent)."""
    real_update = processor._dynamodb.update_item
    seen = {"marks": 0}

    def update(**kwargs):
        if kwargs["UpdateExpression"].startswith("SET welcome_email_sent_at"):
            seen["marks"] += 1
            if seen["marks"] <= failures:
                raise ClientError({"Error": {"Code": code, "Message": "x"}}, "UpdateItem")
        return real_update(**kwargs)

    return mock.patch.object(processor._dynamodb, "update_item", side_effect=update), seen


def test_mark_failure_after_ses_accepted_does_not_retry_the_record(aws, context):
    user_id = make_user(aws, context)
    welcome_emails = aws.notifications.welcome
    patch, seen = _failing_marks(aws.notifications, failures=100)
    with patch, mock.patch.object(welcome_emails, "_sleep", lambda _: None):
        assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert len(aws.sent_emails()) == 1
    assert seen["marks"] == 6  # the first try and five backed-off retries


def test_a_throttled_mark_is_retried_so_a_redelivery_sends_nothing(aws, context):
    """Without the retry, the unmarked user kept the lease: a redelivery (a crash later in the
    batch, a duplicate from the Pipe) dead-lettered a welcomed user, or after the lease emailed
    them twice. The ledger under faults found it."""
    user_id = make_user(aws, context)
    welcome_emails = aws.notifications.welcome
    naps: list[float] = []
    patch, seen = _failing_marks(aws.notifications, failures=2)
    with patch, mock.patch.object(welcome_emails, "_sleep", naps.append):
        assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert naps == [0.05, 0.1]
    assert process(aws, context, welcome(user_id, "new.user@example.com")) == []  # redelivered
    assert len(aws.sent_emails()) == 1
    user = next(i for i in aws.items() if i[contract.PARTITION_KEY]["S"] == f"{contract.USER_PREFIX}{user_id}")
    assert "welcome_email_sent_at" in user and "welcome_lease_until" not in user


def test_a_lost_lease_is_not_retried(aws, context):
    user_id = make_user(aws, context)
    patch, seen = _failing_marks(aws.notifications, failures=100, code="ConditionalCheckFailedException")
    with patch:
        assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert seen["marks"] == 1


def test_crash_mid_batch_fails_only_the_records_it_hit(aws, context):
    ids = [make_user(aws, context, email=f"b{i}@example.com") for i in range(4)]
    welcome_emails = aws.notifications.welcome
    real_deliver = welcome_emails.deliver

    def deliver(message):
        if message.user_id == ids[2]:
            raise RuntimeError("worker crashed")
        return real_deliver(message)

    with mock.patch.object(welcome_emails, "deliver", side_effect=deliver):
        failed = process(aws, context, *[welcome(u, f"b{i}@example.com") for i, u in enumerate(ids)])
    assert failed == ["m-2"]
    assert len(aws.sent_emails()) == 3


def test_logs_hold_no_email_addresses(aws, context, caplog):
    user_id = make_user(aws, context, email="private.person@example.com")
    with caplog.at_level("INFO"):
        process(aws, context, welcome(user_id, "private.person@example.com"), "garbage")
    formatter = aws.notifications.logger.registered_formatter
    text = "\n".join(formatter.format(r) for r in caplog.records if r.name == aws.notifications.logger.name)
    assert user_id in text
    assert "private.person@example.com" not in text


TRANSIENT = ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
             "InternalServerError", "ServiceUnavailable", "TransactionConflictException"]
PERMANENT = ["ConditionalCheckFailedException", "ValidationException", "AccessDeniedException", "ResourceNotFoundException"]


@pytest.mark.parametrize(("code", "transient"), [(c, True) for c in TRANSIENT] + [(c, False) for c in PERMANENT])
def test_a_transient_mark_failure_is_retried_and_a_permanent_one_is_not(aws, context, code, transient):
    user_id = make_user(aws, context)
    welcome_emails = aws.notifications.welcome
    patch, seen = _failing_marks(aws.notifications, failures=1, code=code)
    with patch, mock.patch.object(welcome_emails, "_sleep", lambda _: None):
        assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert seen["marks"] == (2 if transient else 1)  # a transient one: failed once, then marked
    assert ("welcome_email_sent_at" in user_item(aws, user_id)) == transient
    assert len(aws.sent_emails()) == 1  # either way SES sent it once, and the record is not retried


def test_the_mark_backoff_fits_well_inside_the_processors_timeout():
    """The retries' sleeps, on top of the SDK's own, leave the batch time to finish its records."""
    from cdk_app.config import load_stages
    from users.welcome import MARK_BACKOFF_SECONDS

    assert list(MARK_BACKOFF_SECONDS) == sorted(MARK_BACKOFF_SECONDS) and MARK_BACKOFF_SECONDS[0] > 0
    for stage in load_stages():
        assert sum(MARK_BACKOFF_SECONDS) <= stage.notifications.timeout_seconds / 10, stage.name


def test_the_sent_mark_is_an_iso_8601_utc_second(aws, context):
    import re

    user_id = make_user(aws, context)
    assert process(aws, context, welcome(user_id, "new.user@example.com")) == []
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", user_item(aws, user_id)["welcome_email_sent_at"]["S"])
