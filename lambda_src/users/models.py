"""The users domain's data: what a client may send and what the service returns."""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict, SkipJsonSchema

from users.rules import EMAIL_MAX, MARKS_PER_BASE_MAX, NAME_MAX, check_new_email, clean_name

PAGE_DEFAULT = 20
PAGE_MAX = 100

# The rules of users/rules.py for the OpenAPI document (clean_name and check_email enforce them): JSON Schema
# cannot say "after trimming", so the name pattern asks for one non-space character and none of
# the forbidden categories; the lengths are the raw ones API Gateway's model checks. (Lone
# surrogates stay out of the pattern: regex engines over UTF-8 cannot name them.)
# The Basic Multilingual Plane's Cc, Cf, Zl and Zp characters (tests/domain/test_validation_properties.py
# checks the list against unicodedata); the few format characters beyond it are left to clean_name.
_NO_CONTROLS = (r"\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
                r"\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb")
NAME_SCHEMA: JsonDict = {"minLength": 1, "maxLength": NAME_MAX, "pattern": rf"^[^{_NO_CONTROLS}]*[^\s{_NO_CONTROLS}][^{_NO_CONTROLS}]*$"}
# The pattern states the rules a client most often trips on (a dotted domain, none of the
# special-use domains like .test that cannot receive the welcome email; JSON Schema regexes have
# no flags, hence the [tT] classes); email-validator's full syntax rules still apply on top.
_SPECIAL_USE = "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in d) for d in SPECIAL_USE_DOMAIN_NAMES)
# A domain's labels may be separated by any full stop UTS #46 maps to ".": the ASCII one, the
# ideographic, the fullwidth and the halfwidth ideographic.
_DOT = r"[.\u3002\uff0e\uff61]"
EMAIL_SCHEMA: JsonDict = {"format": "email", "minLength": 3, "maxLength": EMAIL_MAX,
                "pattern": rf"^(?![^@]*@(?:[^@]*{_DOT})?(?:{_SPECIAL_USE}){_DOT}?$)[^@\s]+@[^@\s]+{_DOT}[^@\s]+$"}

EMAIL_DESCRIPTION = (
    "Email address, stored and returned as sent. Unique across users: one mailbox is one user, "
    "whatever its spelling. The part before the @ must be ASCII (the mail provider, Amazon SES, "
    "cannot deliver to internationalised mailboxes) and at most 64 bytes (RFC 5321); it is compared "
    "with its letters A-Z in either case, and nothing else is folded. The domain may be "
    "internationalised and is compared after IDNA 2008 with UTS #46 mapping (so a Unicode domain and "
    "its punycode form, upper case and fullwidth or other compatibility characters are equal). "
    "Characters that render as nothing (Unicode's default-ignorable code points and blank fillers) "
    "are refused in either part. Plus tags and dots stay significant: a+b@example.com and "
    "a.b@example.com are other mailboxes than ab@example.com."
)

Name = Annotated[str, AfterValidator(clean_name)]
NewEmail = Annotated[str, AfterValidator(check_new_email)]


class NewUser(BaseModel):
    """The body of POST /users."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)

    name: Name = Field(description=f"Display name, 1 to {NAME_MAX} characters after trimming, with a visible letter; no control, format or invisible characters, and at most {MARKS_PER_BASE_MAX} combining marks on one character. Never put in the welcome email.", examples=["Ada Lovelace"],
                       json_schema_extra=NAME_SCHEMA)
    email: NewEmail = Field(description=EMAIL_DESCRIPTION, examples=["ada@example.com"],
                         json_schema_extra=EMAIL_SCHEMA)


class User(BaseModel):
    user_id: str = Field(description="UUIDv4 assigned by the service.", json_schema_extra={"format": "uuid"})
    name: str = Field(description="Display name, as created (trimmed).")
    email: str = Field(description="Email address, as created.")
    created_at: str = Field(description="Creation time, ISO 8601 UTC with milliseconds.", json_schema_extra={"format": "date-time"})


class UserPage(BaseModel):
    users: list[User]
    # Absent, never null, on the last page: the service leaves it out (SkipJsonSchema keeps the
    # null out of the schema too).
    next_cursor: str | SkipJsonSchema[None] = Field(default=None, description="Pass as ?cursor= to get the next page; absent on the last page.")


class ErrorDetail(BaseModel):
    field: str | SkipJsonSchema[None] = Field(default=None, description="The field at fault, where one is (name, email, limit, Idempotency-Key...).")
    issue: str = Field(description="What is wrong with it, in words.")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable and machine-readable; each status's description lists the codes it carries.")
    message: str = Field(description="A sentence for people; may change.")
    details: list[ErrorDetail] = Field(default=[], description="For validation errors, one entry per problem.")


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str = Field(description="Quote it when you report a problem: it finds the request in the logs.")
