"""The users API's routes and the scopes each needs, read from the resolver's own OpenAPI
document: the front door's checks can never disagree with the routes the function serves."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from jsonschema import Draft4Validator
from aws_lambda_powertools.event_handler.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows

from handlers.users_app import SECURITY_SCHEME
from users import contract


@dataclass(frozen=True)
class Route:
    resource: str  # as API Gateway names it: /users/{user_id}
    method: str
    scopes: frozenset[str]
    pattern: re.Pattern[str]
    body_model: Draft4Validator | None  # the JSON body's model, as API Gateway's request validator checks it


def body_model(schema: dict[str, Any]) -> Draft4Validator:
    """The request model API Gateway validates POST bodies by on AWS (cdk_app/api.py builds it
    from the same contract schema): shape and lengths, not the patterns, which the function
    checks and names by field."""
    return Draft4Validator({
        "type": "object", "required": schema.get("required", []),
        "additionalProperties": schema.get("additionalProperties", True),
        "properties": {name: {k: v for k, v in prop.items() if k in contract.BODY_MODEL_KEYWORDS}
                       for name, prop in schema.get("properties", {}).items() if set(prop) & set(contract.BODY_MODEL_KEYWORDS)},
    })


def refuses_body(route: Route, media_type: str, body: bytes) -> bool:
    """Whether the route's model refuses a JSON body: not JSON, or not of the model's shape.
    Another media type has no model and passes through, as on API Gateway."""
    if route.body_model is None or media_type != "application/json":
        return False
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError):
        return True
    return not route.body_model.is_valid(document)


@dataclass(frozen=True)
class Match:
    route: Route
    path_params: dict[str, str]


class Routes:
    def __init__(self, app: APIGatewayRestResolver) -> None:
        # The scheme's own details do not matter here, only which scopes each operation names.
        scheme = OAuth2(flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="https://issuer.invalid/token", scopes={})))
        schema: dict[str, Any] = app.get_openapi_schema(security_schemes={SECURITY_SCHEME: scheme}).model_dump(by_alias=True, exclude_none=True)
        self._routes = []
        for resource, operations in schema["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$")
            for method, operation in operations.items():
                scopes = {s for requirement in operation.get("security") or [] for s in requirement.get(SECURITY_SCHEME, [])}
                reference = (((operation.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema", {}).get("$ref")
                model = body_model(schema["components"]["schemas"][reference.rsplit("/", 1)[1]]) if reference else None
                self._routes.append(Route(resource=resource, method=method.upper(), scopes=frozenset(scopes), pattern=pattern, body_model=model))

    def match(self, method: str, path: str) -> Match | None:
        for route in self._routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return Match(route=route, path_params=found.groupdict())
        return None

    def has_path(self, path: str) -> bool:
        return any(route.pattern.match(path) for route in self._routes)
