"""What a POST body must be before Powertools reads it: JSON only, UTF-8, at most MAX_BODY_BYTES.
Powertools would parse form encodings too, and any size; this answers in the error contract first."""

from __future__ import annotations

import base64
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import CORSConfig

from handlers.api_errors import proxy_error

MAX_BODY_BYTES = 8 * 1024


def refuse_body(event: dict[str, Any], *, cors: CORSConfig | None) -> dict[str, Any] | None:
    """The answer to a POST body this API does not take, before Powertools parses it (it would
    parse form encodings too, and any size): JSON only, up to MAX_BODY_BYTES. Media types match
    without case and with parameters (RFC 9110); the header is handed on in lower case, which is
    how Powertools recognises JSON."""
    if event.get("httpMethod") != "POST":
        return None
    headers = event.get("headers") or {}
    name = next((k for k in headers if k.lower() == "content-type"), None)
    media, _, parameters = (headers.get(name) or "").partition(";") if name else ("", "", "")
    if media.strip().lower() != "application/json":
        return proxy_error(event, cors, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the body as application/json.")
    charsets = [value.strip().strip('"').lower() for key, _, value in (p.partition("=") for p in parameters.split(";"))
                if key.strip().lower() == "charset"]
    if any(charset not in ("utf-8", "utf8") for charset in charsets):
        return proxy_error(event, cors, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                            "Send the body as application/json in UTF-8 (charset=utf-8, or no charset).")
    if event.get("isBase64Encoded"):  # API Gateway base64-encodes a body that is not UTF-8 text
        try:
            base64.b64decode(event.get("body") or "").decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return proxy_error(event, cors, HTTPStatus.BAD_REQUEST, "invalid_json", "The body is not UTF-8 text; send JSON in UTF-8.")
    if len((event.get("body") or "").encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return proxy_error(event, cors, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large", f"The body must be at most {MAX_BODY_BYTES} bytes.")
    normalised = "application/json" + (f";{parameters}" if parameters else "")
    headers[name] = normalised
    if name in (event.get("multiValueHeaders") or {}):
        event["multiValueHeaders"][name] = [normalised]
    return None
