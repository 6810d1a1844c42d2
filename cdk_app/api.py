"""The regional REST API in front of the users API function."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_app.config import ROOT, ApiConfig
from cdk_app.defaults import Lifecycle, log_group
from cdk_app.naming import StageNames
from cdk_app.identity import scope_name
from cdk_app.checks import acknowledge
from users import contract

CONTRACT = ROOT / "docs" / "openapi.json"
# What a JSON Schema draft-4 request model takes of the contract's schema (API Gateway's models
# are draft 4: no examples, no format "email"). Not the patterns: API Gateway's message for a
# pattern is the regex itself, where the function names the field and the rule in words.
_MODEL_KEYWORDS = contract.BODY_MODEL_KEYWORDS


def new_user_model() -> apigw.JsonSchema:
    """POST /users's request model, from the contract (docs/openapi.json, generated from the
    function's own model): the body's shape and lengths, checked before the function runs. The
    function checks the rest, the contract's patterns included (trimming, email syntax, format
    characters), and names the field at fault."""
    schema = json.loads(CONTRACT.read_text())["components"]["schemas"]["NewUser"]
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4,
        title="NewUser",
        type=apigw.JsonSchemaType.OBJECT,
        required=schema["required"],
        additional_properties=schema.get("additionalProperties", True),
        properties={
            name: apigw.JsonSchema(
                type=apigw.JsonSchemaType[prop["type"].upper()], min_length=prop.get("minLength"),
                max_length=prop.get("maxLength"))
            for name, prop in schema["properties"].items() if set(prop) & set(_MODEL_KEYWORDS)
        },
    )


# Errors API Gateway answers itself, in the service's error contract (the function's ErrorResponse).
_ERROR_TEMPLATE = (
    '{"error": {"code": "%s", "message": %s, "details": %s}, '
    '"request_id": "$context.requestId"}'
)
# A gateway response template is not VTL: API Gateway only substitutes variables, unescaped. Its
# validation text ($context.error.validationErrorString) quotes the values it refuses, so embedded
# in a JSON string it would make the body invalid JSON that echoes the caller's input: the details
# say what to send instead, in Archon's words. ($context.error.messageString is the one variable
# API Gateway documents as a quoted JSON string.)
GATEWAY_DETAILS: dict[str, str] = {
    "BAD_REQUEST_BODY": json.dumps([{"issue": contract.BODY_MODEL_ISSUE}]),
    "BAD_REQUEST_PARAMETERS": '[{"issue": "a required request parameter is missing or empty"}]',
}


# On every answer API Gateway makes itself, as the function sets them on its own.
GATEWAY_HEADERS = {"Cache-Control": "'no-store'", "X-Content-Type-Options": "'nosniff'"}


def gateway_cors_headers(origins: list[str]) -> dict[str, str]:
    """CORS on what API Gateway answers itself. With one origin configured, that origin is named.
    A gateway response cannot choose among several (its headers are static or a request's value),
    so with more it echoes the caller's: a request carrying a token needs the preflight, which
    admits configured origins only, and what another origin could read is an error body without
    user data (credentials are never allowed)."""
    allowed = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.Origin"
    return {"Access-Control-Allow-Origin": allowed, "Access-Control-Expose-Headers": "'Location,Retry-After'", "Vary": "'Origin'"}


GATEWAY_ERRORS: dict[str, tuple[str, str]] = {
    # response type: (status, code)
    "UNAUTHORIZED": ("401", "unauthorized"),
    "ACCESS_DENIED": ("403", "forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),  # API Gateway's answer to an unknown route or method
    "BAD_REQUEST_BODY": ("400", "validation_error"),
    "BAD_REQUEST_PARAMETERS": ("400", "validation_error"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
    "THROTTLED": ("429", "throttled"),
    "QUOTA_EXCEEDED": ("429", "throttled"),
    "DEFAULT_4XX": ("", "request_error"),
    "DEFAULT_5XX": ("", "internal_error"),
}
# API Gateway's own message where it would mislead: for an unknown route it says "Missing
# Authentication Token", even to a caller whose token is fine.
GATEWAY_MESSAGES: dict[str, str] = {
    "MISSING_AUTHENTICATION_TOKEN": "No such route or method.",
    "ACCESS_DENIED": "The token does not carry the scope this route needs.",
}

# One JSON line per request: who called (the token's subject; for a machine client, its client
# id) and what came of it. No names, emails or tokens: API Gateway logs none of these fields.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "caller": "$context.authorizer.claims.sub",
    "clientId": "$context.authorizer.claims.client_id",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",  # the request's own path: which user a GET /users/{user_id} read
    "status": "$context.status",
    "error": "$context.error.responseType",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "protocol": "$context.protocol",
}


class UsersApi(Construct):
    """The REST API (its stage named as the stage is), with `settings`' throttling and CORS
    origins, authorising with `user_pool` and integrating `handler`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: StageNames,
        lifecycle: Lifecycle,
        settings: ApiConfig,
        handler: lambda_.IFunction,
        user_pool: cognito.IUserPool,
    ) -> None:
        super().__init__(scope, id)
        access_logs = log_group(self, "AccessLogs", lifecycle=lifecycle, audit=True)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=names.rest_api,
            description="Archon users service",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            disable_execute_api_endpoint=False,
            cloud_watch_role=False,  # its own below, narrower than AWS's managed policy
            deploy_options=apigw.StageOptions(
                stage_name=names.stage,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log request bodies, i.e. names and emails
                tracing_enabled=True,
                metrics_enabled=True,
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                max_age=Duration.minutes(10),
            ),
        )
        self._logging_role()
        for response_type, (status, code) in GATEWAY_ERRORS.items():
            fixed = GATEWAY_MESSAGES.get(response_type)
            message = json.dumps(fixed) if fixed else "$context.error.messageString"
            self.api.add_gateway_response(
                f"Gateway{response_type.title().replace('_', '')}",
                type=apigw.ResponseType.of(response_type),
                status_code=status or None,
                response_headers={**GATEWAY_HEADERS, **(gateway_cors_headers(list(settings.cors_origins)) if settings.cors_origins else {})},
                templates={"application/json": _ERROR_TEMPLATE % (code, message, GATEWAY_DETAILS.get(response_type, "[]"))},
            )

        authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[user_pool], authorizer_name=names.prefixed("users")
        )
        # Scopes make API Gateway take access tokens (not ID tokens) and check the route's scope:
        # a valid token without it is ACCESS_DENIED (403).
        def secured(scope: str) -> dict[str, Any]:
            return {"authorizer": authorizer, "authorization_type": apigw.AuthorizationType.COGNITO,
                    "authorization_scopes": [scope_name(scope)]}

        integration = apigw.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
        body_validator = self.api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        params_validator = self.api.add_request_validator(
            "ParamsValidator", validate_request_body=False, validate_request_parameters=True
        )
        new_user = self.api.add_model("NewUserModel", content_type="application/json", model_name="NewUser", schema=new_user_model())

        users = self.api.root.add_resource("users")
        users.add_method(
            "POST",
            integration,
            request_validator=body_validator,
            request_models={"application/json": new_user},
            request_parameters={"method.request.header.Idempotency-Key": False},
            **secured("create"),
        )
        users.add_method(
            "GET",
            integration,
            request_validator=params_validator,
            request_parameters={"method.request.querystring.limit": False, "method.request.querystring.cursor": False},
            **secured("read"),
        )
        users.add_resource("{user_id}").add_method(
            "GET",
            integration,
            request_validator=params_validator,
            request_parameters={"method.request.path.user_id": True},
            **secured("read"),
        )
        # The CORS preflight is a MOCK answer of API Gateway's own: it carries the headers every
        # other answer carries (CDK's preflight options take none but CORS's).
        for method in self.api.methods:
            if method.http_method == "OPTIONS":
                cfn_method: apigw.CfnMethod = method.node.default_child  # type: ignore[assignment]
                for header, value in GATEWAY_HEADERS.items():
                    escaped = f"method\\.response\\.header\\.{header}"
                    cfn_method.add_property_override(f"Integration.IntegrationResponses.0.ResponseParameters.{escaped}", value)
                    cfn_method.add_property_override(f"MethodResponses.0.ResponseParameters.{escaped}", True)
        # The integrations' invoke permissions name the API's execution ARN; the account too, so
        # that no other account's API could ever use them (AWS Control Tower's Lambda control).
        account = Stack.of(self).account
        for permission in self.api.node.find_all():
            if isinstance(permission, lambda_.CfnPermission):
                permission.add_property_override("SourceAccount", account)
                if Token.is_unresolved(account):  # a stage without an account id in config
                    acknowledge(
                        permission, "cdk-validator-cfnguard::lambda_function_public_access_prohibited_check",
                        "SourceAccount is this stack's own account and SourceArn this API's execute-api ARN, both "
                        "written as CloudFormation references (the stage's config names no account id), which the "
                        "control does not read; with an account id in config it reads them and passes.",
                    )
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the users API").override_logical_id("ApiUrl")

    def _logging_role(self) -> None:
        """API Gateway's account-level CloudWatch role, which execution and access logging need.
        AWS's managed policy for it may also read every log group of every region; this one may
        only create and write log groups in this account and region. The setting is shared by
        every REST API there, so the groups cannot be named; kept on delete for the same reason."""
        stack = Stack.of(self)
        role = iam.Role(self, "CloudWatchRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                        description="API Gateway writes execution and access logs (this account and region)")
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[stack.format_arn(service="logs", resource="log-group", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME)],
        ))
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        # As cdk-nag prints them: a token where the value is not known at synth time.
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition
        account_id = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:{partition}:logs:{stack.region}:{account_id}:log-group:*]",
            "API Gateway's account-level logging role serves every REST API in this account and region, whose log "
            "groups cannot be named here; it may only create and write log groups, in this account and region only.",
        )
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        self.api.deployment_stage.node.add_dependency(account)
