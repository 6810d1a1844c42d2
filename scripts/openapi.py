"""Writes docs/openapi.json from the users API's route declarations (Powertools' generator).

    .venv/bin/python scripts/openapi.py          # write
    .venv/bin/python scripts/openapi.py --check  # fail if the committed document is stale
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from users import contract

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "openapi.json"


def generate() -> str:
    # The handler module reads its settings and creates clients at import; no call is made.
    os.environ.setdefault(contract.ENV_TABLE_NAME, "users-dev")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    os.environ.setdefault("STAGE", "dev")
    os.environ.setdefault(contract.ENV_CURSOR_KEY_SECRET, "archon/dev/cursor-key")  # read on the first list, never here
    from aws_lambda_powertools.event_handler.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows

    from handlers.users_api import CREATE_SCOPE, READ_SCOPE, SECURITY_SCHEME, app

    token_url = "https://archon-STAGE-ACCOUNT.auth.REGION.amazoncognito.com/oauth2/token"
    schema = json.loads(app.get_openapi_json_schema(
        title="Archon users API",
        version="1.0.0",
        description="Every route needs an access token of the stage's Cognito user pool with the route's scope, "
        "sent as `Authorization: Bearer <token>`. Machine clients get one by the client-credentials grant. Errors use "
        '{"error": {"code", "message", "details"}, "request_id"}.',
        security_schemes={SECURITY_SCHEME: OAuth2(
            description="The stage's Cognito user pool. The token URL is the stack output TokenUrl "
            f"({token_url}). A token without the route's scope is answered 403.",
            flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url, scopes={
                READ_SCOPE: "Read users: GET /users and GET /users/{user_id}",
                CREATE_SCOPE: "Create users: POST /users (each sends a welcome email; limited per caller per hour)",
            })),
        )},
    ))
    # Powertools adds a 422 with its own validation-error schema to every route; this API answers
    # validation errors as 400 in its own contract, so drop those and their unused schemas.
    for operations in schema["paths"].values():
        for operation in operations.values():
            if "HTTPValidationError" in json.dumps(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    text = json.dumps(schema["paths"])
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in text:
            schema["components"]["schemas"].pop(name, None)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    from scripts.generated_file import write_or_check

    return write_or_check(DOC, generate(), ".venv/bin/python scripts/openapi.py")


if __name__ == "__main__":
    sys.exit(main())
