"""Stand-ins for the domain's ports (users.ports) that record what the domain asked of them and
answer as told: the domain's decisions are tested here, each cloud's storage in tests/adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from users.errors import UserNotFound
from users.models import User
from users.ports import Claim, EmailContent, MailerError, OutboxError, Quota


@dataclass
class ScriptedOutbox:
    claim_answer: Claim | OutboxError = Claim.TAKEN
    mark_failures: list[OutboxError] = field(default_factory=list)  # raised by the first marks, in order
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def claim(self, user_id: str, *, token: str, now: int, lease_until: int) -> Claim:
        self.calls.append(("claim", {"user_id": user_id, "token": token, "now": now, "lease_until": lease_until}))
        if isinstance(self.claim_answer, OutboxError):
            raise self.claim_answer
        return self.claim_answer

    def release(self, user_id: str, *, token: str) -> None:
        self.calls.append(("release", {"user_id": user_id, "token": token}))

    def mark_sent(self, user_id: str, *, token: str, sent_at: str) -> None:
        self.calls.append(("mark_sent", {"user_id": user_id, "token": token, "sent_at": sent_at}))
        if self.mark_failures:
            raise self.mark_failures.pop(0)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [args for called, args in self.calls if called == name]


@dataclass
class RecordingMailer:
    failure: MailerError | None = None
    sent: list[tuple[str, EmailContent]] = field(default_factory=list)

    def send(self, *, to: str, content: EmailContent) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append((to, content))


@dataclass
class ScriptedStore:
    """Stores what it is given; `insert_answer` stands for a guard held by an earlier attempt."""

    insert_answer: str | None = None
    users: dict[str, User] = field(default_factory=dict)
    pages: list[tuple[list[User], str | None]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def count_attempt(self, quota: Quota) -> None:
        self.calls.append(("count_attempt", {"quota": quota}))

    def insert(self, user: User, *, email_key: str, request_key: str | None = None) -> str:
        self.calls.append(("insert", {"user": user, "email_key": email_key, "request_key": request_key}))
        self.users.setdefault(user.user_id, user)
        return self.insert_answer or user.user_id

    def get(self, user_id: str) -> User:
        self.calls.append(("get", {"user_id": user_id}))
        if user_id not in self.users:
            raise UserNotFound()
        return self.users[user_id]

    def page(self, *, limit: int, after: str | None) -> tuple[list[User], str | None]:
        self.calls.append(("page", {"limit": limit, "after": after}))
        return self.pages.pop(0) if self.pages else ([], None)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [args for called, args in self.calls if called == name]
