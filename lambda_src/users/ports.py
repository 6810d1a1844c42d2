"""What the domain needs from a cloud, and nothing of how a cloud does it.

Each cloud's adapters (adapters.aws, ...) implement these; the domain (users.logic,
users.welcome) and its tests see only these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the welcome processor imports this module and never loads pydantic
    from users.models import User


@dataclass(frozen=True, kw_only=True)
class Quota:
    """At most `limit` creates by `caller` in the window [window_start, window_end) (epoch seconds)."""

    caller: str
    window_start: int
    window_end: int
    limit: int


class UserStore(Protocol):
    """The users, their mailbox guards and the per-caller quotas, in the stage's one write
    authority. Failures are the domain's: TemporarilyUnavailable, CreateLimitReached,
    EmailAlreadyRegistered, UserNotFound; anything else is an internal error."""

    def count_attempt(self, quota: Quota) -> None:
        """Counts one create attempt; raises CreateLimitReached when the quota is used up."""

    def insert(self, user: User, *, email_key: str, request_key: str | None = None) -> str:
        """Stores the user and the guard on `email_key` atomically and returns the user id; raises
        EmailAlreadyRegistered if another user holds the guard. A guard written by this same
        `request_key` is the committed user of an earlier attempt: its id is returned."""
        ...

    def get(self, user_id: str) -> User:
        """The user; raises UserNotFound."""
        ...

    def page(self, *, limit: int, after: str | None) -> tuple[list[User], str | None]:
        """Up to `limit` users in creation order after position `after`, and the next position
        (None on the last page). Positions are opaque to the domain."""
        ...


class Claim(Enum):
    """What claiming a user's welcome email came to."""

    TAKEN = "taken"  # the lease is this worker's: send, then mark
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "delivery_in_progress"  # another worker's lease has not expired
    NO_USER = "user_not_found"


class OutboxError(Exception):
    """The outbox's store failed. `reason` is a short code safe to log (the store's own error
    code, prefixed with the store's name); `transient` says whether retrying may succeed."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class WelcomeOutbox(Protocol):
    """The per-user record of the welcome email: a lease while it is being sent, then the mark."""

    def claim(self, user_id: str, *, token: str, now: int, lease_until: int) -> Claim:
        """Takes the lease (until `lease_until`) unless the email was sent or another unexpired
        lease holds; raises OutboxError."""
        ...

    def release(self, user_id: str, *, token: str) -> None:
        """Drops this worker's lease, best effort (an unreleased lease expires)."""

    def mark_sent(self, user_id: str, *, token: str, sent_at: str) -> None:
        """Records the email as sent and drops the lease, if the lease is still `token`'s;
        raises OutboxError."""


@dataclass(frozen=True, kw_only=True)
class EmailContent:
    subject: str
    text: str


class MailerError(Exception):
    """The mail provider refused or failed; `reason` is a short code safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Mailer(Protocol):
    def send(self, *, to: str, content: EmailContent) -> None:
        """Hands the email to the provider; raises MailerError if it does not accept it."""
