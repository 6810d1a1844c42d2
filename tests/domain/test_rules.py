"""The rules a user's id, name and email must meet (users.rules, users.identity), at their exact
boundaries, with the words a client reads in `details[].issue`."""

from __future__ import annotations

import pytest

from users.identity import InvalidEmail, ascii_lower, mailbox
from users.rules import EMAIL_MAX, LOCAL_PART_MAX_OCTETS, MARKS_PER_BASE_MAX, NAME_MAX, check_email, check_new_email, clean_name, is_user_id

ACUTE, GRAVE, TILDE, RING = "\u0301", "\u0300", "\u0303", "\u030a"  # nonspacing marks (Mn)
ENCLOSING_CIRCLE = "\u20dd"  # an enclosing mark (Me)


@pytest.mark.parametrize(("value", "valid"), [
    ("6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f", True),
    ("6f1c2b7e-3d4a-4b8c-bf1f-0a2b3c4d5e6f", True),
    ("6F1C2B7E-3D4A-4B8C-9E1F-0A2B3C4D5E6F", False),  # the service names users in lower case
    ("6f1c2b7e-3d4a-1b8c-9e1f-0a2b3c4d5e6f", False),  # not version 4
    ("6f1c2b7e-3d4a-4b8c-7e1f-0a2b3c4d5e6f", False),  # not the RFC variant
    ("6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f\n", False),
    ("x6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f", False),
    ("", False),
])
def test_a_user_id_is_a_lower_case_uuid4_and_nothing_around_it(value, valid):
    assert is_user_id(value) is valid


@pytest.mark.parametrize(("raw", "issue"), [
    ("", "name must not be empty or only spaces"),
    ("  \t ", "name must not be empty or only spaces"),
    ("a" * (NAME_MAX + 1), f"name must be at most {NAME_MAX} characters"),
    ("Ada\u202eLovelace", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\u2028Lovelace", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\t", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("\nAda", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\u2029", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\u2029B", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\ud800", "name must not contain control, format or bidirectional-override characters or line breaks"),
    ("Ada\u3164Lovelace", "name must not contain characters that render as nothing (U+3164)"),
    ("12345", "name must contain a visible letter"),
    ("a" + ACUTE * (MARKS_PER_BASE_MAX + 1), "name must not stack more than 4 combining marks on one character"),
])
def test_a_name_that_breaks_a_rule_is_refused_in_words(raw, issue):
    with pytest.raises(ValueError) as refused:
        clean_name(raw)
    assert str(refused.value) == issue


@pytest.mark.parametrize("name", [
    "a" * NAME_MAX,  # exactly the limit
    "  " + "a" * NAME_MAX + "  ",  # the limit counts after trimming
    "a" + ACUTE + GRAVE + TILDE + RING,  # four marks on one character
    "a" + ACUTE * 4 + "b" + GRAVE * 4,  # four on each of two
    ACUTE * 4 + "a",  # four before any base
    "a" + ACUTE * 2 + ENCLOSING_CIRCLE * 2,  # enclosing marks count with nonspacing ones
    "a" + ACUTE,
])
def test_names_at_the_limits_are_accepted_trimmed(name):
    assert clean_name(name) == name.strip()


@pytest.mark.parametrize("name", [
    "a" + ENCLOSING_CIRCLE * 5,
    "a" + ACUTE * 3 + ENCLOSING_CIRCLE * 2,
    "ab" + ACUTE * 5,
])
def test_five_marks_of_either_kind_on_one_character_are_refused(name):
    with pytest.raises(ValueError, match="combining marks"):
        clean_name(name)


def test_an_address_of_exactly_254_characters_is_accepted_and_255_is_refused_in_words():
    longest = "a" * 64 + "@" + ".".join(["d" * 63, "d" * 63, "d" * 57]) + ".com"
    assert len(longest) == EMAIL_MAX
    assert check_email(longest) == longest and check_new_email(longest) == longest
    too_long = "a" + longest
    with pytest.raises(ValueError) as refused:
        check_email(too_long)
    assert str(refused.value) == f"email must be at most {EMAIL_MAX} characters"


@pytest.mark.parametrize("value", ["ada\x00@example.com", "ada@exa\u200emple.com", "ada@example.com\n"])
def test_an_address_with_a_control_or_format_character_is_refused_in_words(value):
    with pytest.raises(ValueError) as refused:
        check_email(value)
    assert str(refused.value) == "email must not contain control or format characters"


def test_an_address_is_kept_exactly_as_sent():
    assert check_email("Ada.Lovelace+tag@Example.COM") == "Ada.Lovelace+tag@Example.COM"
    with pytest.raises(InvalidEmail) as refused:
        check_email("not an address")
    assert str(refused.value).startswith("email is not a valid address: ")


def test_new_addresses_meet_the_mail_providers_rules_in_words():
    with pytest.raises(ValueError) as invisible:
        check_new_email("ada\u2800@example.com")
    assert str(invisible.value) == "email must not contain characters that render as nothing (U+2800), in either part"
    with pytest.raises(ValueError) as unicode_mailbox:
        check_new_email("adé@example.com")
    assert str(unicode_mailbox.value) == (
        "email's part before the @ must be ASCII: this stage's mail provider (Amazon SES) cannot deliver to "
        "internationalised mailboxes (no SMTPUTF8); the domain may be internationalised")
    with pytest.raises(ValueError) as long_mailbox:
        check_new_email("a" * (LOCAL_PART_MAX_OCTETS + 1) + "@example.com")
    assert str(long_mailbox.value) == (
        "email is not a valid address: the part before the @ is 65 bytes in UTF-8 (after NFC normalisation); "
        "mail servers accept at most 64")
    assert check_new_email("a" * LOCAL_PART_MAX_OCTETS + "@bücher.example") == "a" * LOCAL_PART_MAX_OCTETS + "@bücher.example"


def test_only_the_letters_a_to_z_are_folded():
    assert ascii_lower("AZaz@[`{ÀΣ") == "azaz@[`{ÀΣ"
    assert mailbox("ADA@EXAMPLE.COM").key == "ada@example.com"
