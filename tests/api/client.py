"""A client of any stage's API, over HTTPS or HTTP, holding nothing but its URL and a machine
client's credentials: the API suite's only way in."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from tools.runner_client import Reply
from users import contract

# The variables make e2e reads; the README's "Testing a deployed stage" says where each comes from.
VARIABLES = ("ARCHON_API_URL", "ARCHON_TOKEN_URL", "ARCHON_CLIENT_ID", "ARCHON_CLIENT_SECRET")
ALL_SCOPES = (contract.READ_SCOPE, contract.CREATE_SCOPE)
TIMEOUT = 30

# Every user the suite creates gets an address of the SES mailbox simulator: it accepts the welcome
# email without delivering it to anyone, counts against no reputation, and no real person can
# own one of its addresses, so the suite's users never take a real mailbox. RUN marks one run.
RUN = uuid.uuid4().hex[:12]
SIMULATOR = "simulator.amazonses.com"


class SetupError(Exception):
    """What make e2e was given cannot reach a stage; the message names the variable."""


def _url(variable: str, shown_as: str, example: str) -> str:
    value = os.environ[variable]
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SetupError(f"{shown_as}={value!r} is not a URL; give {example}")
    return value


def mailbox(tag: str) -> str:
    return f"success+archon-e2e-{RUN}-{tag}-{uuid.uuid4().hex[:8]}@{SIMULATOR}"


def new_user(tag: str) -> dict[str, str]:
    return {"name": f"Archon e2e {tag}", "email": mailbox(tag)}


@dataclass
class Api:
    url: str
    token_url: str
    client_id: str
    client_secret: str
    origin: str | None = None  # an origin the stage allows (ARCHON_ALLOWED_ORIGIN), for the CORS checks
    _tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> Api:
        missing = [name for name in VARIABLES if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"make e2e needs {', '.join(missing)} (see the README's \"Testing a deployed stage\")")
        return cls(url=_url("ARCHON_API_URL", "URL", "the stack's ApiUrl output, such as https://abc123.execute-api.us-east-1.amazonaws.com/prod/").rstrip("/"),
                   token_url=_url("ARCHON_TOKEN_URL", "ARCHON_TOKEN_URL", "the stack's TokenUrl output, ending in /oauth2/token"),
                   client_id=os.environ["ARCHON_CLIENT_ID"], client_secret=os.environ["ARCHON_CLIENT_SECRET"],
                   origin=os.environ.get("ARCHON_ALLOWED_ORIGIN") or None)

    def token(self, scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        """An access token by the client-credentials grant, as any machine client gets one."""
        if scopes not in self._tokens:
            basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": " ".join(scopes)}).encode()
            request = urllib.request.Request(self.token_url, data=form, method="POST", headers={
                "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the stage's own token URL
                    self._tokens[scopes] = json.loads(response.read())["access_token"]
            except urllib.error.HTTPError as error:
                raise AssertionError(f"the token endpoint answered {error.code}: {error.read()[:200]!r}") from None
            except urllib.error.URLError as error:
                raise SetupError(f"ARCHON_TOKEN_URL={self.token_url!r} cannot be reached ({error.reason})") from None
        return self._tokens[scopes]

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                scopes: tuple[str, ...] | None = ALL_SCOPES, raw: bytes | None = None) -> Reply:
        """One call; scopes=None sends no Authorization header unless headers carry one."""
        sent = dict(headers or {})
        if scopes is not None and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token(scopes)}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        target = path if path.startswith("http") else self.url + path
        request = urllib.request.Request(target, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - the stage's own API
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read())
