"""API Gateway (REST, Lambda proxy) as the template defines it: routes, the Cognito authorizer,
request validators and models, MOCK preflight responses and the gateway responses."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema
import jwt

from local_runner import moto_compat
from local_runner.provisioning import LocalResources
from local_runner.proxy_event import proxy_event
from local_runner.functions import FunctionError, FunctionHost
from local_runner.turns import ApiFirst
from local_runner.wiring import GatewayResponseSpec, MethodSpec, Wiring

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
# Status of each gateway response type when the template does not set one (AWS's defaults).
DEFAULT_STATUS = {
    "UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "MISSING_AUTHENTICATION_TOKEN": 403, "EXPIRED_TOKEN": 403,
    "BAD_REQUEST_BODY": 400, "BAD_REQUEST_PARAMETERS": 400, "REQUEST_TOO_LARGE": 413, "UNSUPPORTED_MEDIA_TYPE": 415,
    "THROTTLED": 429, "QUOTA_EXCEEDED": 429, "AUTHORIZER_FAILURE": 500, "INTEGRATION_FAILURE": 504, "INTEGRATION_TIMEOUT": 504,
}


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    caller: str | None = None  # the token's subject, once the authorizer accepted it


SHOWN_VALUE_CHARS = 40


def _json_worded(error: jsonschema.ValidationError) -> str:
    """jsonschema's message with the value it opens with as JSON spells it (null, true, "x"; not
    Python's None, True, 'x'), shortened: a client sent JSON, and a long value is not echoed whole."""
    python = repr(error.instance)
    if not error.message.startswith(python):
        return error.message
    shown = json.dumps(error.instance, ensure_ascii=False)
    if len(shown) > SHOWN_VALUE_CHARS:
        shown = shown[:SHOWN_VALUE_CHARS - 1] + "…"
    return shown + error.message[len(python):]


class GatewayFailure(Exception):
    def __init__(self, response_type: str, message: str, status: int | None = None, validation: str = "") -> None:
        super().__init__(message)
        self.response_type, self.message, self.status, self.validation = response_type, message, status, validation


def _moto_public_keys() -> jwt.PyJWKSet:
    """The emulated user pool's signing keys: what a client would fetch from its JWKS URL."""
    return jwt.PyJWKSet.from_dict(moto_compat.cognito_public_keys())


