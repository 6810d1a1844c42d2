"""ApiUsers, UsersApi, CursorKey, ApiFirewall, CustomDomain and ServiceMonitoring, each on a bare stack."""

from __future__ import annotations

import json

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

from cdk_app.api import UsersApi
from cdk_app.config import ApiConfig, ClientConfig, DomainConfig, FunctionConfig, MonitoringConfig
from cdk_app.cursor_key import CursorKey
from cdk_app.domain import CustomDomain
from cdk_app.edge import ApiFirewall
from cdk_app.functions import ServiceFunction
from cdk_app.identity import ApiUsers
from cdk_app.monitoring import ServiceMonitoring
from cdk_app.naming import StageNames
from tests.constructs.conftest import DEV, PROD, layer, of_type, only
from users import contract

NAMES = StageNames("x")
API = ApiConfig(cors_origins=("https://app.example.com",), throttle_rate_limit=50, throttle_burst_limit=100, creates_per_caller_per_hour=10)


def test_each_machine_client_gets_only_its_scopes_and_the_e2e_secret_only_the_deploy_role_reads(stack):
    s = stack()
    ApiUsers(s, "Identity", names=NAMES, lifecycle=PROD, mfa_required=True,
             clients=[ClientConfig(name="reader", scopes=("read",)), ClientConfig(name="e2e", scopes=("read", "create"))])
    pool = only(s, "AWS::Cognito::UserPool")
    assert pool["Properties"]["UserPoolName"] == "archon-x" and pool["Properties"]["MfaConfiguration"] == "ON"
    clients = {c["Properties"]["ClientName"]: c["Properties"] for c in of_type(s, "AWS::Cognito::UserPoolClient").values()}
    assert clients["archon-x-reader"]["AllowedOAuthFlows"] == ["client_credentials"]
    reader, e2e = (json.dumps(clients[f"archon-x-{c}"]["AllowedOAuthScopes"]) for c in ("reader", "e2e"))
    assert "/read" in reader and "/create" not in reader and "/read" in e2e and "/create" in e2e
    server = only(s, "AWS::Cognito::UserPoolResourceServer")["Properties"]
    assert server["Identifier"] == contract.RESOURCE_SERVER and {sc["ScopeName"] for sc in server["Scopes"]} == set(contract.SCOPES)
    secret = only(s, "AWS::SecretsManager::Secret")["Properties"]
    assert secret["Name"] == NAMES.e2e_secret("us-east-1")
    policy = only(s, "AWS::SecretsManager::ResourcePolicy")["Properties"]["ResourcePolicy"]["Statement"][0]
    assert policy["Effect"] == "Deny" and NAMES.github_role in json.dumps(policy["Condition"])


def test_without_an_e2e_client_there_is_no_secret_and_optional_mfa_is_off_by_default(stack):
    s = stack()
    ApiUsers(s, "Identity", names=NAMES, lifecycle=DEV, mfa_required=False, clients=[ClientConfig(name="reader", scopes=("read",))])
    assert of_type(s, "AWS::SecretsManager::Secret") == {}
    assert only(s, "AWS::Cognito::UserPool")["Properties"]["MfaConfiguration"] == "OPTIONAL"


def test_the_api_checks_each_routes_scope_and_throttles_as_configured(stack):
    s = stack()
    handler = lambda_.Function.from_function_arn(s, "Handler", "arn:aws:lambda:us-east-1:111111111111:function:archon-users-api-x")
    pool = cognito.UserPool.from_user_pool_id(s, "Pool", "us-east-1_abc")
    UsersApi(s, "Api", names=NAMES, lifecycle=DEV, settings=API, handler=handler, user_pool=pool)
    assert only(s, "AWS::ApiGateway::RestApi")["Properties"]["Name"] == NAMES.rest_api
    stage = only(s, "AWS::ApiGateway::Stage")["Properties"]
    assert stage["StageName"] == "x"
    assert stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50 and stage["MethodSettings"][0]["ThrottlingBurstLimit"] == 100
    scopes = {(m["Properties"]["HttpMethod"], tuple(m["Properties"].get("AuthorizationScopes", ())))
              for m in of_type(s, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] != "OPTIONS"}
    assert ("POST", (contract.CREATE_SCOPE,)) in scopes and ("GET", (contract.READ_SCOPE,)) in scopes
    assert all(scope for _, scope in scopes)
    responses = of_type(s, "AWS::ApiGateway::GatewayResponse").values()
    assert responses and all("https://app.example.com" in json.dumps(r) for r in responses)


