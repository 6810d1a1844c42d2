"""Lambda events as API Gateway (REST proxy) and SQS deliver them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from local_runner.proxy_event import proxy_event
from users import contract


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    resource: str | None = None,
    path_params: dict[str, str] | None = None,
    sub: str = "caller-1",
) -> dict[str, Any]:
    """The event the local gateway would hand the function (local_runner/proxy_event.py) for this
    request to the dev stage's execute-api URL, authorised as `sub`."""
    hdrs = {"Content-Type": "application/json", "Authorization": "Bearer x", "User-Agent": "pytest"}
    hdrs.update(headers or {})
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    if resource is None:
        resource = "/users/{user_id}" if path.startswith("/users/") else path
    if path_params is None and resource == "/users/{user_id}":
        path_params = {"user_id": path.split("/", 2)[2]}
    return proxy_event(method=method, path=path, resource_path=resource, headers=list(hdrs.items()), query=list((query or {}).items()),
                       path_params=path_params or {}, body=(body or "").encode("utf-8", "surrogatepass"), source_ip="127.0.0.1",
                       request_id=str(uuid.uuid4()), claims={"sub": sub, "email": "caller@example.com"}, stage="dev", api_id="local",
                       sent_path=f"/dev{path}")


def sqs_event(*bodies: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"rh-{i}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "1700000000000",
                    "SenderId": "pipes",
                    "ApproximateFirstReceiveTimestamp": "1700000000000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications-test",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def welcome(user_id: str, email: str) -> str:
    return json.dumps({"type": contract.WELCOME_MESSAGE_TYPE, "user_id": user_id, "email": email})
