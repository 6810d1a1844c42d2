"""The welcome email's rules (users.welcome), cloud-free: what is sent, when, to whom, and what a
failure is reported as. The same rules on DynamoDB and SES: tests/adapters/aws."""

from __future__ import annotations

import json
import time

import pytest

from tests.domain.ports import RecordingMailer, ScriptedOutbox
from users import contract
from users.ports import Claim, EmailContent, MailerError, OutboxError
from users.welcome import (
    MARK_BACKOFF_SECONDS,
    WELCOME,
    MalformedMessage,
    Outcome,
    WelcomeEmails,
    WelcomeFailure,
    WelcomeMarkFailed,
    WelcomeMessage,
)

USER_ID = "6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f"
NOW = 1_767_225_600.75  # 2026-01-01T00:00:00.75Z
LEASE = 60


def emails(outbox: ScriptedOutbox, mailer: RecordingMailer, naps: list[float] | None = None) -> WelcomeEmails:
    return WelcomeEmails(outbox=outbox, mailer=mailer, lease_seconds=LEASE, clock=lambda: NOW,
                         sleep=(naps if naps is not None else []).append, new_token=lambda: "token-1")


def message(email: str = "Ada@Example.COM") -> WelcomeMessage:
    return WelcomeMessage(type=contract.WELCOME_MESSAGE_TYPE, user_id=USER_ID, email=email)


def test_a_claimed_user_gets_the_welcome_email_at_the_delivery_address_and_is_marked_sent():
    outbox, mailer = ScriptedOutbox(), RecordingMailer()
    assert emails(outbox, mailer).deliver(message("Ada@BÜCHER.example")) is Outcome.SENT
    assert mailer.sent == [("Ada@xn--bcher-kva.example", WELCOME)]
    assert outbox.named("claim") == [{"user_id": USER_ID, "token": "token-1", "now": int(NOW), "lease_until": int(NOW) + LEASE}]
    assert outbox.named("mark_sent") == [{"user_id": USER_ID, "token": "token-1", "sent_at": "2026-01-01T00:00:00Z"}]
    assert outbox.named("release") == []


def test_the_email_is_archons_words_only():
    assert WELCOME == EmailContent(
        subject="Welcome to Archon",
        text="Hello,\n\nan Archon account was created for this address and is ready.\n\nThe Archon team\n",
    )


def test_a_user_already_welcomed_gets_nothing_more():
    outbox, mailer = ScriptedOutbox(claim_answer=Claim.ALREADY_SENT), RecordingMailer()
    assert emails(outbox, mailer).deliver(message()) is Outcome.ALREADY_SENT
    assert mailer.sent == [] and outbox.named("mark_sent") == []


@pytest.mark.parametrize(("claim", "reason"), [(Claim.IN_PROGRESS, "delivery_in_progress"), (Claim.NO_USER, "user_not_found")])
def test_a_claim_that_is_not_this_workers_fails_the_message_with_its_reason(claim, reason):
    outbox, mailer = ScriptedOutbox(claim_answer=claim), RecordingMailer()
    with pytest.raises(WelcomeFailure) as failure:
        emails(outbox, mailer).deliver(message())
    assert failure.value.reason == reason and str(failure.value) == reason
    assert mailer.sent == [] and outbox.named("mark_sent") == []


def test_a_store_failure_while_claiming_is_reported_with_the_stores_reason():
    outbox = ScriptedOutbox(claim_answer=OutboxError("dynamodb_ThrottlingException", transient=True))
    mailer = RecordingMailer()
    with pytest.raises(WelcomeFailure) as failure:
        emails(outbox, mailer).deliver(message())
    assert failure.value.reason == "dynamodb_ThrottlingException"
    assert mailer.sent == []


def test_a_refused_email_releases_the_lease_and_fails_the_message_with_the_providers_reason():
    outbox, mailer = ScriptedOutbox(), RecordingMailer(failure=MailerError("ses_MessageRejected"))
    with pytest.raises(WelcomeFailure) as failure:
        emails(outbox, mailer).deliver(message())
    assert failure.value.reason == "ses_MessageRejected"
    assert outbox.named("release") == [{"user_id": USER_ID, "token": "token-1"}]
    assert outbox.named("mark_sent") == []


def test_a_transient_mark_failure_is_retried_after_each_backoff_in_turn():
    failures = [OutboxError("dynamodb_ThrottlingException", transient=True)] * 3
    outbox, mailer, naps = ScriptedOutbox(mark_failures=list(failures)), RecordingMailer(), []
    assert emails(outbox, mailer, naps).deliver(message()) is Outcome.SENT
    assert naps == list(MARK_BACKOFF_SECONDS[:3])
    assert len(outbox.named("mark_sent")) == 4 and len(mailer.sent) == 1


