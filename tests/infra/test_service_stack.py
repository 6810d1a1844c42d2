"""Fine-grained assertions on the synthesised templates: what each (stage, region) gets."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Capture, Match

from tests.infra.conftest import only, resources
from users import contract

STAGES = ["dev", "prod"]


@pytest.mark.parametrize("stage", STAGES)
def test_users_table_is_a_global_table_with_a_replica_per_region(synth, stage):
    cfg = synth.stages[stage]
    t = synth.assertions(stage)
    replicas = Capture()
    t.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "TableName": f"users-{stage}",
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": contract.PARTITION_KEY, "KeyType": "HASH"}],
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "TimeToLiveSpecification": {"AttributeName": contract.TTL_ATTRIBUTE, "Enabled": True},
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": contract.LIST_INDEX,
                        "KeySchema": [
                            {"AttributeName": contract.LIST_INDEX_PARTITION, "KeyType": "HASH"},
                            {"AttributeName": contract.LIST_INDEX_SORT, "KeyType": "RANGE"},
                        ],
                    }
                )
            ],
            "Replicas": replicas,
        },
    )
    assert sorted(r["Region"] for r in replicas.as_array()) == sorted(cfg.aws_regions)
    for replica in replicas.as_array():
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replica["DeletionProtectionEnabled"] is cfg.retain_data


@pytest.mark.parametrize("stage", STAGES)
def test_the_table_is_the_one_the_unit_tests_emulate(synth, stage):
    """The unit and adapter tests build their table from the shared contract (tests/aws_tables.py),
    not from a synth: every stage's table must be that one."""
    from dataclasses import replace

    from local_runner.wiring import load_wiring
    from tests.aws_tables import contract_table_spec

    table = load_wiring(synth.outdir, stage).table
    expected = contract_table_spec(table.name)
    assert replace(table, logical_id=expected.logical_id) == expected


def test_prod_keeps_its_data_and_dev_tears_down(synth):
    for stage, policy in (("prod", "Retain"), ("dev", "Delete")):
        template = synth.template(stage)
        for type_ in ("AWS::DynamoDB::GlobalTable", "AWS::Cognito::UserPool", "AWS::Logs::LogGroup"):
            for logical_id, res in resources(template, type_).items():
                audit = logical_id.startswith(("UsersApiLogs", "ApiAccessLogs"))  # kept in every stage
                assert res.get("DeletionPolicy") == ("Retain" if audit else policy), f"{stage} {logical_id}"
        pool = only(template, "AWS::Cognito::UserPool")
        assert pool["Properties"].get("DeletionProtection") == ("ACTIVE" if stage == "prod" else "INACTIVE")


