"""The cursor's format (users.cursor) as clients hold it: a cursor issued by an earlier release
keeps reading the same page after a deploy, and one of a format no longer issued is refused with
the documented 400, never mistaken for a position."""

from __future__ import annotations

import base64
import json

import pytest

from users import cursor
from users.errors import InvalidCursor

KEY = b"k" * 64
POSITION = "2026-01-01T00:00:00.000Z#6f1c2b7e-3d4a-4b8c-9e1f-0a2b3c4d5e6f"
# Issued by the release that introduced format 2, under KEY, for POSITION: clients hold such
# cursors across deploys, so every later release must read it back.
ISSUED_BY_FORMAT_2 = ("eyJ2IjoyLCJwIjoiMjAyNi0wMS0wMVQwMDowMDowMC4wMDBaIzZmMWMyYjdlLTNkNGEtNGI4Yy05ZTFmLTBhMmIzYzRkNWU2ZiJ9"
                      ".T1DFalcj772llCipE5hf5w")


def test_a_cursor_issued_by_format_2_still_reads_its_position():
    assert cursor.decode(ISSUED_BY_FORMAT_2, keys=[KEY]) == POSITION
    assert cursor.decode(ISSUED_BY_FORMAT_2, keys=[b"new" * 20, KEY]) == POSITION  # after a key rotation


def test_this_release_issues_format_2_cursors_byte_for_byte():
    assert cursor.encode(POSITION, key=KEY) == ISSUED_BY_FORMAT_2


def test_a_format_1_cursor_is_refused_as_invalid():
    format_1 = base64.urlsafe_b64encode(json.dumps({"v": 1, "p": POSITION}).encode()).decode().rstrip("=")
    for held in (format_1, f"{format_1}.{ISSUED_BY_FORMAT_2.split('.')[1]}"):
        with pytest.raises(InvalidCursor):
            cursor.decode(held, keys=[KEY])


@pytest.mark.parametrize("payload", [
    {"v": 2, "p": POSITION, "x": 1},
    {"v": 3, "p": POSITION},
    {"p": POSITION},
    {"v": 2, "p": 7},
    {"v": 2, "p": POSITION + "x"},
    {"v": 2, "p": "2026-01-01T00:00:00.000Z#" + "6f1c2b7e-3d4a-5b8c-9e1f-0a2b3c4d5e6f"},
    [2, POSITION],
])
def test_a_signed_payload_that_is_not_a_position_is_refused(payload):
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        cursor.decode(f"{body}.{cursor._mac(KEY, body)}", keys=[KEY])


def test_a_signed_payload_that_is_not_json_is_refused():
    for body in ("bm90IGpzb24", "_w", "A"):
        with pytest.raises(InvalidCursor):
            cursor.decode(f"{body}.{cursor._mac(KEY, body)}", keys=[KEY])


def test_the_mac_is_128_bits_of_hmac_sha256():
    mac = ISSUED_BY_FORMAT_2.split(".")[1]
    assert len(base64.urlsafe_b64decode(mac + "==")) == 16 == cursor.MAC_BYTES


@pytest.mark.parametrize("held", ["", ".", "a.b.c", ISSUED_BY_FORMAT_2 + ".", "é" + ISSUED_BY_FORMAT_2, "x" * 257, None, 7])
def test_what_is_not_a_cursor_is_refused(held):
    with pytest.raises(InvalidCursor):
        cursor.decode(held, keys=[KEY])


def test_the_published_contract_caps_a_cursor_at_the_length_this_service_reads():
    """docs/openapi.json is what clients generate from: its cap and the codec's are one."""
    from cdk_app.config import ROOT

    listing = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]["/users"]["get"]
    (param,) = [p for p in listing["parameters"] if p["name"] == "cursor"]
    assert param["schema"]["maxLength"] == cursor.MAX_LENGTH == 256
    assert len(cursor.encode(POSITION, key=KEY)) < cursor.MAX_LENGTH
