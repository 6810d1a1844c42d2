"""The welcome email: one per user, even though every delivery upstream is at-least-once.

Deduplication lives on the user item itself, durably:
  1. claim:  a conditional update takes a lease (token + expiry) unless the email was already
             sent or another worker holds an unexpired lease;
  2. send:   SES accepts the email;
  3. mark:   a conditional update (same token) records `welcome_email_sent_at`, drops the lease.
The item is never marked sent before SES accepted the email. If SES fails, the lease is released
and the record fails, to be retried and in the end dead-lettered. The mark is retried with
backoff past transient errors: once SES has accepted, an unmarked user is one redelivery away from
a second email (or, while the lease holds, from a dead letter for a user who was welcomed). A
worker that dies between 2 and 3, or a mark that fails every attempt, leaves a lease that expires,
so the email is retried: that window is the only way a user could get two emails.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from botocore.exceptions import ClientError

from users.identity import mailbox
from users.rules import check_email, is_user_id
from users.repository import THROTTLE_CODES, user_key


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
    """The queue message, as the outbox Pipe writes it (see the original design): exactly
    {"type": "welcome_email", "user_id": <a user id>, "email": <an address>}, all strings."""

    type: Literal["welcome_email"]
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
        if not isinstance(fields, dict) or set(fields) != {"type", "user_id", "email"}:
            raise MalformedMessage("the message is not an object of exactly type, user_id and email")
        if not all(isinstance(value, str) for value in fields.values()):
            raise MalformedMessage("the message has a field that is not a string")
        if fields["type"] != "welcome_email":
            raise MalformedMessage("the message's type is not welcome_email")
        if not is_user_id(fields["user_id"]):
            raise MalformedMessage("the message's user_id is not a user id (a UUIDv4, in lower case)")
        try:
            check_email(fields["email"])
        except ValueError:  # its text may quote the address, which logs must not hold
            raise MalformedMessage("the message's email does not meet the email rules") from None
        return cls(type="welcome_email", user_id=fields["user_id"], email=fields["email"])


@dataclass(frozen=True, kw_only=True)
class EmailContent:
    subject: str
    text: str


# Every word is Archon's: the name a caller gave is left out, so a name can never make the email
# read as instructions or carry a link to whatever address the caller typed.
WELCOME = EmailContent(
    subject="Welcome to Archon",
    text="Hello,\n\nan Archon account was created for this address and is ready.\n\nThe Archon team\n",
)


# On top of the SDK's own retries: their sum stays well inside the processor's timeout.
MARK_BACKOFF_SECONDS = (0.05, 0.1, 0.2, 0.4, 0.8)
TRANSIENT_CODES = THROTTLE_CODES | {"InternalServerError", "ServiceUnavailable", "TransactionConflictException"}


class WelcomeEmails:
    def __init__(
        self,
        *,
        dynamodb: Any,
        ses: Any,
        table_name: str,
        sender: str,
        lease_seconds: int,
        clock: Any = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ddb = dynamodb
        self._ses = ses
        self._table = table_name
        self._sender = sender
        self._lease = lease_seconds
        self._clock = clock
        self._sleep = sleep

    def deliver(self, message: WelcomeMessage) -> Outcome:
        token = str(uuid.uuid4())
        item = self._claim(message.user_id, token)
        if item is None:
            return Outcome.ALREADY_SENT
        content = WELCOME
        try:
            self._ses.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [mailbox(message.email).delivery_address]},
                Content={
                    "Simple": {
                        "Subject": {"Data": content.subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": content.text, "Charset": "UTF-8"}},
                    }
                },
            )
        except ClientError as exc:
            self._release(message.user_id, token)
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise WelcomeFailure(f"ses_{code}") from None
        self._mark_sent(message.user_id, token)
        return Outcome.SENT

    def _claim(self, user_id: str, token: str) -> dict[str, Any] | None:
        """Takes the lease; returns the user item, or None when the email was already sent."""
        now = int(self._clock())
        try:
            response = self._ddb.update_item(
                TableName=self._table,
                Key=user_key(user_id),
                UpdateExpression="SET welcome_lease_token = :token, welcome_lease_until = :until",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(welcome_email_sent_at) "
                    "AND (attribute_not_exists(welcome_lease_until) OR welcome_lease_until < :now)"
                ),
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":until": {"N": str(now + self._lease)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise WelcomeFailure(f"dynamodb_{exc.response.get('Error', {}).get('Code', 'Unknown')}") from None
            old = exc.response.get("Item")
            if not old:
                raise WelcomeFailure("user_not_found") from None
            if "welcome_email_sent_at" in old:
                return None
            raise WelcomeFailure("delivery_in_progress") from None
        return response["Attributes"]

    def _release(self, user_id: str, token: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=user_key(user_id),
                UpdateExpression="REMOVE welcome_lease_token, welcome_lease_until",
                ConditionExpression="welcome_lease_token = :token",
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except ClientError:
            pass  # the lease expires on its own; the retry waits for it

    def _mark_sent(self, user_id: str, token: str) -> None:
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))
        for backoff in (*MARK_BACKOFF_SECONDS, None):
            try:
                self._ddb.update_item(
                    TableName=self._table,
                    Key=user_key(user_id),
                    UpdateExpression="SET welcome_email_sent_at = :sent REMOVE welcome_lease_token, welcome_lease_until",
                    ConditionExpression="welcome_lease_token = :token",
                    ExpressionAttributeValues={":token": {"S": token}, ":sent": {"S": sent_at}},
                )
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "Unknown")
                if backoff is None or code not in TRANSIENT_CODES:
                    # SES accepted the email. Failing the record would send it again, so the
                    # record succeeds; the caller reports the missing mark loudly instead.
                    raise WelcomeMarkFailed(code) from None
                self._sleep(backoff)


class WelcomeMarkFailed(Exception):
    """SES accepted the email but the sent mark could not be written."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
