"""What "the same email" means: one identity key per mailbox, whatever its spelling.

The address is parsed and normalised by email-validator, which follows the standards:
  - the domain through IDNA 2008 with UTS #46 mapping (the idna package): Unicode and ASCII
    (punycode) spellings, upper case and compatibility characters (fullwidth letters, ideographic
    full stops) all give one ASCII domain;
  - the local part in Unicode NFC (RFC 6532 section 3.1).
On top, the local part's ASCII letters are compared without case, as mail systems compare them,
and nothing else is folded: ß and ss, ﬁ and fi, ſ and s, ς and σ stay different mailboxes, and so
do plus tags and dots. A new address may hold no default-ignorable character in either half (they
render as nothing, so two such addresses look alike); see rules.check_new_email for what else only
new addresses must meet.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex
from email_validator import EmailNotValidError, validate_email

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, as the regex
# module's tables carry it) and the blank-looking fillers that render as nothing.
INVISIBLE = regex.compile(r"[\p{Default_Ignorable_Code_Point}\u2800\u115f\u1160\u3164\uffa0]")


class InvalidEmail(ValueError):
    """The address is not one the service accepts; the message says why, in words for a client."""


@dataclass(frozen=True, kw_only=True)
class Mailbox:
    key: str  # the identity key: equal for every spelling of one mailbox
    delivery_address: str  # where mail goes: NFC local part, ASCII (punycode) domain

    @property
    def local_part(self) -> str:
        return self.delivery_address.rpartition("@")[0]


def mailbox(address: str) -> Mailbox:
    """Parses `address` (already length- and character-checked by the model) into its mailbox."""
    try:
        parsed = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"email is not a valid address: {exc}") from None
    local = parsed.local_part
    return Mailbox(key=f"{ascii_lower(unicodedata.normalize('NFC', local))}@{parsed.ascii_domain}",
                   delivery_address=f"{local}@{parsed.ascii_domain}")


def ascii_lower(text: str) -> str:
    """Only A-Z lower-cased: what mail systems treat as one mailbox, and nothing more."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def invisible_character(text: str) -> str | None:
    """The first character of `text` that renders as nothing, as U+XXXX, or None."""
    found = INVISIBLE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def email_key(address: str) -> str:
    """The identity key of `address`; see the module docstring for what it equates."""
    return mailbox(address).key
