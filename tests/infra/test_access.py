"""Who may do what, in the synthesised templates: scopes on every method, machine clients with
only the grant and scopes they use, an audit trail without personal data, and the narrowed trusts."""

from __future__ import annotations

import json

import pytest

from cdk_app.config import ROOT
from cdk_app.identity import client_output
from tests.infra.conftest import only, resources
from users import contract

STAGES = ["dev", "staging", "prod"]


def _methods(template: dict) -> dict[tuple[str, str], dict]:
    """(HTTP method, path) -> method properties, for the API's business methods."""
    paths = {k: r["Properties"]["PathPart"] for k, r in resources(template, "AWS::ApiGateway::Resource").items()}
    parents = {k: r["Properties"]["ParentId"] for k, r in resources(template, "AWS::ApiGateway::Resource").items()}

    def path(resource_id: str) -> str:
        parent = parents[resource_id].get("Ref")
        return (path(parent) if parent in paths else "") + "/" + paths[resource_id]

    return {(m["Properties"]["HttpMethod"].lower(), path(m["Properties"]["ResourceId"]["Ref"])): m["Properties"]
            for m in resources(template, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] != "OPTIONS"}


@pytest.mark.parametrize("stage", STAGES)
def test_every_method_checks_the_scope_the_openapi_document_declares(synth, stage):
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    declared = {(method, path): op["security"][0]["cognito"] for path, ops in document["paths"].items() for method, op in ops.items()}
    for region in synth.stages[stage].aws_regions:
        methods = _methods(synth.template(stage, region))
        assert set(methods) == set(declared)
        for key, props in methods.items():
            assert props["AuthorizationType"] == "COGNITO_USER_POOLS", key
            assert props["AuthorizationScopes"] == declared[key], key
    assert declared[("post", "/users")] == [contract.CREATE_SCOPE]
    assert declared[("get", "/users")] == declared[("get", "/users/{user_id}")] == [contract.READ_SCOPE]


@pytest.mark.parametrize("stage", STAGES)
def test_machine_clients_have_only_the_client_credentials_grant_and_their_scopes(synth, stage):
    template = synth.template(stage)
    server_id, server = next(iter(resources(template, "AWS::Cognito::UserPoolResourceServer").items()))
    assert server["Properties"]["Identifier"] == "users"
    assert {s["ScopeName"] for s in server["Properties"]["Scopes"]} == {"read", "create"}
    clients = {c["Properties"]["ClientName"]: c["Properties"] for c in resources(template, "AWS::Cognito::UserPoolClient").values()}
    expected = {f"archon-{stage}-{c.name}": set(c.scopes) for c in synth.stages[stage].clients}
    assert set(clients) == set(expected)
    for name, props in clients.items():
        assert props["AllowedOAuthFlows"] == ["client_credentials"], name
        assert props["GenerateSecret"] is True, name
        assert props["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"], name  # no password, SRP or admin sign-in
        assert "CallbackURLs" not in props and "LogoutURLs" not in props, name
        scopes = {s["Fn::Join"][1][1].lstrip("/") for s in props["AllowedOAuthScopes"]}
        assert all(s["Fn::Join"][1][0] == {"Ref": server_id} for s in props["AllowedOAuthScopes"])
        assert scopes == expected[name], name
    assert "ADMIN_USER_PASSWORD" not in json.dumps(template)


@pytest.mark.parametrize("stage", STAGES)
def test_the_pool_has_a_token_endpoint_and_the_stack_says_where(synth, stage):
    template = synth.template(stage)
    only(template, "AWS::Cognito::UserPoolDomain")
    outputs = template["Outputs"]
    assert {"TokenUrl", "UserPoolId", "ApiUrl"} <= set(outputs)
    assert {k for k in outputs if k.startswith("ClientId")} == {client_output(c.name) for c in synth.stages[stage].clients}


@pytest.mark.parametrize("stage", STAGES)
def test_the_access_log_records_the_caller_and_the_outcome_and_nothing_personal(synth, stage):
    api_stage = only(synth.template(stage), "AWS::ApiGateway::Stage")["Properties"]
    fields = json.loads(api_stage["AccessLogSetting"]["Format"])
    assert fields["caller"] == "$context.authorizer.claims.sub"
    assert fields["clientId"] == "$context.authorizer.claims.client_id"
    assert fields["status"] == "$context.status" and fields["error"] == "$context.error.responseType"
    text = json.dumps(fields)
    for personal in ("email", "name", "requestBody", "Authorization", "username"):
        assert personal not in text.replace("resourcePath", "").replace("responseLength", ""), personal


@pytest.mark.parametrize("stage", STAGES)
def test_traces_never_capture_what_a_call_returned_or_raised(synth, stage):
    for function in resources(synth.template(stage), "AWS::Lambda::Function").values():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in env:  # the service's functions (not CDK's own providers)
            assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
            assert env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


@pytest.mark.parametrize("stage", STAGES)
def test_only_this_stages_pipe_may_assume_the_pipe_role(synth, stage):
    template = synth.template(stage)
    role_id = only(template, "AWS::Pipes::Pipe")["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    source = json.dumps(trust["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert f":pipe/archon-outbox-{stage}" in source
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_create_limit_per_caller_comes_from_config(synth, stage):
    function = only(synth.template(stage), "AWS::Lambda::Function", FunctionName=f"archon-users-api-{stage}")
    env = function["Properties"]["Environment"]["Variables"]
    assert env[contract.ENV_CREATES_PER_CALLER_PER_HOUR] == str(synth.stages[stage].api.creates_per_caller_per_hour)


# As API Gateway fills a gateway response template: variables replaced as they are, no VTL. What a
# caller can put into each (AWS generates the request id and response type; messageString is the
# one AWS documents as a quoted JSON string); any other variable gets the worst a caller could send.
HOSTILE = 'x", "injected": true, "y": "\\\\ \n </script>'
SUBSTITUTED = {"$context.requestId": "8d3c0e2a-0d4e-4a5b-9c1f-3b2a1c0d9e8f", "$context.error.responseType": "BAD_REQUEST_BODY",
               "$context.error.messageString": json.dumps(HOSTILE)}


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_every_gateway_response_stays_valid_json_whatever_the_request_held(synth, stage):
    import re

    for logical_id, response in resources(synth.template(stage), "AWS::ApiGateway::GatewayResponse").items():
        for template in response["Properties"].get("ResponseTemplates", {}).values():
            body = re.sub(r"\$context\.[A-Za-z.]+", lambda m: SUBSTITUTED.get(m.group(0), HOSTILE), template)
            parsed = json.loads(body)  # raises for a template that embeds a caller's text unescaped
            assert set(parsed) == {"error", "request_id"} and "injected" not in parsed["error"], logical_id
