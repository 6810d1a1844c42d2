"""One identity key per mailbox (users.identity), by property: every spelling of one mailbox gives
one key, distinct mailboxes give distinct keys, and a new address (users.rules.check_new_email)
is refused where it could never be told apart or delivered: a non-ASCII part before the @ (SES has
no SMTPUTF8) or a character that renders as nothing, in either half."""

from __future__ import annotations

import unicodedata

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from users.identity import INVISIBLE, InvalidEmail, email_key, mailbox
from users.rules import check_new_email

# Letters with a precomposed and a decomposed form, whose case maps round-trip.
ACCENTED = "éèêëáàâäåçñöüøíìóòúù"
LOCAL_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789" + ACCENTED
DOMAIN_ALPHABET = "abcdefghijklmnopqrstuvwxyz" + "éüöäñç"


@st.composite
def mailboxes(draw: st.DrawFn) -> tuple[str, tuple[str, ...], str]:
    """A mailbox in its canonical spelling: lower-case NFC local part, lower-case Unicode domain."""
    local = draw(st.text(LOCAL_ALPHABET, min_size=1, max_size=12))
    separators = draw(st.lists(st.sampled_from(["", ".", "+", "-", "_"]), min_size=1, max_size=1))
    tail = draw(st.text(LOCAL_ALPHABET, max_size=6))
    if separators[0] and tail:
        local = f"{local}{separators[0]}{tail}"
    labels = tuple(draw(st.lists(st.text(DOMAIN_ALPHABET, min_size=1, max_size=10), min_size=1, max_size=2)))
    tld = draw(st.sampled_from(["com", "de", "org", "net", "fr"]))
    return local, labels, tld


def _random_case(draw: st.DrawFn, text: str, *, ascii_only: bool = False) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip and (c.isascii() or not ascii_only) else c for c, flip in zip(text, flips))


FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(ord("a"), ord("z") + 1)} | {chr(c): chr(c + 0xFEE0) for c in range(ord("A"), ord("Z") + 1)}


@st.composite
def spellings(draw: st.DrawFn, box: tuple[str, tuple[str, ...], str]) -> str:
    """Another spelling of the same mailbox: case, normalisation form, Unicode or punycode domain,
    compatibility characters in the domain."""
    local, labels, tld = box
    local = _random_case(draw, local, ascii_only=True)  # mail systems fold A-Z only in the part before the @
    local = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), local)
    domain_labels = []
    for label in (*labels, tld):
        form = draw(st.sampled_from(["unicode", "punycode", "fullwidth"]))
        if form == "punycode":
            text = idna.encode(label).decode("ascii")
            text = _random_case(draw, text)
        else:
            text = _random_case(draw, label)
            text = unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), text)
            if form == "fullwidth":
                text = "".join(FULLWIDTH.get(c, c) for c in text)
        domain_labels.append(text)
    dots = [draw(st.sampled_from([".", "\uff0e", "\u3002"])) for _ in domain_labels[1:]]  # full stop, fullwidth, ideographic
    domain = domain_labels[0] + "".join(d + label for d, label in zip(dots, domain_labels[1:]))
    return f"{local}@{domain}"


def canonical(box: tuple[str, tuple[str, ...], str]) -> str:
    local, labels, tld = box
    return f"{local}@{'.'.join((*labels, tld))}"


@given(st.data())
@settings(max_examples=400)
def test_every_spelling_of_one_mailbox_has_one_key(data: st.DataObject) -> None:
    box = data.draw(mailboxes())
    expected = email_key(canonical(box))
    for _ in range(3):
        spelling = data.draw(spellings(box))
        assert email_key(spelling) == expected, spelling


@given(mailboxes(), mailboxes())
@settings(max_examples=400)
def test_distinct_mailboxes_have_distinct_keys(first: tuple[str, tuple[str, ...], str], second: tuple[str, tuple[str, ...], str]) -> None:
    if canonical(first) == canonical(second):
        assert email_key(canonical(first)) == email_key(canonical(second))
    else:
        assert email_key(canonical(first)) != email_key(canonical(second))


