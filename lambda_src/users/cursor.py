"""Opaque, authenticated page cursors for GET /users.

A cursor wraps the listing index's position (creation time and user id) and an HMAC-SHA256 of it,
under the stage's cursor key: a cursor changed in any character, or one this service did not
issue, is rejected as InvalidCursor (a 400) and never reaches DynamoDB. Verifying accepts every
key given (the current one first, then the one it replaced), so a key rotation does not break the
cursors clients hold (docs/operations.md, "Rotating the cursor key").

Format 2: base64url(JSON {"v": 2, "p": position}) "." base64url(first 16 bytes of the MAC). Cursors
of format 1 (no MAC, issued before cursors were authenticated) are refused with the same 400: a
client starts again from the first page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence

from users.errors import InvalidCursor

_POSITION = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
VERSION = 2
MAC_BYTES = 16  # 128 bits: a forgery takes 2**128 tries
MAX_LENGTH = 256  # longer than any cursor this service issues


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:MAC_BYTES])


def encode(position: str, *, key: bytes) -> str:
    payload = _b64(json.dumps({"v": VERSION, "p": position}, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, payload)}"


def decode(cursor: str, *, keys: Sequence[bytes]) -> str:
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_LENGTH or not cursor.isascii() or cursor.count(".") != 1:
        raise InvalidCursor()
    payload, mac = cursor.split(".")
    if not any(hmac.compare_digest(_mac(key, payload), mac) for key in keys):
        raise InvalidCursor()
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    position = data.get("p") if isinstance(data, dict) else None
    if data != {"v": VERSION, "p": position} or not isinstance(position, str) or not _POSITION.fullmatch(position):
        raise InvalidCursor()
    return position
