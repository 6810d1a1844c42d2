"""The users API's handler on moto: what a client calls, as API Gateway hands it over."""

from __future__ import annotations

import json
from typing import Any
from tests.unit.events import api_event


class Reply:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.status = raw["statusCode"]
        headers = {k: v for k, v in (raw.get("headers") or {}).items()}
        for k, values in (raw.get("multiValueHeaders") or {}).items():
            headers[k] = ",".join(values)
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = json.loads(raw["body"]) if raw.get("body") else None


def call(aws, context, event) -> Reply:
    return Reply(aws.users_api.handler(event, context))


def create(aws, context, name="Ada Lovelace", email="ada@example.com", **kw) -> Reply:
    return call(aws, context, api_event("POST", "/users", body={"name": name, "email": email}, **kw))


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert set(reply.body) == {"error", "request_id"}
    assert reply.body["error"]["code"] == code
    assert isinstance(reply.body["error"]["message"], str) and reply.body["error"]["message"]
    assert isinstance(reply.body["error"]["details"], list)
    assert reply.body["request_id"]
