"""Property-based tests of the validation rules, the body reader and the cursor codec (hypothesis)."""

from __future__ import annotations

import json
import unicodedata

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from handlers.json_body import json_fields_once
from users import cursor
from users.errors import InvalidCursor
from users.models import NAME_SCHEMA, NewUser
from users.identity import INVISIBLE
from users.rules import MARKS_PER_BASE_MAX, clean_name

FORBIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _stacks_marks(text: str) -> bool:
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ("Mn", "Me") else 0
        if run > MARKS_PER_BASE_MAX:
            return True
    return False


@given(st.text(max_size=300))
def test_name_is_accepted_exactly_when_the_rules_hold(raw):
    trimmed = raw.strip()
    valid = (1 <= len(trimmed) <= 100 and not any(unicodedata.category(c) in FORBIDDEN for c in raw)
             and not INVISIBLE.search(trimmed) and any(unicodedata.category(c).startswith("L") for c in trimmed)
             and not _stacks_marks(trimmed))
    try:
        result = clean_name(raw)
    except ValueError:
        assert not valid
    else:
        assert valid and result == trimmed


@given(st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.lists(st.text()), st.dictionaries(st.text(), st.text()), st.text()))
def test_any_json_value_for_a_field_is_a_validation_error_or_a_valid_user(value):
    for body in ({"name": value, "email": "a@example.com"}, {"name": "Ada", "email": value}):
        try:
            user = NewUser.model_validate(body)
        except ValidationError:
            continue
        assert isinstance(user.name, str) and isinstance(user.email, str)


@given(st.emails())
def test_generated_valid_emails_keep_their_spelling(email):
    try:
        user = NewUser.model_validate({"name": "Ada", "email": email})
    except ValidationError:
        return  # hypothesis may produce addresses email-validator rejects (e.g. special-use domains)
    assert user.email == email


@pytest.mark.parametrize(("local", "octets"), [("a" * 65, 65), ("a.b" * 22, 66)])
def test_a_new_users_part_before_the_at_over_64_bytes_is_refused_with_its_length(local, octets):
    with pytest.raises(ValidationError, match=f"the part before the @ is {octets} bytes in UTF-8 .*; mail servers accept at most 64"):
        NewUser.model_validate({"name": "Ada", "email": f"{local}@example.com"})


@pytest.mark.parametrize("local", ["a" * 64, "A.b-C" * 12 + "abcd"])
def test_a_new_users_part_before_the_at_of_64_bytes_is_accepted_as_sent(local):
    assert NewUser.model_validate({"name": "Ada", "email": f"{local}@example.com"}).email == f"{local}@example.com"


def test_the_name_pattern_excludes_every_control_format_and_line_break_character_of_the_bmp():
    import re

    pattern = re.compile(NAME_SCHEMA["pattern"])  # fullmatch: ECMA regexes have no $-before-newline
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.category(char) in FORBIDDEN - {"Cs"}:
            assert not pattern.fullmatch(f"Ada{char}"), f"U+{code:04X} ({unicodedata.category(char)}) passes the OpenAPI name pattern"


@pytest.mark.parametrize("name", ["Ada\u202eecalevol", "\u2066Ada\u2069", "Ada\u200bLovelace", "Ada\u00adLovelace", "\ufeffAda"])
def test_names_with_bidirectional_overrides_or_invisible_format_characters_are_rejected(name):
    with pytest.raises(ValueError, match="format"):
        clean_name(name)


KEY, OTHER_KEY = b"k" * 64, b"o" * 64


@given(st.text(max_size=400))
@settings(max_examples=300)
def test_any_cursor_string_decodes_or_is_rejected_as_invalid(raw):
    try:
        position = cursor.decode(raw, keys=[KEY])
    except InvalidCursor:
        return
    assert cursor.decode(cursor.encode(position, key=KEY), keys=[KEY]) == position


POSITIONS = st.builds(
    lambda d, u: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z#{u}",
    st.datetimes(min_value=__import__("datetime").datetime(2000, 1, 1), timezones=st.none()), st.uuids(version=4))


@given(POSITIONS)
def test_cursor_roundtrip_under_the_signing_key_and_after_it_is_rotated(position):
    issued = cursor.encode(position, key=KEY)
    assert cursor.decode(issued, keys=[KEY]) == position
    assert cursor.decode(issued, keys=[OTHER_KEY, KEY]) == position  # rotated: KEY is now the previous one
    with pytest.raises(InvalidCursor):
        cursor.decode(issued, keys=[OTHER_KEY])  # retired


@given(POSITIONS, st.data())
@settings(max_examples=200)
def test_a_cursor_changed_in_any_one_character_is_refused(position, data):
    issued = cursor.encode(position, key=KEY)
    at = data.draw(st.integers(0, len(issued) - 1))
    replacement = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "))
    changed = issued[:at] + replacement + issued[at + 1:]
    if changed != issued:
        with pytest.raises(InvalidCursor):
            cursor.decode(changed, keys=[KEY])


def test_a_cursor_of_the_previous_format_is_refused_as_documented():
    """Format 1, as the release before signed cursors issued it: base64url JSON, no MAC."""
    import base64

    previous = base64.urlsafe_b64encode(b'{"v":1,"p":"2026-01-01T00:00:00.000Z#0b6f4f8e-5a43-4a8e-9a51-3c0f0d3f6f11"}').decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        cursor.decode(previous, keys=[KEY])


@given(st.binary(max_size=200))
def test_tampered_base64_never_escapes_as_another_error(blob):
    import base64

    token = base64.urlsafe_b64encode(blob).decode().rstrip("=")
    for candidate in (token, f"{token}.{token}"):
        try:
            cursor.decode(candidate, keys=[KEY])
        except InvalidCursor:
            pass


def test_cursor_rejects_non_string():
    with pytest.raises(InvalidCursor):
        cursor.decode(None, keys=[KEY])  # type: ignore[arg-type]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=200)
@given(value=JSON_VALUES)
def test_a_body_without_repeated_fields_reads_as_json_reads_it(value):
    text = json.dumps(value)
    assert json_fields_once(text) == json.loads(text)


@settings(max_examples=200)
@given(fields=st.dictionaries(st.text(max_size=8), JSON_VALUES, min_size=1, max_size=4), data=st.data())
def test_any_field_repeated_is_named(fields, data):
    name = data.draw(st.sampled_from(sorted(fields)))
    text = json.dumps(fields)[:-1] + f", {json.dumps(name)}: null}}"
    with pytest.raises(RequestValidationError) as raised:
        json_fields_once(text)
    assert [e["loc"] for e in raised.value.errors()] == [("body", name)]


@pytest.mark.parametrize("name", ["Ada\u2028Lovelace", "Ada\u2029Lovelace", "Ada\ud800", "\udfffAda"])
def test_names_with_line_or_paragraph_separators_or_lone_surrogates_are_refused(name):
    with pytest.raises(ValueError, match="line breaks"):
        clean_name(name)


def test_the_limits_hold_exactly_at_their_boundaries():
    assert clean_name("A" * 100) == "A" * 100
    with pytest.raises(ValueError, match="at most 100"):
        clean_name("A" * 101)
    domain = "example.com"
    fitting = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * (254 - 64 - 1 - 63 - 1 - 63 - 1 - len(domain) - 1)}.{domain}"
    assert len(fitting) == 254
    assert NewUser.model_validate({"name": "Ada", "email": fitting}).email == fitting
    with pytest.raises(ValidationError, match="254"):
        NewUser.model_validate({"name": "Ada", "email": "e" + fitting})
