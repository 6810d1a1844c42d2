"""Opaque page cursors for GET /users.

A cursor wraps the listing index's position (creation time and user id). Anything but a cursor
exactly as this service writes one is rejected as InvalidCursor (a 400), never passed to DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from users.errors import InvalidCursor

_POSITION = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
MAX_LENGTH = 256  # longer than any cursor this service issues


def encode(position: str) -> str:
    raw = json.dumps({"v": 1, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> str:
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_LENGTH:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    position = data.get("p") if isinstance(data, dict) else None
    # Only a cursor spelled as encode() spells it (which also fixes its version and fields): base64
    # decoding skips characters outside its alphabet, and JSON has other spellings of one object.
    if not isinstance(position, str) or not _POSITION.fullmatch(position) or encode(position) != cursor:
        raise InvalidCursor()
    return position