def test_replica_region_stack_uses_the_local_replica_and_owns_no_table(synth):
    template = synth.template("prod", "eu-west-1")
    assert not resources(template, "AWS::DynamoDB::GlobalTable")
    pipe = only(template, "AWS::Pipes::Pipe")
    source = pipe["Properties"]["Source"]["Fn::GetAtt"]
    assert source[0].startswith("DataReplicaStream") and source[1] == "Table.LatestStreamArn"
    lookup = template["Resources"][source[0]]
    assert lookup["Type"] == "Custom::AWS"
    pattern = json.loads(pipe["Properties"]["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern["dynamodb"]["NewImage"]["region"] == {"S": ["eu-west-1"]}


@pytest.mark.parametrize("stage", STAGES)
def test_queue_and_dlq(synth, stage):
    cfg = synth.stages[stage]
    template = synth.template(stage)
    t = synth.assertions(stage)
    dlq = only(template, "AWS::SQS::Queue", QueueName=f"notifications-{stage}-dlq")
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    queue = only(template, "AWS::SQS::Queue", QueueName=f"notifications-{stage}")
    props = queue["Properties"]
    assert props["MessageRetentionPeriod"] == 1209600  # 14 days, as originally designed
    assert props["VisibilityTimeout"] >= 6 * cfg.notifications.timeout_seconds
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"]["maxReceiveCount"] == 5
    assert props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][1] == "Arn"
    # Every queue denies access without TLS.
    for logical_id in resources(template, "AWS::SQS::Queue"):
        t.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": logical_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Action": "sqs:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )


@pytest.mark.parametrize("stage", STAGES)
def test_outbox_pipe_forwards_only_this_regions_user_inserts_as_the_welcome_message(synth, stage):
    cfg = synth.stages[stage]
    template = synth.template(stage)
    pipe = only(template, "AWS::Pipes::Pipe")["Properties"]
    stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
    assert stream["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("OutboxDeadLetterQueue")
    assert stream["StartingPosition"] == "TRIM_HORIZON"
    pattern = json.loads(pipe["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {contract.LIST_INDEX_PARTITION: {"S": ["user"]}, "region": {"S": [cfg.primary_region]}}},
    }
    assert pipe["Target"]["Fn::GetAtt"][0].startswith("NotificationsQueue")
    template_text = pipe["TargetParameters"]["InputTemplate"]
    assert template_text == (
        f'{{"type": "{contract.WELCOME_MESSAGE_TYPE}", "user_id": "<$.dynamodb.NewImage.user_id.S>", '
        '"email": "<$.dynamodb.NewImage.email.S>"}'
    )


@pytest.mark.parametrize("stage", STAGES)
def test_functions_runtime_architecture_tracing_logs(synth, stage):
    cfg = synth.stages[stage]
    template = synth.template(stage)
    expected = {
        f"archon-users-api-{stage}": ("handlers.users_api.handler", cfg.users_api),
        f"archon-notifications-{stage}": ("handlers.notifications.handler", cfg.notifications),
    }
    for name, (handler, sizing) in expected.items():
        fn = only(template, "AWS::Lambda::Function", FunctionName=name)["Properties"]
        assert fn["Runtime"] == "python3.14"
        assert fn["Architectures"] == ["arm64"]
        assert fn["TracingConfig"] == {"Mode": "Active"}
        assert fn["Handler"] == handler
        assert fn["MemorySize"] == sizing.memory_mb
        assert fn["Timeout"] == sizing.timeout_seconds
        assert len(fn["Layers"]) == 1
        log_group_ref = fn["LoggingConfig"]["LogGroup"]["Ref"]
        group = template["Resources"][log_group_ref]
        assert group["Properties"]["LogGroupName"] == f"/aws/lambda/{name}"
        audit = name.startswith("archon-users-api-")  # the audit trail's log: a year or more, whatever the stage
        assert group["Properties"]["RetentionInDays"] == (cfg.audit_log_retention_days if audit else cfg.log_retention_days)
    roles = {only(template, "AWS::Lambda::Function", FunctionName=n)["Properties"]["Role"]["Fn::GetAtt"][0] for n in expected}
    assert len(roles) == 2, "each function has a role of its own"


@pytest.mark.parametrize("stage", STAGES)
def test_processor_event_source(synth, stage):
    synth.assertions(stage).has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": Match.any_value(),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("^NotificationsQueue"), "Arn"]},
        },
    )
    esm = only(synth.template(stage), "AWS::Lambda::EventSourceMapping")["Properties"]
    assert esm["MaximumBatchingWindowInSeconds"] > 0


@pytest.mark.parametrize("stage", STAGES)
def test_processor_environment_names_sender_and_table(synth, stage):
    cfg = synth.stages[stage]
    fn = only(synth.template(stage), "AWS::Lambda::Function", FunctionName=f"archon-notifications-{stage}")
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[contract.ENV_SENDER_ADDRESS] == cfg.sender
    assert env[contract.ENV_TABLE_NAME] == f"users-{stage}"
    assert int(env[contract.ENV_DELIVERY_LEASE_SECONDS]) > cfg.notifications.timeout_seconds


@pytest.mark.parametrize("stage", STAGES)
def test_api_is_regional_with_a_cognito_authorizer_on_every_method(synth, stage):
    template = synth.template(stage)
    api = only(template, "AWS::ApiGateway::RestApi")["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    authorizer = only(template, "AWS::ApiGateway::Authorizer")["Properties"]
    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    methods = resources(template, "AWS::ApiGateway::Method")
    business = {k: m for k, m in methods.items() if m["Properties"]["HttpMethod"] != "OPTIONS"}
    assert len(business) == 3  # POST /users, GET /users, GET /users/{user_id}
    for logical_id, method in business.items():
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS", logical_id
        assert "AuthorizerId" in method["Properties"], logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_post_users_has_a_request_validator_and_json_schema_model(synth, stage):
    template = synth.template(stage)
    post = only(template, "AWS::ApiGateway::Method", HttpMethod="POST")["Properties"]
    validator = template["Resources"][post["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestBody"] is True
    model = template["Resources"][post["RequestModels"]["application/json"]["Ref"]]["Properties"]
    schema = model["Schema"]
    assert schema["required"] == ["name", "email"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["name"]["maxLength"] == 100


@pytest.mark.parametrize("stage", STAGES)
def test_api_stage_throttling_logging_tracing(synth, stage):
    cfg = synth.stages[stage]
    api_stage = only(synth.template(stage), "AWS::ApiGateway::Stage")["Properties"]
    settings = api_stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == cfg.api.throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == cfg.api.throttle_burst_limit
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    assert api_stage["TracingEnabled"] is True
    fmt = json.loads(api_stage["AccessLogSetting"]["Format"])
    assert fmt["requestId"] == "$context.requestId"


@pytest.mark.parametrize("stage", STAGES)
def test_cors_comes_from_config_and_is_never_a_wildcard(synth, stage):
    cfg = synth.stages[stage]
    template = synth.template(stage)
    text = json.dumps([m for m in resources(template, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "OPTIONS"])
    for origin in cfg.api.cors_origins:
        assert origin in text
    assert "'*'" not in text
    # A gateway response names prod's one origin. It cannot pick among dev's two, so there it
    # repeats the caller's (the preflight above holds token-carrying requests to the configured ones).
    allowed = {"dev": "method.request.header.Origin", "prod": "'https://app.archon.example.com'"}[stage]
    for response in resources(template, "AWS::ApiGateway::GatewayResponse").values():
        headers = response["Properties"].get("ResponseParameters", {})
        assert headers.get("gatewayresponse.header.Access-Control-Allow-Origin") == allowed
        assert headers.get("gatewayresponse.header.Vary") == "'Origin'"
        assert headers.get("gatewayresponse.header.Access-Control-Expose-Headers") == "'Location,Retry-After'"


def test_gateway_errors_follow_the_error_contract(synth):
    template = synth.template("dev")
    responses = {r["Properties"]["ResponseType"]: r["Properties"] for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()}
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert '"message": "No such route or method."' in responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
    body = responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]
    assert '"code": "unauthorized"' in body and '"request_id": "$context.requestId"' in body
    for kind in ("BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS"):  # Archon's words: the validator's text is not embeddable
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert '"details": [{"issue": "' in template and "validationErrorString" not in template


def test_every_answer_api_gateway_makes_itself_is_kept_by_no_cache_and_never_sniffed(synth):
    for stack, template in synth.templates.items():
        responses = resources(template, "AWS::ApiGateway::GatewayResponse").values()
        assert responses, stack
        for response in responses:
            headers = response["Properties"].get("ResponseParameters", {})
            kind = (stack, response["Properties"]["ResponseType"])
            assert headers.get("gatewayresponse.header.Cache-Control") == "'no-store'", kind
            assert headers.get("gatewayresponse.header.X-Content-Type-Options") == "'nosniff'", kind


@pytest.mark.parametrize("stage", STAGES)
def test_api_url_is_a_stack_output(synth, stage):
    outputs = synth.template(stage)["Outputs"]
    assert "ApiUrl" in outputs  # the name the README and scripts/smoke.sh use


def test_mfa_follows_config(synth):
    assert only(synth.template("prod"), "AWS::Cognito::UserPool")["Properties"]["MfaConfiguration"] == "ON"
    assert only(synth.template("dev"), "AWS::Cognito::UserPool")["Properties"]["MfaConfiguration"] == "OPTIONAL"
    pool = only(synth.template("prod"), "AWS::Cognito::UserPool")["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_every_stage_and_region_is_synthesised(synth):
    expected = {f"{s.name}-{r}" for s in synth.stages.values() for r in s.aws_regions}
    assert set(synth.templates) == expected
    for name, template in synth.templates.items():
        assert only(template, "AWS::Lambda::Function", FunctionName=f"archon-users-api-{name.split('-')[0]}")


def _references(value, logical_id: str) -> bool:
    return logical_id in json.dumps(value)


def test_snap_start_functions_are_invoked_through_an_alias_on_a_published_version(synth):
    """Snapshots exist only for published versions: with SnapStart, API Gateway and the event source
    invoke the alias, never $LATEST (which would initialise from scratch on every cold start)."""
    for stage in ("staging", "prod"):
        assert synth.stages[stage].users_api.snap_start and not synth.stages[stage].notifications.snap_start
    assert not synth.stages["dev"].users_api.snap_start, "dev keeps no snapshots (each is billed while it exists)"
    for stack, template in synth.templates.items():
        stage = synth.stages[stack.split("-")[0]]
        callers = {**resources(template, "AWS::ApiGateway::Method"), **resources(template, "AWS::Lambda::EventSourceMapping"),
                   **resources(template, "AWS::Lambda::Permission")}
        for name, sizing in ((f"archon-users-api-{stage.name}", stage.users_api), (f"archon-notifications-{stage.name}", stage.notifications)):
            [(function_id, function)] = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items()
                                         if v["Properties"].get("FunctionName") == name]
            aliases = {k: v for k, v in resources(template, "AWS::Lambda::Alias").items()
                       if v["Properties"]["FunctionName"] == {"Ref": function_id}}
            invokers = [k for k, v in callers.items() if _references(v, function_id) or any(_references(v, a) for a in aliases)]
            assert invokers, f"{stack}: nothing invokes {name}"
            if not sizing.snap_start:
                assert "SnapStart" not in function["Properties"] and not aliases, f"{stack}: {name}"
                continue
            assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
            [(version_id, version)] = [(k, v) for k, v in resources(template, "AWS::Lambda::Version").items()
                                       if v["Properties"]["FunctionName"] == {"Ref": function_id}]
            assert version["DeletionPolicy"] == "Delete", "a replaced version's snapshot stays billed until the version goes"
            [(alias_id, alias)] = aliases.items()
            assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
            assert [k for k in invokers if not _references(callers[k], alias_id)] == [], f"{stack}: these invoke $LATEST of {name}"
