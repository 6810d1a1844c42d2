"""Reads a stage's primary-region template (dev by default) from a cloud assembly into the runner's wiring.

Nothing here is a second copy of the infrastructure: every name, key, timeout, filter and route
comes from the synthesised template. A resource type the runner cannot emulate stops it with a
line that names the resource and what is missing, instead of a run that silently differs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloud_assembly

ACCOUNT = "123456789012"  # moto's default account


class WiringError(Exception):
    """The assembly or template cannot be run locally; the message says what and why."""


# Resource types that need no local counterpart, and why.
IGNORED = {
    "AWS::IAM::Role": "IAM is not enforced locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::Lambda::Permission": "IAM is not enforced locally",
    "AWS::Lambda::LayerVersion": "the layer's arm64 wheels are replaced by the same pins in the venv",
    "AWS::Lambda::Version": "the runner runs the function's current code; an alias on a version invokes its function",
    "AWS::Lambda::Alias": "the runner runs the function's current code; an alias on a version invokes its function",
    "AWS::Logs::LogGroup": "function logs go to the runner's log file",
    "AWS::SQS::QueuePolicy": "resource policies are not enforced locally",
    "AWS::ApiGateway::RestApi": "the runner is the API",
    "AWS::ApiGateway::Account": "account settings have no local effect",
    "AWS::ApiGateway::Deployment": "the runner serves the template's current routes",
    "AWS::ApiGateway::Stage": "read for its name only; throttling is not emulated",
    "AWS::CloudWatch::Alarm": "no metrics are collected locally; functions' EMF metrics go to the log file",
    "AWS::CloudWatch::Dashboard": "no metrics are collected locally",
    "AWS::CloudWatch::InsightRule": "no metrics are collected locally; the function log's lines are in build/local/functions.log",
    "AWS::SNS::Topic": "alarms never fire locally, so their topic has nothing to carry",
    "AWS::SNS::TopicPolicy": "resource policies are not enforced locally",
    "AWS::SNS::Subscription": "alarms never fire locally",
    "AWS::KMS::Key": "encryption at rest has no local effect",
    "AWS::WAFv2::WebACL": "the runner serves loopback only; no edge to protect",
    "AWS::WAFv2::WebACLAssociation": "the runner serves loopback only; no edge to protect",
    "AWS::WAFv2::LoggingConfiguration": "the runner serves loopback only; no edge to protect",
    "AWS::Logs::ResourcePolicy": "resource policies are not enforced locally",
    "AWS::CertificateManager::Certificate": "the runner serves plain HTTP on loopback, not the stage's domain",
    "AWS::ApiGateway::DomainName": "the runner serves plain HTTP on loopback, not the stage's domain",
    "AWS::ApiGateway::BasePathMapping": "the runner serves plain HTTP on loopback, not the stage's domain",
    "AWS::Route53::RecordSet": "the runner serves plain HTTP on loopback, not the stage's domain",
    "AWS::Route53::HealthCheck": "the runner serves plain HTTP on loopback, not the stage's domain",
    "AWS::SecretsManager::ResourcePolicy": "resource policies are not enforced locally",
    "AWS::Cognito::UserPoolDomain": "the runner's own token endpoint (POST /_local/oauth2/token) stands in for the pool's domain",
}
MAPPED = {
    "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolResourceServer", "AWS::Lambda::Function", "AWS::Lambda::EventSourceMapping",
    "AWS::Pipes::Pipe", "AWS::SES::EmailIdentity", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
    "AWS::ApiGateway::GatewayResponse", "AWS::ApiGateway::RequestValidator", "AWS::ApiGateway::Model",
    "AWS::ApiGateway::Authorizer", "AWS::SecretsManager::Secret",
}


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    attributes: list[dict[str, str]]
    key_schema: list[dict[str, str]]
    indexes: list[dict[str, Any]]
    stream_view: str | None
    ttl_attribute: str | None


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    visibility_timeout: int
    retention_seconds: int
    dead_letter_logical_id: str | None
    max_receive_count: int | None


@dataclass(frozen=True)
class ClientSpec:
    logical_id: str
    name: str
    scopes: list[str]  # AllowedOAuthScopes, as tokens carry them (<resource server>/<scope>)
    oauth_flows: list[str]
    auth_flows: list[str]
    generate_secret: bool
    access_token_minutes: int


@dataclass(frozen=True)
class UserPoolSpec:
    logical_id: str
    name: str
    username_attributes: list[str]
    password_policy: dict[str, Any]
    clients: list[ClientSpec]
    resource_servers: dict[str, list[dict[str, str]]]  # identifier -> its scopes (ScopeName, ScopeDescription)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    environment: dict[str, Any]  # values may still hold intrinsics; resolved against local resources
    timeout_seconds: int
    memory_mb: int


@dataclass(frozen=True)
class EventSourceSpec:
    queue_logical_id: str
    function_logical_id: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class PipeSpec:
    name: str
    table_logical_id: str
    target_queue_logical_id: str
    dead_letter_logical_id: str | None
    batch_size: int
    maximum_retry_attempts: int
    starting_position: str
    filters: list[str]
    input_template: str | None


@dataclass(frozen=True)
class GatewayResponseSpec:
    status: int | None
    headers: dict[str, str]
    template: str | None
    echoed: dict[str, str] = field(default_factory=dict)  # response header -> the request header it repeats


@dataclass(frozen=True)
class MethodSpec:
    logical_id: str
    http_method: str
    authorization: str
    authorizer_pool_logical_id: str | None
    identity_header: str | None
    authorization_scopes: list[str]
    integration: str  # "AWS_PROXY" or "MOCK"
    function_logical_id: str | None
    request_models: dict[str, dict[str, Any]]
    required_parameters: dict[str, bool]
    validate_body: bool
    validate_parameters: bool
    mock_status: int | None = None
    mock_headers: dict[str, str] = field(default_factory=dict)
    mock_extra_origins: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Wiring:
    stack_name: str
    region: str
    stage_name: str
    table: TableSpec
    queues: dict[str, QueueSpec]
    user_pool: UserPoolSpec
    functions: dict[str, FunctionSpec]
    event_sources: list[EventSourceSpec]
    pipes: list[PipeSpec]
    email_identities: list[str]
    routes: dict[str, dict[str, MethodSpec]]  # "/users/{user_id}" -> {"GET": ...}
    gateway_responses: dict[str, GatewayResponseSpec]
    # Secrets Secrets Manager generates (the cursor key): name -> (template, generated key, length).
    # The e2e client's secret mirrors Cognito's and is for the deploy workflow: GET /_local/clients
    # lists the local clients' secrets instead.
    generated_secrets: dict[str, tuple[dict[str, Any], str, int]] = field(default_factory=dict)

    def queue_name(self, logical_id: str) -> str:
        return self.queues[logical_id].name

    def function_by_name(self, name: str) -> FunctionSpec:
        return next(f for f in self.functions.values() if f.name == name)


def find_template(assembly_dir: Path, stage: str) -> tuple[str, str, Path, dict[str, Any]]:
    """(stack name, region, template path, template) of the stage's stack that holds the table:
    the primary region's."""
    try:
        found = cloud_assembly.stacks(assembly_dir)
    except cloud_assembly.AssemblyError as exc:
        fix = f"synthesise first (make synth STAGE={stage})" if str(exc).endswith("not found") else f"run make synth STAGE={stage} again"
        raise WiringError(f"{exc}: {fix}") from None
    for stack in found:
        if not stack.artifact_id.startswith(f"{stage}-"):
            continue
        types = {r["Type"] for r in stack.template.get("Resources", {}).values()}
        if types & {"AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"}:
            return stack.stack_name, stack.region, stack.template_file, stack.template
    raise WiringError(f"no stack of stage '{stage}' with the users table in {assembly_dir}: run make synth STAGE={stage}")