@pytest.mark.parametrize(("one", "other"), [
    ("jos\u00e9@example.com", "jose\u0301@example.com"),  # precomposed and decomposed é, local part
    ("ada@b\u00fccher.de", "ada@bu\u0308cher.de"),  # the same in the domain
    ("ada@b\u00fccher.de", "ada@xn--bcher-kva.de"),  # Unicode and punycode domain
    ("ada@B\u00dcCHER.DE", "ADA@xn--BCHER-kva.de"),
    ("ada@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "ada@example.com"),  # fullwidth letters and full stop
    ("ada@example\u3002com", "ada@example.com"),  # ideographic full stop
    ("\u00c5sa@example.com", "\u00c5sa@EXAMPLE.com"),
    ("\u212bsa@example.com", "\u00c5sa@example.com"),  # ANGSTROM SIGN is canonically Å (NFC)
    ("ADA.Lovelace@example.com", "ada.lovelace@example.com"),  # A-Z fold
    ("\u212aelvin@example.com", "kelvin@example.com"),  # KELVIN SIGN is canonically K (NFC), then A-Z fold
])
def test_known_spellings_are_one_mailbox(one: str, other: str) -> None:
    assert email_key(one) == email_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("ada+news@example.com", "ada@example.com"),  # plus tags are other mailboxes
    ("a.da@example.com", "ada@example.com"),  # so are dots
    ("ada@example.com", "ada@example.co"),
    ("ada@b\u00fccher.de", "ada@bucher.de"),  # ü is not u
    ("strasse@example.com", "stra\u00dfe@example.com"),  # ß is not ss
    ("file@example.com", "\ufb01le@example.com"),  # the ﬁ ligature is not fi
    ("strasse@example.com", "\u017ftrasse@example.com"),  # long s is not s
    ("\u03c3@example.com", "\u03c2@example.com"),  # final sigma is not sigma
    ("\u00e5sa@example.com", "\u00c5sa@example.com"),  # only A-Z fold: å is not Å
])
def test_known_distinct_mailboxes_stay_distinct(one: str, other: str) -> None:
    assert email_key(one) != email_key(other)


def test_the_delivery_address_has_the_ascii_domain_and_keeps_the_local_part() -> None:
    box = mailbox("Jose\u0301@B\u00fccher.DE")
    assert box.delivery_address == "Jos\u00e9@xn--bcher-kva.de"
    assert box.key == "jos\u00e9@xn--bcher-kva.de"


@pytest.mark.parametrize("address", ["no-at-sign", "a@b", "a@example.com.", "a@-x.com", "a@xn--zz.com"])
def test_an_invalid_address_names_the_problem(address: str) -> None:
    with pytest.raises(InvalidEmail, match="email is not a valid address: "):
        mailbox(address)


# Pairs that full case folding or compatibility mapping would merge, though mail systems keep them
# apart: each must give two keys, or be refused as a new address.
FOLDED_BY_OTHERS = ["\u00df", "\ufb01", "\ufb02", "\u017f", "\u03c2", "\u0130", "\u1e9e", "\uff41", "\u00c5"]


@given(st.sampled_from(FOLDED_BY_OTHERS), st.text("abcdefghij", min_size=1, max_size=6))
@settings(max_examples=200)
def test_a_spelling_other_systems_fold_is_another_mailbox_or_refused(odd: str, rest: str) -> None:
    plain = f"{rest}{unicodedata.normalize('NFKC', odd).casefold()}{rest}@example.com"
    other = f"{rest}{odd}{rest}@example.com"
    if email_key(plain) == email_key(other):
        pytest.fail(f"{other!r} and {plain!r} share a key")
    with pytest.raises(ValueError, match="must be ASCII: this stage's mail provider"):
        check_new_email(other)


INVISIBLES = [chr(c) for c in range(0x110000) if INVISIBLE.match(chr(c))]


@given(st.sampled_from(INVISIBLES), st.integers(0, 100), st.sampled_from(["local", "domain"]))
@settings(max_examples=300)
def test_an_invisible_character_anywhere_in_a_new_address_is_refused(invisible: str, at: int, half: str) -> None:
    local, domain = "ada.lovelace", "example.com"
    if half == "local":
        local = local[:at % (len(local) + 1)] + invisible + local[at % (len(local) + 1):]
    else:
        domain = domain[:at % (len(domain) + 1)] + invisible + domain[at % (len(domain) + 1):]
    with pytest.raises(ValueError, match=r"render as nothing \(U\+[0-9A-F]{4,5}\)"):
        check_new_email(f"{local}@{domain}")


def test_the_invisible_set_is_unicodes_default_ignorables_and_the_blank_fillers() -> None:
    assert {"\u034f", "\ufe00", "\u3164", "\u200b", "\u2060", "\U000e0001", "\u2800", "\u115f"} <= set(INVISIBLES)
    assert not {"a", " ", "\u00e9", "\u0301"} & set(INVISIBLES)


@pytest.mark.parametrize("address", ["ada.lovelace@example.com", "Ada+news@b\u00fccher.de", "a_b-c@xn--bcher-kva.de"])
def test_ascii_mailboxes_at_any_domain_are_accepted(address: str) -> None:
    assert check_new_email(address) == address
