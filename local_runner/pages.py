"""The runner's two pages for people: the API explorer (Swagger UI, from npm's swagger-ui-dist,
served here, no CDN) over docs/openapi.json pointed at this runner, and the mailbox (the welcome
emails sent, the queues' depths, a redrive button). Static files only: each page's script reads
the runner's /_local/ endpoints and writes text, never HTML, so nothing a user typed runs."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).with_name("pages")
SWAGGER_UI = ROOT / "node_modules" / "swagger-ui-dist"
OPENAPI = ROOT / "docs" / "openapi.json"

# Every page and asset under /_local/, as (file, media type).
FILES: dict[str, tuple[Path, str]] = {
    "docs/": (PAGES / "docs.html", "text/html; charset=utf-8"),
    "docs/docs.js": (PAGES / "docs.js", "text/javascript; charset=utf-8"),
    "docs/swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "docs/swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css; charset=utf-8"),
    "mailbox/": (PAGES / "mailbox.html", "text/html; charset=utf-8"),
    "mailbox/mailbox.js": (PAGES / "mailbox.js", "text/javascript; charset=utf-8"),
    "pages.css": (PAGES / "pages.css", "text/css; charset=utf-8"),
}
# Scripts and styles from this origin only; Swagger UI sets inline styles and shows data: images.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


class PageMissing(Exception):
    """An asset that `make setup` installs is not there."""


def static(name: str) -> tuple[bytes, str] | None:
    """The file served at /_local/<name> and its media type; None when no page has that name."""
    if name not in FILES:
        return None
    path, media_type = FILES[name]
    if not path.is_file():
        raise PageMissing(f"{path.relative_to(ROOT)} is missing: run `make setup` (swagger-ui-dist is pinned in package.json)")
    return path.read_bytes(), media_type


def openapi_for(origin: str) -> bytes:
    """docs/openapi.json with this runner as its server and its token endpoint as the pool's, so
    the explorer's Authorize and Try it out talk to the runner."""
    document = json.loads(OPENAPI.read_text())
    document["servers"] = [{"url": origin, "description": "this local run (make run)"}]
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        for flow in scheme.get("flows", {}).values():
            if "tokenUrl" in flow:
                flow["tokenUrl"] = f"{origin}/_local/oauth2/token"
    return json.dumps(document).encode()