def test_the_cursor_key_is_made_once_and_replicated_and_each_region_reads_its_replica(stack):
    primary, replica = stack(), stack("eu-west-1")
    for s in (primary, replica):
        reader = iam.Role(s, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        CursorKey(s, "CursorKey", secret_name=NAMES.cursor_key_secret, primary_region="us-east-1", replica_regions=["eu-west-1"],
                  lifecycle=PROD, reader=reader)
    secret = only(primary, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["Name"] == "archon/x/cursor-key" and secret["Properties"]["ReplicaRegions"] == [{"Region": "eu-west-1"}]
    assert secret["DeletionPolicy"] == "Retain"
    assert of_type(replica, "AWS::SecretsManager::Secret") == {}
    assert "secretsmanager:GetSecretValue" in json.dumps(of_type(replica, "AWS::IAM::Policy"))


def test_the_firewall_blocks_an_address_over_the_rate_limit_and_logs_without_tokens(stack):
    s = stack()
    ApiFirewall(s, "Firewall", lifecycle=DEV, name="archon-x-api", rate_limit=500,
                stage_arn="arn:aws:apigateway:us-east-1::/restapis/abc/stages/x")
    acl = only(s, "AWS::WAFv2::WebACL")["Properties"]
    rate = next(r for r in acl["Rules"] if r["Name"] == "rate-limit-per-ip")
    assert acl["Name"] == "archon-x-api" and rate["Statement"]["RateBasedStatement"]["Limit"] == 500
    logging = only(s, "AWS::WAFv2::LoggingConfiguration")["Properties"]
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]
    assert only(s, "AWS::Logs::LogGroup")["Properties"]["LogGroupName"] == "aws-waf-logs-archon-x-api"


def _api(s):
    api = apigw.RestApi(s, "Api")
    api.root.add_method("GET")
    return api


def test_a_domain_of_one_region_is_a_plain_alias(stack):
    s = stack()
    CustomDomain(s, "Domain", names=NAMES, domain=DomainConfig(name="api.example.com", hosted_zone_id="Z1", hosted_zone_name="example.com"),
                 multi_region=False, api=_api(s), health_alarm=None)
    record = only(s, "AWS::Route53::RecordSet")["Properties"]
    assert record["Name"] == "api.example.com." and "SetIdentifier" not in record
    assert only(s, "AWS::ApiGateway::DomainName")["Properties"]["SecurityPolicy"] == "TLS_1_2"


def test_a_domain_of_several_regions_routes_by_latency_to_healthy_regions(stack):
    s = stack("eu-west-1")
    alarm = cloudwatch.Alarm(s, "Health", metric=cloudwatch.Metric(namespace="N", metric_name="M"), threshold=1, evaluation_periods=1)
    CustomDomain(s, "Domain", names=NAMES, domain=DomainConfig(name="api.example.com", hosted_zone_id="Z1", hosted_zone_name="example.com"),
                 multi_region=True, api=_api(s), health_alarm=alarm)
    record = only(s, "AWS::Route53::RecordSet")["Properties"]
    assert record["SetIdentifier"] == "archon-x-eu-west-1" and record["Region"] == "eu-west-1" and "HealthCheckId" in record


def _monitored(s, settings, alarm_email=None):
    sizing, shared = FunctionConfig(memory_mb=256, timeout_seconds=20, snap_start=False), layer(s)
    functions = {name: ServiceFunction(s, name, lifecycle=DEV, name=name, function_name=NAMES.function(name), handler="handlers.x.handler",
                                       sizing=sizing, layer=shared, environment={}, description=name)
                 for name in ("users-api", "notifications")}
    queue = sqs.Queue(s, "Queue")
    return ServiceMonitoring(s, "Monitoring", names=NAMES, lifecycle=DEV, settings=settings, alarm_email=alarm_email,
                             regions=["us-east-1", "eu-west-1"], api=_api(s), functions=functions, queue=queue,
                             dead_letter_queues={"notifications-dlq": sqs.Queue(s, "Dlq")}, pipe_name=NAMES.outbox_pipe)


def test_alarms_notify_an_encrypted_topic_and_the_alarm_email(stack):
    s = stack()
    monitoring = _monitored(s, MonitoringConfig(alarms=True, dashboard=True), alarm_email="oncall@example.com")
    topic = only(s, "AWS::SNS::Topic")["Properties"]
    assert topic["TopicName"] == "archon-x-alarms" and "KmsMasterKeyId" in topic
    assert only(s, "AWS::SNS::Subscription")["Properties"]["Endpoint"] == "oncall@example.com"
    alarms = of_type(s, "AWS::CloudWatch::Alarm")
    assert alarms and all(a["Properties"]["AlarmName"].startswith("archon-x-us-east-1-") for a in alarms.values())
    assert monitoring.api_errors is not None and monitoring.dashboard is not None
    assert set(monitoring.replication) == {"eu-west-1"}


def test_a_stage_may_turn_alarms_and_the_dashboard_off(stack):
    s = stack()
    monitoring = _monitored(s, MonitoringConfig(alarms=False, dashboard=False))
    assert of_type(s, "AWS::CloudWatch::Alarm") == {} and of_type(s, "AWS::SNS::Topic") == {}
    assert monitoring.dashboard is None