def test_a_mark_that_fails_every_attempt_is_reported_once_every_backoff_is_spent():
    failures = [OutboxError("dynamodb_InternalServerError", transient=True)] * 10
    outbox, mailer, naps = ScriptedOutbox(mark_failures=list(failures)), RecordingMailer(), []
    with pytest.raises(WelcomeMarkFailed) as failed:
        emails(outbox, mailer, naps).deliver(message())
    assert failed.value.code == "dynamodb_InternalServerError" and str(failed.value) == "dynamodb_InternalServerError"
    assert naps == list(MARK_BACKOFF_SECONDS)
    assert len(outbox.named("mark_sent")) == len(MARK_BACKOFF_SECONDS) + 1
    assert len(mailer.sent) == 1 and outbox.named("release") == []  # sent once; the lease is not given away


def test_a_permanent_mark_failure_is_reported_at_once():
    outbox = ScriptedOutbox(mark_failures=[OutboxError("dynamodb_ConditionalCheckFailedException", transient=False)])
    naps: list[float] = []
    with pytest.raises(WelcomeMarkFailed) as failed:
        emails(outbox, RecordingMailer(), naps).deliver(message())
    assert failed.value.code == "dynamodb_ConditionalCheckFailedException"
    assert naps == [] and len(outbox.named("mark_sent")) == 1


def test_the_mark_backoff_grows_and_its_sum_stays_inside_every_stages_processor_timeout():
    """The retries' sleeps, on top of the SDK's own, leave the batch time to finish its records."""
    from cdk_app.config import load_stages

    assert MARK_BACKOFF_SECONDS == (0.05, 0.1, 0.2, 0.4, 0.8)
    for stage in load_stages():
        assert sum(MARK_BACKOFF_SECONDS) <= stage.notifications.timeout_seconds / 10, stage.name


def test_each_delivery_takes_a_token_of_its_own_by_default():
    outbox = ScriptedOutbox(claim_answer=Claim.ALREADY_SENT)
    welcome = WelcomeEmails(outbox=outbox, mailer=RecordingMailer(), lease_seconds=LEASE)
    welcome.deliver(message())
    welcome.deliver(message())
    first, second = (call["token"] for call in outbox.named("claim"))
    assert first != second and len(first) == 36  # a UUID
    assert abs(outbox.named("claim")[0]["now"] - time.time()) < 60  # the wall clock by default


def test_the_sent_mark_is_the_utc_second_of_the_send():
    outbox = ScriptedOutbox()
    WelcomeEmails(outbox=outbox, mailer=RecordingMailer(), lease_seconds=LEASE, clock=lambda: 1_000_000_000.9).deliver(message())
    assert outbox.named("mark_sent")[0]["sent_at"] == "2001-09-09T01:46:40Z"


# A message as the outbox writes it (users.contract), then each way one can be wrong, with what
# the processor logs about it: what is wrong, never a value.
GOOD = {"type": contract.WELCOME_MESSAGE_TYPE, "user_id": USER_ID, "email": "ada@example.com"}


def test_the_outbox_message_reads_back_as_sent():
    assert WelcomeMessage.from_json(json.dumps(GOOD)) == WelcomeMessage(type=contract.WELCOME_MESSAGE_TYPE, user_id=USER_ID, email="ada@example.com")
    assert set(GOOD) == set(contract.WELCOME_MESSAGE_FIELDS)


@pytest.mark.parametrize(("body", "says"), [
    ("not json", "the message is not JSON"),
    ("[" * 100_000, "the message is not JSON"),
    ("null", "the message is not an object of exactly type, user_id and email"),
    (json.dumps([GOOD]), "the message is not an object of exactly type, user_id and email"),
    (json.dumps({**GOOD, "extra": "x"}), "the message is not an object of exactly type, user_id and email"),
    (json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": USER_ID}), "the message is not an object of exactly type, user_id and email"),
    (json.dumps({**GOOD, "user_id": 7}), "the message has a field that is not a string"),
    (json.dumps({**GOOD, "type": None}), "the message has a field that is not a string"),
    (json.dumps({**GOOD, "type": "goodbye_email"}), "the message's type is not welcome_email"),
    (json.dumps({**GOOD, "user_id": USER_ID.upper()}), "the message's user_id is not a user id (a UUIDv4, in lower case)"),
    (json.dumps({**GOOD, "email": "x"}), "the message's email does not meet the email rules"),
    (json.dumps({**GOOD, "email": "a\u202e@example.com"}), "the message's email does not meet the email rules"),
])
def test_a_message_that_is_not_a_welcome_message_says_what_is_wrong(body, says):
    with pytest.raises(MalformedMessage) as malformed:
        WelcomeMessage.from_json(body)
    assert str(malformed.value) == says