class _Template:
    def __init__(self, template: dict[str, Any], path: Path) -> None:
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.path = path

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.resources.items() if v["Type"] == type_}

    def one(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(type_)
        if len(found) != 1:
            raise WiringError(f"{self.path.name}: expected one {type_}, found {len(found)}")
        return next(iter(found.items()))


def ref_id(value: Any, what: str) -> str:
    """The logical id behind {"Ref": X} or {"Fn::GetAtt": [X, ...]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    raise WiringError(f"{what}: expected a reference to a resource in the same template, got {json.dumps(value)}")


ROOT = Path(__file__).resolve().parent.parent
# What a synth reads: a change to any of them makes an assembly synthesised before it stale.
SYNTH_INPUTS = ("app.py", "cdk.json", "cdk_app", "lambda_src", "config")


def check_fresh(assembly_dir: Path, stage: str, root: Path = ROOT) -> None:
    """Stops with the fix when the assembly was synthesised before the code or config last changed."""
    manifest = assembly_dir / "manifest.json"
    if not manifest.exists():
        return  # find_template says how to make one
    synthesised = manifest.stat().st_mtime
    for name in SYNTH_INPUTS:
        path = root / name
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts] if path.is_dir() else []
        newer = next((f for f in files if f.stat().st_mtime > synthesised), None)
        if newer is not None:
            raise WiringError(f"{assembly_dir} was synthesised before the last change to {newer.relative_to(root)}: "
                              f"run make run (it synthesises again) or make synth STAGE={stage}")


def load_wiring(assembly_dir: Path, stage: str) -> Wiring:
    check_fresh(assembly_dir, stage)
    stack_name, region, path, body = find_template(assembly_dir, stage)
    t = _Template(body, path)
    for logical_id, resource in t.resources.items():
        if resource["Type"] not in MAPPED and resource["Type"] not in IGNORED:
            raise WiringError(f"{logical_id}: the local runner cannot emulate {resource['Type']}; "
                              "run it on AWS or teach local_runner/wiring.py to map it")
    stage_props = t.one("AWS::ApiGateway::Stage")[1]
    return Wiring(
        stack_name=stack_name,
        region=region,
        stage_name=stage_props.get("StageName", stage),
        table=_table(t),
        queues=_queues(t),
        user_pool=_user_pool(t),
        functions=_functions(t, path.parent),
        event_sources=_event_sources(t),
        pipes=_pipes(t),
        email_identities=[p["EmailIdentity"] for p in t.of_type("AWS::SES::EmailIdentity").values()],
        routes=_routes(t),
        gateway_responses=_gateway_responses(t),
        generated_secrets=_generated_secrets(t),
    )


def _generated_secrets(t: _Template) -> dict[str, tuple[dict[str, Any], str, int]]:
    found = {}
    for p in t.of_type("AWS::SecretsManager::Secret").values():
        generate = p.get("GenerateSecretString")
        if generate:
            template = json.loads(generate.get("SecretStringTemplate") or "{}")
            found[p["Name"]] = (template, generate["GenerateStringKey"], int(generate.get("PasswordLength", 32)))
    return found


def _table(t: _Template) -> TableSpec:
    tables = t.of_type("AWS::DynamoDB::GlobalTable") | t.of_type("AWS::DynamoDB::Table")
    if len(tables) != 1:
        raise WiringError(f"{t.path.name}: expected one DynamoDB table, found {len(tables)}")
    logical_id, p = next(iter(tables.items()))
    if p.get("BillingMode") not in (None, "PAY_PER_REQUEST"):
        raise WiringError(f"{logical_id}: only on-demand (PAY_PER_REQUEST) tables are emulated")
    stream = p.get("StreamSpecification") or {}
    ttl = p.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id=logical_id,
        name=p["TableName"],
        attributes=p["AttributeDefinitions"],
        key_schema=p["KeySchema"],
        indexes=[{k: v for k, v in i.items() if k in ("IndexName", "KeySchema", "Projection")} for i in p.get("GlobalSecondaryIndexes", [])],
        stream_view=stream.get("StreamViewType"),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
    )


def _queues(t: _Template) -> dict[str, QueueSpec]:
    queues = {}
    for logical_id, p in t.of_type("AWS::SQS::Queue").items():
        if p.get("FifoQueue"):
            raise WiringError(f"{logical_id}: FIFO queues are not emulated")
        redrive = p.get("RedrivePolicy") or {}
        queues[logical_id] = QueueSpec(
            logical_id=logical_id,
            name=p.get("QueueName", logical_id),
            visibility_timeout=int(p.get("VisibilityTimeout", 30)),
            retention_seconds=int(p.get("MessageRetentionPeriod", 345600)),
            dead_letter_logical_id=ref_id(redrive["deadLetterTargetArn"], f"{logical_id} RedrivePolicy") if redrive else None,
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        )
    return queues


def _user_pool(t: _Template) -> UserPoolSpec:
    pool_id, pool = t.one("AWS::Cognito::UserPool")
    servers = {}
    for logical_id, server in t.of_type("AWS::Cognito::UserPoolResourceServer").items():
        servers[server["Identifier"]] = server.get("Scopes", [])
    clients = []
    for logical_id, client in t.of_type("AWS::Cognito::UserPoolClient").items():
        units = client.get("TokenValidityUnits", {})
        validity = client.get("AccessTokenValidity")  # CloudFormation's unit defaults to hours; no value means 60 minutes
        scopes = []
        for scope in client.get("AllowedOAuthScopes", []):
            if not isinstance(scope, str):  # CDK joins the resource server's identifier in
                scope = "".join(p if isinstance(p, str) else t.resources[ref_id(p, f"{logical_id} AllowedOAuthScopes")]["Properties"]["Identifier"]
                                for p in scope["Fn::Join"][1])
            scopes.append(scope)
        clients.append(ClientSpec(
            logical_id=logical_id,
            name=client.get("ClientName", logical_id),
            scopes=scopes,
            oauth_flows=client.get("AllowedOAuthFlows", []),
            auth_flows=client.get("ExplicitAuthFlows", []),
            generate_secret=bool(client.get("GenerateSecret")),
            access_token_minutes=60 if validity is None else int(validity) * {"minutes": 1, "hours": 60, "days": 1440}[units.get("AccessToken", "hours")],
        ))
    if not clients:
        raise WiringError(f"{t.path.name}: the user pool has no app client, so nobody could get a token")
    return UserPoolSpec(
        logical_id=pool_id,
        name=pool.get("UserPoolName", pool_id),
        username_attributes=pool.get("UsernameAttributes", []),
        password_policy=pool.get("Policies", {}).get("PasswordPolicy", {}),
        clients=clients,
        resource_servers=servers,
    )


def _code_asset(code: dict[str, Any], assets: dict[str, str]) -> str | None:
    key = code.get("S3Key")
    return assets.get(key) if isinstance(key, str) else None


def _functions(t: _Template, assembly_dir: Path) -> dict[str, FunctionSpec]:
    functions = {}
    assets = cloud_assembly.file_assets(assembly_dir)
    for logical_id, p in t.of_type("AWS::Lambda::Function").items():
        runtime = p.get("Runtime", "")
        if not runtime.startswith("python3"):
            raise WiringError(f"{logical_id}: runtime {runtime or '(container image)'} is not emulated; only Python zip functions are")
        asset = _code_asset(p.get("Code", {}), assets)
        if not asset:
            raise WiringError(f"{logical_id}: its code is not a file asset of this assembly (inline code and images are not emulated)")
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=p.get("FunctionName", logical_id),
            handler=p["Handler"],
            code_dir=(assembly_dir / asset).resolve(),
            environment=p.get("Environment", {}).get("Variables", {}),
            timeout_seconds=int(p.get("Timeout", 3)),
            memory_mb=int(p.get("MemorySize", 128)),
        )
    return functions


def _event_sources(t: _Template) -> list[EventSourceSpec]:
    sources = []
    for logical_id, p in t.of_type("AWS::Lambda::EventSourceMapping").items():
        source = ref_id(p["EventSourceArn"], f"{logical_id} EventSourceArn")
        if t.resources[source]["Type"] != "AWS::SQS::Queue":
            raise WiringError(f"{logical_id}: only SQS event sources are emulated")
        if p.get("FilterCriteria"):
            raise WiringError(f"{logical_id}: event source filters are not emulated")
        sources.append(EventSourceSpec(
            queue_logical_id=source,
            function_logical_id=_function_behind(t, ref_id(p["FunctionName"], f"{logical_id} FunctionName")),
            batch_size=int(p.get("BatchSize", 10)),
            batching_window_seconds=int(p.get("MaximumBatchingWindowInSeconds", 0)),
            report_batch_item_failures="ReportBatchItemFailures" in p.get("FunctionResponseTypes", []),
        ))
    return sources


def _pipes(t: _Template) -> list[PipeSpec]:
    pipes = []
    for logical_id, p in t.of_type("AWS::Pipes::Pipe").items():
        source = ref_id(p["Source"], f"{logical_id} Source")
        target = ref_id(p["Target"], f"{logical_id} Target")
        if t.resources[source]["Type"] not in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            raise WiringError(f"{logical_id}: only DynamoDB stream sources are emulated")
        if t.resources[target]["Type"] != "AWS::SQS::Queue":
            raise WiringError(f"{logical_id}: only SQS targets are emulated")
        if p.get("Enrichment"):
            raise WiringError(f"{logical_id}: pipe enrichment is not emulated")
        params = p.get("SourceParameters", {}).get("DynamoDBStreamParameters", {})
        dead_letter = params.get("DeadLetterConfig", {}).get("Arn")
        pipes.append(PipeSpec(
            name=p.get("Name", logical_id),
            table_logical_id=source,
            target_queue_logical_id=target,
            dead_letter_logical_id=ref_id(dead_letter, f"{logical_id} DeadLetterConfig") if dead_letter else None,
            batch_size=int(params.get("BatchSize", 10)),
            maximum_retry_attempts=int(params.get("MaximumRetryAttempts", -1)),
            starting_position=params.get("StartingPosition", "LATEST"),
            filters=[f["Pattern"] for f in p.get("SourceParameters", {}).get("FilterCriteria", {}).get("Filters", [])],
            input_template=p.get("TargetParameters", {}).get("InputTemplate"),
        ))
    return pipes


_CORS_ORIGIN_TEST = re.compile(r'#if\(\$origin == "([^"]+)"\)')
_CDK_CORS_TEMPLATE = re.compile(
    r'^#set\(\$origin = \$input\.params\(\)\.header\.get\("Origin"\)\)\n'
    r'#if\(\$origin == ""\)\n  #set\(\$origin = \$input\.params\(\)\.header\.get\("origin"\)\)\n#end\n'
    r'(#if\(\$origin == "[^"]+"\)\n  #set\(\$context\.responseOverride\.header\.Access-Control-Allow-Origin = \$origin\)\n#end\n?)+$'
)


def _routes(t: _Template) -> dict[str, dict[str, MethodSpec]]:
    paths = cloud_assembly.api_resource_paths(t.resources)
    authorizers = t.of_type("AWS::ApiGateway::Authorizer")
    validators = t.of_type("AWS::ApiGateway::RequestValidator")
    models = {k: p for k, p in t.of_type("AWS::ApiGateway::Model").items()}
    routes: dict[str, dict[str, MethodSpec]] = {}
    for logical_id, p in t.of_type("AWS::ApiGateway::Method").items():
        resource = p["ResourceId"]
        path = "/" if isinstance(resource, dict) and "Fn::GetAtt" in resource else paths[ref_id(resource, f"{logical_id} ResourceId")]
        integration = p.get("Integration", {})
        kind = integration.get("Type")
        auth = p.get("AuthorizationType", "NONE")
        pool = header = None
        if auth == "COGNITO_USER_POOLS":
            authorizer = authorizers[ref_id(p["AuthorizerId"], f"{logical_id} AuthorizerId")]
            pool = ref_id(authorizer["ProviderARNs"][0], f"{logical_id} authorizer ProviderARNs")
            header = authorizer["IdentitySource"].removeprefix("method.request.header.")
        elif auth != "NONE":
            raise WiringError(f"{logical_id}: authorization type {auth} is not emulated")
        validator = validators.get(ref_id(p["RequestValidatorId"], logical_id), {}) if p.get("RequestValidatorId") else {}
        method = dict(
            logical_id=logical_id,
            http_method=p["HttpMethod"],
            authorization=auth,
            authorizer_pool_logical_id=pool,
            identity_header=header,
            authorization_scopes=p.get("AuthorizationScopes", []),
            integration=kind,
            function_logical_id=None,
            request_models={ct: models[ref_id(m, logical_id)]["Schema"] for ct, m in p.get("RequestModels", {}).items()},
            required_parameters=p.get("RequestParameters", {}),
            validate_body=bool(validator.get("ValidateRequestBody")),
            validate_parameters=bool(validator.get("ValidateRequestParameters")),
        )
        if kind == "AWS_PROXY":
            method["function_logical_id"] = _function_behind(t, _proxy_target(integration["Uri"], logical_id))
        elif kind == "MOCK":
            method.update(_mock_response(integration, logical_id))
        else:
            raise WiringError(f"{logical_id}: integration type {kind} is not emulated (AWS_PROXY and MOCK are)")
        routes.setdefault(path, {})[p["HttpMethod"]] = MethodSpec(**method)
    return routes


def _proxy_target(uri: Any, logical_id: str) -> str:
    """The function, or the alias, that an AWS_PROXY integration's URI invokes."""
    parts = uri.get("Fn::Join", ["", []])[1] if isinstance(uri, dict) else []
    for part in parts:
        if isinstance(part, dict) and ("Fn::GetAtt" in part or "Ref" in part):
            return ref_id(part, f"{logical_id} Integration Uri")
    raise WiringError(f"{logical_id}: cannot find the Lambda function in the integration URI")


def _function_behind(t: _Template, logical_id: str) -> str:
    """The function a reference invokes: itself, or the function of an alias or a version."""
    resource = t.resources.get(logical_id, {})
    if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        return ref_id(resource["Properties"]["FunctionName"], f"{logical_id} FunctionName")
    if resource.get("Type") != "AWS::Lambda::Function":
        raise WiringError(f"{logical_id}: invoked as a Lambda function, but it is {resource.get('Type', 'not in the template')}")
    return logical_id


def _mock_response(integration: dict[str, Any], logical_id: str) -> dict[str, Any]:
    responses = integration.get("IntegrationResponses", [])
    if len(responses) != 1:
        raise WiringError(f"{logical_id}: MOCK integrations with {len(responses)} responses are not emulated (one is)")
    response = responses[0]
    headers = {}
    for key, value in response.get("ResponseParameters", {}).items():
        if not (value.startswith("'") and value.endswith("'")):
            raise WiringError(f"{logical_id}: only static response parameters are emulated, not {key}={value}")
        headers[key.removeprefix("method.response.header.")] = value[1:-1]
    template = response.get("ResponseTemplates", {}).get("application/json", "")
    if template and not _CDK_CORS_TEMPLATE.match(template):
        raise WiringError(f"{logical_id}: this MOCK response template is not emulated (only the CDK CORS preflight template is)")
    return {"mock_status": int(response.get("StatusCode", 200)), "mock_headers": headers,
            "mock_extra_origins": _CORS_ORIGIN_TEST.findall(template)}


_GATEWAY_VARIABLES = re.compile(r"\$context\.(requestId|error\.messageString|error\.validationErrorString|error\.message)\b")
_REQUEST_HEADER = re.compile(r"^method\.request\.header\.([A-Za-z0-9-]+)$")


def _gateway_responses(t: _Template) -> dict[str, GatewayResponseSpec]:
    responses = {}
    for logical_id, p in t.of_type("AWS::ApiGateway::GatewayResponse").items():
        template = p.get("ResponseTemplates", {}).get("application/json")
        if template and ("#" in template or "$" in _GATEWAY_VARIABLES.sub("", template)):
            raise WiringError(f"{logical_id}: the runner renders only $context.requestId and $context.error.* in gateway responses")
        headers, echoed = {}, {}
        for key, value in p.get("ResponseParameters", {}).items():
            name = key.removeprefix("gatewayresponse.header.")
            if value.startswith("'") and value.endswith("'"):
                headers[name] = value[1:-1]
            elif matched := _REQUEST_HEADER.match(value):
                echoed[name] = matched.group(1)
            else:
                raise WiringError(f"{logical_id}: only static gateway response headers and request headers are emulated, not {key}={value}")
        responses[p["ResponseType"]] = GatewayResponseSpec(
            status=int(p["StatusCode"]) if p.get("StatusCode") else None, headers=headers, template=template, echoed=echoed)
    return responses
