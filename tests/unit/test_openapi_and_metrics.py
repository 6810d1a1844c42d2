"""The committed OpenAPI document matches the routes, and the functions publish their metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cdk_app.config import ROOT
from scripts.openapi import DOC, generate
from tests.unit.events import api_event, sqs_event, welcome
from users import contract


def test_the_openapi_check_runs_in_a_shell_with_nothing_set():
    """As the pre-commit hook and make diff run it: none of the unit tests' environment (this
    process has the handler's settings; a new required one once broke the check only outside it)."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "PYTHONPYCACHEPREFIX") if k in os.environ}
    result = subprocess.run([sys.executable, "scripts/openapi.py", "--check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_committed_openapi_matches_the_route_declarations(_mocked):
    assert DOC.read_text() == generate(), "run `.venv/bin/python scripts/openapi.py` and commit docs/openapi.json"
    doc = json.loads(DOC.read_text())
    assert set(doc["paths"]) == {"/users", "/users/{user_id}"}
    assert set(doc["paths"]["/users"]) == {"get", "post"}
    assert doc["components"]["schemas"]["NewUser"]["required"] == ["name", "email"]


def test_openapi_states_the_whole_contract(_mocked):
    """What the fuzz holds the service to: auth, every status with its body, the header."""
    doc = json.loads(DOC.read_text())
    scheme = doc["components"]["securitySchemes"]["cognito"]
    assert scheme["type"] == "oauth2"
    assert set(scheme["flows"]) == {"clientCredentials"}
    assert set(scheme["flows"]["clientCredentials"]["scopes"]) == {contract.READ_SCOPE, contract.CREATE_SCOPE}
    scopes = {(path, method): op["security"] for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert scopes == {("/users", "get"): [{"cognito": [contract.READ_SCOPE]}], ("/users/{user_id}", "get"): [{"cognito": [contract.READ_SCOPE]}],
                      ("/users", "post"): [{"cognito": [contract.CREATE_SCOPE]}]}
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = {"post": "201"}.get(method, "200")
            assert "content" in responses[success], (method, path)
            for status in ("400", "401", "403", "404", "429", "500", "502", "503", "504"):
                assert responses[status]["content"]["application/json"]["schema"] == error, (method, path, status)
    post = doc["paths"]["/users"]["post"]
    assert {"409", "413", "415", "422"} <= set(post["responses"])
    assert [p["name"].lower() for p in post["parameters"]] == ["idempotency-key"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # validation errors are 400s in our contract


def _metrics(output: str) -> dict[str, float]:
    """Each metric's total over the EMF lines; every line is dimensioned by the stage, so that
    stages sharing an account and region do not mix in the dashboards and alarms."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            blob = json.loads(line)
            assert blob.get("stage") == "test", blob
            for definition in blob["_aws"]["CloudWatchMetrics"]:
                assert all("stage" in dimensions for dimensions in definition["Dimensions"]), definition
                for metric in definition["Metrics"]:
                    values = blob[metric["Name"]]
                    found[metric["Name"]] = found.get(metric["Name"], 0) + (sum(values) if isinstance(values, list) else values)
    return found


def test_users_api_metrics(aws, context, capsys):
    body = {"name": "M", "email": "m@example.com"}
    aws.users_api.handler(api_event("POST", "/users", body=body), context)
    aws.users_api.handler(api_event("POST", "/users", body=body), context)
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["UsersCreated"] == 1
    assert metrics["DuplicateEmailsRejected"] == 1


def test_processor_metrics(aws, context, capsys):
    reply = aws.users_api.handler(api_event("POST", "/users", body={"name": "M", "email": "m@example.com"}), context)
    user_id = json.loads(reply["body"])["user_id"]
    message = welcome(user_id, "m@example.com")
    aws.notifications.handler(sqs_event(message, message, "garbage"), context)
    metrics = _metrics(capsys.readouterr().out)
    assert metrics["WelcomeEmailsSent"] == 1
    assert metrics["WelcomeEmailsDeduplicated"] == 1
    assert metrics["WelcomeEmailsFailed"] == 1


def test_openapi_reads_well_in_a_generated_client(_mocked):
    doc = json.loads(DOC.read_text())
    operations = {op["operationId"]: (path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert set(operations) == {"createUser", "getUser", "listUsers"}
    assert all(op["tags"] == ["users"] for _, _, op in operations.values())
    user = doc["components"]["schemas"]["User"]["properties"]
    assert user["user_id"]["format"] == "uuid" and user["created_at"]["format"] == "date-time"
    page = doc["components"]["schemas"]["UserPage"]
    assert page["properties"]["next_cursor"] == {**page["properties"]["next_cursor"], "type": "string"}  # never null
    assert "next_cursor" not in page["required"]
    (header,) = operations["createUser"][2]["parameters"]
    assert header["required"] is False and header["schema"]["type"] == "string" and "anyOf" not in header["schema"]
    created = operations["createUser"][2]["responses"]
    assert "Location" in created["201"]["headers"]
    for status in ("409", "429"):
        assert "Retry-After" in created[status]["headers"], status
    assert "Retry-After" in operations["getUser"][2]["responses"]["503"]["headers"]


def test_every_error_status_names_its_codes_and_the_layer_that_answers(_mocked):
    from handlers.users_api import app  # noqa: F401 - the routes' error codes, as the function raises them

    doc = json.loads(DOC.read_text())
    codes = {"unauthorized", "forbidden", "throttled", "internal_error", "temporarily_unavailable", "not_found",
             "validation_error", "email_taken", "request_in_progress", "payload_too_large", "unsupported_media_type",
             "idempotency_key_reused", "rate_limited", "invalid_json", "invalid_cursor"}
    described = " ".join(r["description"] for ops in doc["paths"].values() for op in ops.values()
                         for status, r in op["responses"].items() if status >= "400")
    assert all(code in described for code in codes), sorted(c for c in codes if c not in described)
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status >= "400":
                    assert "(API Gateway" in response["description"] or "(function" in response["description"], (status, response)
