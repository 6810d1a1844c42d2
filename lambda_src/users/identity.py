"""What "the same email" means: one identity key per mailbox, whatever its spelling.

The address is parsed and normalised by email-validator, which follows the standards:
  - the domain through IDNA 2008 with UTS #46 mapping (the idna package): Unicode and ASCII
    (punycode) spellings, upper case and compatibility characters (fullwidth letters, ideographic
    full stops) all give one ASCII domain;
  - the local part in Unicode NFC (RFC 6532 section 3.1).
On top, the local part is compared without case, as this service always has: Unicode's canonical
caseless match (casefold between NFC normalisations), so that case folding cannot produce an
unnormalised string. Nothing else is folded: plus tags and dots are different mailboxes to SMTP.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


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
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", local).casefold())
    return Mailbox(key=f"{folded}@{parsed.ascii_domain}", delivery_address=f"{local}@{parsed.ascii_domain}")


def email_key(address: str) -> str:
    """The identity key of `address`; see the module docstring for what it equates."""
    return mailbox(address).key
