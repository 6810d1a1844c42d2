"""The rules a user's id, name and email address must meet, in plain Python: the users API's models
validate with them, and the welcome processor checks a queued message with them, without
building the API's models it never uses."""

from __future__ import annotations

import re
import unicodedata

from users.identity import Mailbox, invisible_character, mailbox

NAME_MAX = 100
EMAIL_MAX = 254
# RFC 5321 4.5.3.1.1 (RFC 6531 for UTF-8): a server need accept no longer part before the @, so such
# an address may never get its welcome email. A rule for new users only: stored users and queued
# messages keep their key and delivery. (email-validator checks it only in strict mode, and in
# characters, not octets.)
LOCAL_PART_MAX_OCTETS = 64
# SES, the AWS stages' mail provider, offers no SMTPUTF8: mail to a non-ASCII part before the @
# cannot be delivered, so such an address is refused rather than stored and dead-lettered.
MAILBOX_ASCII_ONLY = True
# UTS #39 ("excessive nonspacing marks"): more marks on one base character than any script needs
# only stacks glyphs over the text around it.
MARKS_PER_BASE_MAX = 4
# Cc: C0/C1 controls; Cf: format characters, the bidirectional overrides and isolates among them
# (they make a name display as something else); Cs: lone surrogates (valid JSON, but not storable
# UTF-8); Zl/Zp: line breaks.
_FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# A user id as the service assigns and stores it: a UUIDv4 in its canonical lower-case form.
_USER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_user_id(value: str) -> bool:
    return _USER_ID.fullmatch(value) is not None


def clean_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("name must not be empty or only spaces")
    if len(name) > NAME_MAX:
        raise ValueError(f"name must be at most {NAME_MAX} characters")
    # On the name as sent: trimming removes spaces, not a tab or a line break at either end, which
    # the published contract (the name's pattern) refuses anywhere.
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValueError("name must not contain control, format or bidirectional-override characters or line breaks")
    if (invisible := invisible_character(name)) is not None:
        raise ValueError(f"name must not contain characters that render as nothing ({invisible})")
    if not any(unicodedata.category(ch).startswith("L") for ch in name):
        raise ValueError("name must contain a visible letter")
    marks = 0
    for ch in name:
        marks = marks + 1 if unicodedata.category(ch) in ("Mn", "Me") else 0
        if marks > MARKS_PER_BASE_MAX:
            raise ValueError(f"name must not stack more than {MARKS_PER_BASE_MAX} combining marks on one character")
    return name


def _parsed_email(value: str) -> Mailbox:
    if len(value) > EMAIL_MAX:
        raise ValueError(f"email must be at most {EMAIL_MAX} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValueError("email must not contain control or format characters")
    return mailbox(value)  # raises InvalidEmail, a ValueError, naming what is wrong


def check_email(value: str) -> str:
    """Syntactic check only (no DNS). The address is kept exactly as given."""
    _parsed_email(value)
    return value


def check_new_email(value: str) -> str:
    """check_email, and the rules only new users' addresses must meet."""
    if (invisible := invisible_character(value)) is not None:
        raise ValueError(f"email must not contain characters that render as nothing ({invisible}), in either part")
    local = _parsed_email(value).local_part
    if MAILBOX_ASCII_ONLY and not local.isascii():
        raise ValueError("email's part before the @ must be ASCII: this stage's mail provider (Amazon SES) cannot "
                         "deliver to internationalised mailboxes (no SMTPUTF8); the domain may be internationalised")
    octets = len(local.encode("utf-8"))
    if octets > LOCAL_PART_MAX_OCTETS:
        raise ValueError(f"email is not a valid address: the part before the @ is {octets} bytes in UTF-8 "
                         f"(after NFC normalisation); mail servers accept at most {LOCAL_PART_MAX_OCTETS}")
    return value