class CognitoAuthorizer:
    """Verifies tokens like API Gateway's COGNITO_USER_POOLS authorizer: signature, expiry and
    issuer; then, on a method without scopes, an ID token for one of the pool's clients, and on a
    method with scopes, an access token of one of them carrying one of the method's scopes (a
    valid token without is ACCESS_DENIED, API Gateway's 403)."""

    def __init__(self, *, region: str, pool_id: str, client_ids: list[str]) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        self.client_ids = client_ids
        self._keys = {k.key_id: k for k in _moto_public_keys().keys}
        self._cache: dict[str, dict[str, Any]] = {}  # token -> claims; API Gateway caches verified tokens too

    def claims(self, header_value: str | None, scopes: list[str] | None = None) -> dict[str, str]:
        if not header_value:
            raise GatewayFailure("UNAUTHORIZED", "Unauthorized")
        token = header_value.removeprefix("Bearer ").strip()
        cached = self._cache.get(token)
        if cached is not None and cached["exp"] > time.time():
            claims = cached["claims"]
        else:
            claims = self._verify(token)
        if scopes:
            if claims.get("token_use") != "access" or claims.get("client_id") not in self.client_ids:
                raise GatewayFailure("UNAUTHORIZED", "Unauthorized")
            granted = claims.get("scope")
            if not isinstance(granted, str) or not set(granted.split()) & set(scopes):
                raise GatewayFailure("ACCESS_DENIED", "Unauthorized")
        elif claims.get("token_use") != "id" or claims.get("aud") not in self.client_ids:
            raise GatewayFailure("UNAUTHORIZED", "Unauthorized")
        # Claims reach the function as strings, as API Gateway passes them.
        return {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in claims.items()}

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            key = self._keys[jwt.get_unverified_header(token).get("kid", "")]
            claims: dict[str, Any] = jwt.decode(token, key=key, algorithms=["RS256"], issuer=self.issuer,
                                                options={"require": ["exp", "iss", "token_use"], "verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise GatewayFailure("UNAUTHORIZED", "The incoming token has expired") from None
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError, AttributeError):
            # Anything that is not a well-formed token of this pool: a malformed header, a JSON
            # value where an object belongs, bytes that are not UTF-8.
            raise GatewayFailure("UNAUTHORIZED", "Unauthorized") from None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = {"exp": claims["exp"], "claims": claims}
        return claims


def _route_pattern(path: str) -> re.Pattern[str]:
    parts = [f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in path.strip("/").split("/") if p]
    return re.compile("^/" + "/".join(parts) + "/?$" if parts else "^/$")


class RestApi:
    def __init__(self, *, wiring: Wiring, resources: LocalResources, host: FunctionHost, turns: ApiFirst | None = None,
                 api_id: str = "local") -> None:
        self.wiring, self.host, self.api_id = wiring, host, api_id
        self.turns = turns or ApiFirst()
        self.routes = [(_route_pattern(path), path, methods) for path, methods in wiring.routes.items()]
        # Literal paths before templated ones, as API Gateway prefers the most specific match.
        self.routes.sort(key=lambda r: r[1].count("{"))
        self.authorizer = CognitoAuthorizer(region=wiring.region, pool_id=resources.user_pool_id,
                                            client_ids=[c.client_id for c in resources.clients.values()])
        self._validators = {id(m): {ct: jsonschema.Draft4Validator(schema) for ct, schema in m.request_models.items()}
                            for methods in wiring.routes.values() for m in methods.values()}
        # Statuses answered, for /_local/status: the fuzz and load runs count what was served.
        self.answered: Counter[int] = Counter()
        self._answered_lock = threading.Lock()

    def handle(self, *, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str = "127.0.0.1") -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            with self.turns.request():
                response = self._handle(method, target, headers, body, source_ip, request_id)
        except GatewayFailure as failure:
            response = self.gateway_response(failure, request_id, headers)
        return self._counted(response)

    def refuse(self, failure: GatewayFailure, headers: list[tuple[str, str]]) -> HttpResponse:
        """The gateway response to a request the front door refuses before reading it whole."""
        return self._counted(self.gateway_response(failure, str(uuid.uuid4()), headers))

    def _counted(self, response: HttpResponse) -> HttpResponse:
        with self._answered_lock:
            self.answered[response.status] += 1
        return response

    def _handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, request_id: str) -> HttpResponse:
        url = urlsplit(target)
        path = url.path or "/"
        if len(body) > MAX_PAYLOAD_BYTES:
            raise GatewayFailure("REQUEST_TOO_LARGE", "Request Too Long")
        found = self._match(method, path)
        if found is None:
            raise GatewayFailure("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        resource_path, spec, path_params = found
        lower = {k.lower(): v for k, v in headers}
        if spec.integration == "MOCK":
            return self._mock(spec, lower, request_id)
        claims = None
        if spec.authorization == "COGNITO_USER_POOLS":
            claims = self.authorizer.claims(lower.get((spec.identity_header or "Authorization").lower()), spec.authorization_scopes)
        query = parse_qsl(url.query, keep_blank_values=True)
        self._validate(spec, lower, query, body)
        event = proxy_event(method=method, path=path, resource_path=resource_path, headers=headers, query=query, path_params=path_params,
                            body=body, source_ip=source_ip, request_id=request_id, claims=claims, stage=self.wiring.stage_name,
                            api_id=self.api_id)
        try:
            result = self.host.invoke(spec.function_logical_id or "", event)
        except FunctionError:
            raise GatewayFailure("DEFAULT_5XX", "Internal server error", status=502) from None
        response = self._proxy_response(result, request_id)
        response.caller = (claims or {}).get("sub") or (claims or {}).get("client_id")
        return response

    def _match(self, method: str, path: str) -> tuple[str, MethodSpec, dict[str, str]] | None:
        for pattern, resource_path, methods in self.routes:
            matched = pattern.match(path)
            if matched:
                spec = methods.get(method) or methods.get("ANY")
                if spec is None:
                    return None
                return resource_path, spec, {k: unquote(v) for k, v in matched.groupdict().items()}
        return None

    def _mock(self, spec: MethodSpec, headers: dict[str, str], request_id: str) -> HttpResponse:
        out = dict(spec.mock_headers)
        origin = headers.get("origin", "")
        if origin and origin in spec.mock_extra_origins:
            out["Access-Control-Allow-Origin"] = origin
        out["x-amzn-RequestId"] = request_id
        return HttpResponse(spec.mock_status or 200, list(out.items()), b"")

    def _validate(self, spec: MethodSpec, headers: dict[str, str], query: list[tuple[str, str]], body: bytes) -> None:
        if spec.validate_parameters:
            names = {k for k, _ in query}
            missing = [name.split(".")[-1] for name, required in spec.required_parameters.items() if required and (
                (name.startswith("method.request.querystring.") and name.split(".")[-1] not in names)
                or (name.startswith("method.request.header.") and name.split(".")[-1].lower() not in headers))]
            if missing:
                listed = f"[{', '.join(missing)}]"
                raise GatewayFailure("BAD_REQUEST_PARAMETERS", f"Missing required request parameters: {listed}",
                                     validation=f"Missing required request parameters: {listed}")
        if spec.validate_body and spec.request_models:
            content_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
            validator = self._validators[id(spec)].get(content_type)
            if validator is None:
                return  # no model for this media type: API Gateway passes the body through
            try:
                document = json.loads(body or b"null")
            except UnicodeDecodeError as error:
                raise GatewayFailure("BAD_REQUEST_BODY", "Invalid request body",
                                     validation=f"[body: not UTF-8 (byte {error.start + 1})]") from None
            except json.JSONDecodeError as error:
                raise GatewayFailure("BAD_REQUEST_BODY", "Invalid request body",
                                     validation=f"[body: not JSON: {error.msg} at line {error.lineno}, column {error.colno}]") from None
            except ValueError:  # whatever else the parser refuses
                raise GatewayFailure("BAD_REQUEST_BODY", "Invalid request body", validation="[body: not JSON]") from None
            except RecursionError:  # nested past what a parser will follow
                raise GatewayFailure("BAD_REQUEST_BODY", "Invalid request body", validation="[body: nested too deeply]") from None
            problems = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
            if problems:
                # API Gateway's validator words these its own way; what matters is the field named.
                text = ", ".join(f"{'/' + '/'.join(map(str, e.absolute_path)) if e.absolute_path else 'body'}: {_json_worded(e)}" for e in problems)
                raise GatewayFailure("BAD_REQUEST_BODY", "Invalid request body", validation=f"[{text}]")

    def _proxy_response(self, result: Any, request_id: str) -> HttpResponse:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            raise GatewayFailure("DEFAULT_5XX", "Internal server error", status=502)  # AWS: "Malformed Lambda proxy response"
        out: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            out.extend((name, str(v)) for v in values if (name, str(v)) not in out)
        out.append(("x-amzn-RequestId", request_id))
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return HttpResponse(result["statusCode"], out, raw)

    def gateway_response(self, failure: GatewayFailure, request_id: str, request_headers: list[tuple[str, str]] | None = None) -> HttpResponse:
        responses = self.wiring.gateway_responses
        default_type = "DEFAULT_5XX" if (failure.status or DEFAULT_STATUS.get(failure.response_type, 500)) >= 500 else "DEFAULT_4XX"
        spec = responses.get(failure.response_type) or responses.get(default_type) or GatewayResponseSpec(None, {}, None)
        status = failure.status or spec.status or DEFAULT_STATUS.get(failure.response_type, 500)
        if spec.template:
            body = (spec.template.replace("$context.error.messageString", json.dumps(failure.message))
                    # As API Gateway substitutes it: as it is, unescaped (the templates embed none).
                    .replace("$context.error.validationErrorString", failure.validation)
                    .replace("$context.error.message", failure.message).replace("$context.requestId", request_id))
        else:
            body = json.dumps({"message": failure.message})
        sent = {k.lower(): v for k, v in request_headers or []}
        echoed = [(name, sent[source.lower()]) for name, source in spec.echoed.items() if source.lower() in sent]
        headers = [("Content-Type", "application/json"), *spec.headers.items(), *echoed, ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", _error_type(failure.response_type))]
        return HttpResponse(status, headers, body.encode("utf-8"))


def _error_type(response_type: str) -> str:
    return {"UNAUTHORIZED": "UnauthorizedException", "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
            "BAD_REQUEST_BODY": "BadRequestException", "BAD_REQUEST_PARAMETERS": "BadRequestException",
            "REQUEST_TOO_LARGE": "RequestTooLargeException"}.get(response_type, HTTPStatus(500).phrase.replace(" ", "") + "Exception")
