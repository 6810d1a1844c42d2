"""cdk-nag (AwsSolutions + Serverless) and AWS Control Tower's proactive controls (cfn-guard) on
every stage: zero unacknowledged findings, and every acknowledgement scoped to one construct,
naming one finding, with a reason."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from cdk_app.checks import acknowledge, apply_checks
from tests.conftest import cdk_context, untraced


def test_every_pack_ran_with_zero_unacknowledged_findings(synth):
    reports = {r["pluginName"]: r for r in synth.validation_report["pluginReports"]}
    assert set(reports) == {"AwsSolutions", "Serverless", "cdk-validator-cfnguard"}
    for name, report in reports.items():
        assert report["violations"] == [], name
        assert report["conclusion"] == "success", name


def test_every_acknowledgement_is_scoped_and_reasoned(synth):
    suppressed = [s for r in synth.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    assert suppressed, "expected the documented acknowledgements"
    identity = "archon-deploy-identity-dev-staging-prod"
    for s in suppressed:
        assert s["acknowledgedId"].split("::", 1)[1] == s["ruleName"], s["acknowledgedId"]
        assert len(s["reason"]) >= 40, s["acknowledgedId"]
        # Acknowledged on a construct inside the stack, never on a stage or stack as a whole.
        path = s["acknowledgedAt"].split("/")
        assert path[0] in (*synth.templates, identity) and len(path) >= 2, s["acknowledgedAt"]
        assert len(s["violatingConstructs"]) == 1, s["acknowledgedAt"]


def _per_stack(synth, plugins: set[str]) -> dict[str, list[str]]:
    per_stack: dict[str, list[str]] = {}
    for report in synth.validation_report["pluginReports"]:
        if report["pluginName"] in plugins:
            for s in report["suppressedViolations"]:
                per_stack.setdefault(s["acknowledgedAt"].split("/")[0], []).append(s["ruleName"])
    return per_stack


def test_acknowledgement_counts_per_stage(synth):
    """The known list: a new acknowledgement must be added here on purpose."""
    per_stack = _per_stack(synth, {"AwsSolutions", "Serverless"})
    base = 10  # X-Ray x2, Lambda DLQ x2, outbox DLQ x2 + its ListStreams, queue DLQ, ESM destination, APIGW logging role's log groups
    alarm_dlq = 2  # the alarm email subscription's DLQ: no DLQ of its own (SQS3, SQSRedrivePolicy)
    e2e_secret = 1  # the e2e client's secret mirrors Cognito's, not rotated by Secrets Manager (SMG4)
    cursor_key = 1  # rotated by hand, keeping the previous key (SMG4); made in the primary region's stack
    assert len(per_stack["dev-us-east-1"]) == base + e2e_secret + cursor_key + 1 + 1  # + no WAF by config (APIG3) + COG2 (dev MFA optional)
    assert len(per_stack["prod-us-east-1"]) == base + e2e_secret + cursor_key + alarm_dlq
    assert len(per_stack["prod-eu-west-1"]) == base + e2e_secret + alarm_dlq + 3  # + CDK's describeTable provider (DLQ, memory, tracing)


def test_control_tower_acknowledgement_counts_per_stage(synth):
    """The controls that do not fit, per stage; the rest are met (tests below)."""
    per_stack = _per_stack(synth, {"cdk-validator-cfnguard"})
    base = 2 + 3 + 1  # functions outside a VPC; the API's invoke permissions (no account id in config); the outbox DLQ
    logs = 2  # log groups kept the stage's retention: the processor's and the Pipe's (the audit logs keep a year)
    assert sorted(per_stack["dev-us-east-1"]) == sorted(
        ["lambda_inside_vpc_check"] * 2 + ["lambda_function_public_access_prohibited_check"] * 3 + ["sqs_dlq_check"]
        + ["cloudwatch_log_group_retention_period_check"] * logs)  # dev keeps logs 14 days
    assert len(per_stack["staging-us-east-1"]) == base + 1 + logs + 1  # + the alarm DLQ; + WAF's log group, 30 days
    assert len(per_stack["prod-us-east-1"]) == base + 1  # prod keeps logs a year
    assert len(per_stack["prod-eu-west-1"]) == base + 1 + 1  # + CDK's describeTable provider outside a VPC


def test_the_control_tower_controls_that_fit_are_met(synth):
    from tests.infra.conftest import resources

    for name, template in synth.templates.items():
        for logical_id, group in resources(template, "AWS::Logs::LogGroup").items():
            assert "KmsKeyId" in group["Properties"], (name, logical_id)
        for logical_id, key in resources(template, "AWS::KMS::Key").items():
            statements = key["Properties"]["KeyPolicy"]["Statement"]
            assert any(st["Effect"] == "Deny" and st["Action"] == "kms:CreateGrant" and st["Condition"] == {"BoolIfExists": {
                "kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}} for st in statements), (name, logical_id)
        for logical_id, permission in resources(template, "AWS::Lambda::Permission").items():
            assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}, (name, logical_id)
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items():
            props = queue["Properties"]
            assert "RedrivePolicy" in props or "RedriveAllowPolicy" in props, (name, logical_id)


def test_apig3_is_resolved_by_a_web_acl_where_the_stage_enables_waf(synth):
    """Stages with waf.enabled pass APIG3 on their own; only dev (waf disabled) acknowledges it."""
    suppressed = [s for r in synth.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    apig3 = sorted({s["acknowledgedAt"].split("/")[0] for s in suppressed if s["ruleName"] == "AwsSolutions-APIG3"})
    assert apig3 == ["dev-us-east-1"]


def _synth_with_broken_queue(acknowledged: bool) -> None:
    app = cdk.App(context=cdk_context())
    stack = cdk.Stack(app, "Broken", env=cdk.Environment(region="us-east-1"))
    dlq = sqs.Queue(stack, "Dlq", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
    queue = sqs.Queue(  # no TLS-only policy
        stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=dlq),
    )
    acknowledge(dlq, "Serverless::Serverless-SQSRedrivePolicy", "this is a dead-letter queue in a test fixture")
    acknowledge(dlq, "cdk-validator-cfnguard::sqs_dlq_check", "this is a dead-letter queue in a test fixture")
    if acknowledged:
        acknowledge(queue, "AwsSolutions::AwsSolutions-SQS4", "test: proves an acknowledgement silences exactly this finding")
    apply_checks(app)
    app.synth()


def test_a_queue_without_the_tls_policy_is_reported():
    with pytest.raises(Exception) as failure:
        _synth_with_broken_queue(acknowledged=False)
    assert "AwsSolutions-SQS4" in str(failure.value)
    assert "Broken/Plain" in str(failure.value)


def test_the_acknowledged_broken_queue_synthesises():
    _synth_with_broken_queue(acknowledged=True)


def test_an_acknowledgement_needs_a_reason():
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(stack, "AwsSolutions::AwsSolutions-SQS4", "because")


def test_a_control_tower_finding_is_unacknowledged_until_acknowledged(tmp_path):
    """The plugin lets some controls report without failing the synth; app.py fails it on any
    finding left unacknowledged."""
    from aws_cdk import aws_logs as logs

    from cdk_app.checks import unacknowledged

    def synth(acknowledged: bool) -> list[str]:
        out = tmp_path / str(acknowledged)
        app = cdk.App(context=cdk_context(), outdir=str(out))
        stack = cdk.Stack(app, "Logs", env=cdk.Environment(region="us-east-1"))
        group = logs.LogGroup(stack, "Short", retention=logs.RetentionDays.ONE_WEEK)
        acknowledge(group, "cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check", "test: only the retention control is under test here")
        if acknowledged:
            acknowledge(group, "cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check", "test: proves the acknowledgement silences it")
        apply_checks(app)
        app.synth()
        return unacknowledged(out)

    assert synth(acknowledged=False) == ["cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check at Logs/Short/Resource"]
    assert synth(acknowledged=True) == []


def test_cdk_synth_fails_on_an_unacknowledged_finding(tmp_path, capsys):
    """What app.py does after every synth: exit 1 with each finding named."""
    from cdk_app.checks import fail_on_unacknowledged

    (tmp_path / "validation-report.json").write_text(__import__("json").dumps({"pluginReports": [
        {"pluginName": "cdk-validator-cfnguard", "violations": [{"ruleName": "sqs_dlq_check", "violatingConstructs": [{"constructPath": "S/Q/Resource"}]}]}]}))
    with pytest.raises(SystemExit) as exited:
        fail_on_unacknowledged(tmp_path)
    assert exited.value.code == 1
    assert "cdk-validator-cfnguard::sqs_dlq_check at S/Q/Resource" in capsys.readouterr().err
    (tmp_path / "validation-report.json").write_text('{"pluginReports": [{"pluginName": "x", "violations": []}]}')
    fail_on_unacknowledged(tmp_path)  # nothing left: no exit


def test_every_control_tower_rule_that_names_a_synthesised_resource_type_runs(synth):
    """The plugin gets the bundled rules that name a resource type of the app (the others can only
    skip), chosen from the constructs before synth: they must cover every type in every template."""
    import json

    from cdk_app.app import build_app
    from cdk_app.checks import bundled_control_tower_rules, control_tower_rules, resource_types

    synthesised = {r["Type"] for path in synth.outdir.glob("*.template.json") for r in json.loads(path.read_text())["Resources"].values()}
    app = cdk.App(context=cdk_context())
    with untraced():
        build_app(app)
    chosen = set(control_tower_rules(resource_types(app)))
    bundled = bundled_control_tower_rules()
    needed = {rule for rule, types in bundled.items() if types & synthesised}
    assert needed and needed <= chosen, sorted(str(r) for r in needed - chosen)
    assert len(chosen) < len(bundled)


def test_the_app_synthesises_without_cdk_jsons_feature_flags(tmp_path):
    """`python app.py` run directly gets none of cdk.json's context: partitions and accounts are
    then tokens, and every acknowledgement must still name its finding as cdk-nag prints it."""
    from cdk_app.app import build_app
    from cdk_app.checks import unacknowledged

    with untraced():
        app = cdk.App(outdir=str(tmp_path))
        build_app(app, only="dev")
        app.synth()
    assert unacknowledged(tmp_path) == []
