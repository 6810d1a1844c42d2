"""Domain errors. Each carries a stable code and a sentence safe to show a client."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    message = "The request failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class UserNotFound(DomainError):
    code = "not_found"
    message = "No user has that id."


class EmailAlreadyRegistered(DomainError):
    code = "email_taken"
    message = "A user with that email address already exists."


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    message = "The cursor is not one this service issued; start again without it."


class TemporarilyUnavailable(DomainError):
    """The data store is throttling or conflicting; the client should retry after a pause."""

    code = "temporarily_unavailable"
    message = "The service is busy; retry after the time in the Retry-After header."

    def __init__(self, retry_after_seconds: int = 1) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds


class CreateLimitReached(DomainError):
    """The caller created as many users as it may this hour (each one sends a welcome email)."""

    code = "rate_limited"
    message = "This caller has created as many users as it may this hour; retry after the time in the Retry-After header."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds
