"""One identity key per mailbox (users.identity), by property: every spelling of one mailbox gives
one key, and distinct mailboxes give distinct keys."""

from __future__ import annotations

import unicodedata

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from users.identity import InvalidEmail, email_key, mailbox

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


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips))


FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(ord("a"), ord("z") + 1)} | {chr(c): chr(c + 0xFEE0) for c in range(ord("A"), ord("Z") + 1)}


@st.composite
def spellings(draw: st.DrawFn, box: tuple[str, tuple[str, ...], str]) -> str:
    """Another spelling of the same mailbox: case, normalisation form, Unicode or punycode domain,
    compatibility characters in the domain."""
    local, labels, tld = box
    local = _random_case(draw, local)
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
    ("\u00c5sa@example.com", "\u00e5sa@EXAMPLE.com"),
    ("\u212bsa@example.com", "\u00e5sa@example.com"),  # ANGSTROM SIGN is canonically Å (NFC)
])
def test_known_spellings_are_one_mailbox(one: str, other: str) -> None:
    assert email_key(one) == email_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("ada+news@example.com", "ada@example.com"),  # plus tags are other mailboxes
    ("a.da@example.com", "ada@example.com"),  # so are dots
    ("ada@example.com", "ada@example.co"),
    ("ada@b\u00fccher.de", "ada@bucher.de"),  # ü is not u
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
