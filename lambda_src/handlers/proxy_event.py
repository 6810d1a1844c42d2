"""The event API Gateway's REST proxy integration hands a Lambda function: the one request shape
the users API's routes read (handlers.users_app). The local gateway builds it for every request,
the handlers' unit tests build theirs with it, and on GCP the function's entry point builds it
from its HTTP request."""

from __future__ import annotations

import base64
import time
from typing import Any


def proxy_event(*, method: str, path: str, resource_path: str, headers: list[tuple[str, str]], query: list[tuple[str, str]],
                path_params: dict[str, str], body: bytes, source_ip: str, request_id: str, claims: dict[str, str] | None,
                stage: str, api_id: str, account: str, sent_path: str | None = None) -> dict[str, Any]:
    """`path` is the route's path; `sent_path`, the path as the client sent it (with the stage
    on an execute-api URL: /dev/users), where it differs."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "resource": resource_path,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource_path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": sent_path or path,
            "accountId": account,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": multi_headers.get("User-Agent", [""])[-1]},
            "domainName": "localhost",
            "apiId": api_id,
            **({"authorizer": {"claims": claims}} if claims is not None else {}),
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }
