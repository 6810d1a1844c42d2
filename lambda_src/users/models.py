"""The users domain's data: what a client may send and what the service returns."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NAME_MAX = 100
EMAIL_MAX = 254
PAGE_DEFAULT = 20
PAGE_MAX = 100

# Cc: C0/C1 controls; Cs: lone surrogates (valid JSON, but not storable UTF-8); Zl/Zp: line breaks.
_FORBIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def clean_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("name must not be empty or only spaces")
    if len(name) > NAME_MAX:
        raise ValueError(f"name must be at most {NAME_MAX} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in name):
        raise ValueError("name must not contain control characters or line breaks")
    return name


def check_email(value: str) -> str:
    """Syntactic check only (no DNS). The address is kept exactly as given."""
    if len(value) > EMAIL_MAX:
        raise ValueError(f"email must be at most {EMAIL_MAX} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValueError("email must not contain control characters")
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"email is not a valid address: {exc}") from None
    return value


def normalise_email(email: str) -> str:
    """The form two addresses are compared in: case-insensitive."""
    return email.casefold()


Name = Annotated[str, AfterValidator(clean_name)]
Email = Annotated[str, AfterValidator(check_email)]


class NewUser(BaseModel):
    """The body of POST /users."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)

    name: Name = Field(description="Display name, 1 to 100 characters after trimming.", examples=["Ada Lovelace"])
    email: Email = Field(description="Email address; unique across users, compared case-insensitively.", examples=["ada@example.com"])


class User(BaseModel):
    user_id: str = Field(description="UUIDv4 assigned by the service.")
    name: str
    email: str
    created_at: str = Field(description="Creation time, ISO 8601 UTC.")


class UserPage(BaseModel):
    users: list[User]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= to get the next page; absent on the last page.")


class ErrorDetail(BaseModel):
    field: str | None = None
    issue: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str
