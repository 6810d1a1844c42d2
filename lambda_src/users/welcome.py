"""The welcome email: one per user, even though every delivery upstream is at-least-once.

Deduplication lives with the user, durably (users.ports.WelcomeOutbox):
  1. claim:  take a lease (token + expiry) unless the email was already sent or another worker
             holds an unexpired lease;
  2. send:   the mail provider accepts the email (users.ports.Mailer);
  3. mark:   record the email as sent and drop the lease, if the lease is still this worker's.
The user is never marked sent before the provider accepted the email. If the provider fails, the
lease is released and the message fails, to be retried and in the end dead-lettered. The mark is
retried with backoff past transient errors: once the provider has accepted, an unmarked user is
one redelivery away from a second email (or, while the lease holds, from a dead letter for a user
who was welcomed). A worker that dies between 2 and 3, or a mark that fails every attempt, leaves
a lease that expires, so the email is retried: that window is the only way a user could get two
emails.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from users import contract
from users.identity import mailbox
from users.ports import Claim, EmailContent, Mailer, MailerError, OutboxError, WelcomeOutbox
from users.rules import check_email, is_user_id


class Outcome(str, Enum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"


class WelcomeFailure(Exception):
    """A message that could not be handled now; `reason` is a short code safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(ValueError):
    """A queue message that is not a welcome message; the text names what is wrong, never a value."""


@dataclass(frozen=True, kw_only=True)
class WelcomeMessage:
    """The queue message, as the outbox Pipe writes it (see the original design): exactly the
    contract's fields (users.contract.WELCOME_MESSAGE_FIELDS), all strings, its type the
    contract's WELCOME_MESSAGE_TYPE."""

    type: str
    user_id: str
    email: str

    @classmethod
    def from_json(cls, body: str) -> WelcomeMessage:
        """Checked in plain Python: three string fields need no validation library, and the
        processor then never loads pydantic, a large part of its cold start."""
        try:
            fields = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedMessage("the message is not JSON") from None
        if not isinstance(fields, dict) or set(fields) != set(contract.WELCOME_MESSAGE_FIELDS):
            raise MalformedMessage("the message is not an object of exactly type, user_id and email")
        if not all(isinstance(value, str) for value in fields.values()):
            raise MalformedMessage("the message has a field that is not a string")
        if fields["type"] != contract.WELCOME_MESSAGE_TYPE:
            raise MalformedMessage(f"the message's type is not {contract.WELCOME_MESSAGE_TYPE}")
        if not is_user_id(fields["user_id"]):
            raise MalformedMessage("the message's user_id is not a user id (a UUIDv4, in lower case)")
        try:
            check_email(fields["email"])
        except ValueError:  # its text may quote the address, which logs must not hold
            raise MalformedMessage("the message's email does not meet the email rules") from None
        return cls(type=contract.WELCOME_MESSAGE_TYPE, user_id=fields["user_id"], email=fields["email"])


# Every word is Archon's: the name a caller gave is left out, so a name can never make the email
# read as instructions or carry a link to whatever address the caller typed.
WELCOME = EmailContent(
    subject="Welcome to Archon",
    text="Hello,\n\nan Archon account was created for this address and is ready.\n\nThe Archon team\n",
)


# On top of the SDK's own retries: their sum stays well inside the processor's timeout.
MARK_BACKOFF_SECONDS = (0.05, 0.1, 0.2, 0.4, 0.8)
SENT_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # what the mark records: UTC, to the second


class WelcomeEmails:
    def __init__(
        self,
        *,
        outbox: WelcomeOutbox,
        mailer: Mailer,
        lease_seconds: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        new_token: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._outbox = outbox
        self._mailer = mailer
        self._lease = lease_seconds
        self._clock = clock
        self._sleep = sleep
        self._new_token = new_token

    def deliver(self, message: WelcomeMessage) -> Outcome:
        token = self._new_token()
        now = int(self._clock())
        try:
            claim = self._outbox.claim(message.user_id, token=token, now=now, lease_until=now + self._lease)
        except OutboxError as exc:
            raise WelcomeFailure(exc.reason) from None
        if claim is Claim.ALREADY_SENT:
            return Outcome.ALREADY_SENT
        if claim is not Claim.TAKEN:
            raise WelcomeFailure(claim.value)
        try:
            self._mailer.send(to=mailbox(message.email).delivery_address, content=WELCOME)
        except MailerError as exc:
            self._outbox.release(message.user_id, token=token)
            raise WelcomeFailure(exc.reason) from None
        self._mark_sent(message.user_id, token)
        return Outcome.SENT

    def _mark_sent(self, user_id: str, token: str) -> None:
        sent_at = time.strftime(SENT_AT_FORMAT, time.gmtime(self._clock()))
        for backoff in (*MARK_BACKOFF_SECONDS, None):
            try:
                self._outbox.mark_sent(user_id, token=token, sent_at=sent_at)
                return
            except OutboxError as exc:
                if backoff is None or not exc.transient:
                    # The provider accepted the email. Failing the message would send it again,
                    # so it succeeds; the caller reports the missing mark loudly instead.
                    raise WelcomeMarkFailed(exc.reason) from None
                self._sleep(backoff)


class WelcomeMarkFailed(Exception):
    """The provider accepted the email but the sent mark could not be written; `code` is the
    store's reason, safe to log."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
