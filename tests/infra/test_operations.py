"""Operations: every alarm's metric, threshold and action; the alarm topic; the dashboard;
the WAF per stage; the custom domain with and without a domain in config; the runbook."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from cdk_app.app import build_app
from cdk_app.config import CONFIG_FILE, ROOT
from cdk_app.monitoring import ALARMS
from tests.conftest import cdk_context, untraced
from tests.infra.conftest import only, resources
from tests.infra.test_static_checks import assert_checkov_passes, assert_cfn_lint_passes

ALL_STACKS = ["dev-us-east-1", "staging-us-east-1", "staging-eu-west-1", "prod-us-east-1", "prod-eu-west-1"]


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["AlarmName"]: r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()}


def _topic_ref(template: dict[str, Any]) -> dict[str, str]:
    [logical_id] = resources(template, "AWS::SNS::Topic")
    return {"Ref": logical_id}


def expected_alarms(stage: str, region: str, primary: str, regions: list[str], *, enabled: bool = True) -> set[str]:
    if not enabled:  # monitoring.alarms: false (dev)
        return set()
    p = f"archon-{stage}-{region}"
    names = {f"{p}-api-5xx-rate", f"{p}-api-latency-p99", f"{p}-queue-age", f"{p}-pipe-failures", f"{p}-table-throttles",
             f"{p}-duplicate-rejections"}
    for fn in ("users-api", "notifications"):
        names |= {f"{p}-function-errors-{fn}", f"{p}-function-throttles-{fn}", f"{p}-function-duration-{fn}"}
    names |= {f"{p}-dlq-depth-notifications-dlq", f"{p}-dlq-depth-outbox-dlq"}
    names.add(f"{p}-dlq-depth-alarm-delivery-dlq")  # staging and prod name an alarm email, whose subscription has a DLQ
    names |= {f"{p}-replication-latency-{other}" for other in regions if other != region}
    if region == primary:
        names |= {f"{p}-ses-bounce-rate", f"{p}-ses-complaint-rate"}
    return names


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_each_stack_has_exactly_the_alarms_of_its_stage_and_region(synth, stack):
    stage, region = stack.split("-", 1)
    cfg = synth.stages[stage]
    assert set(alarms(synth.templates[stack])) == expected_alarms(stage, region, cfg.primary_region, list(cfg.aws_regions),
                                                                  enabled=cfg.monitoring.alarms)
    if not cfg.monitoring.alarms:
        assert resources(synth.templates[stack], "AWS::SNS::Topic") == {}  # nor a topic, its key or subscription


ALARMED_STACKS = [s for s in ALL_STACKS if not s.startswith("dev-")]  # dev: monitoring.alarms is false


@pytest.mark.parametrize("stack", ALARMED_STACKS)
def test_every_alarm_notifies_the_topic_on_alarm_and_ok_and_links_its_runbook(synth, stack):
    template = synth.templates[stack]
    topic = _topic_ref(template)
    for name, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        slug = re.search(r"Runbook: docs/operations\.md#([a-z0-9-]+)$", alarm["AlarmDescription"]).group(1)
        assert name.startswith(f"archon-{stack}-{slug}"), name
        spec = ALARMS[slug]
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (spec.periods, spec.breaching), name
        assert spec.why in alarm["AlarmDescription"], name


# slug-or-name suffix -> (namespace, metric, statistic, period, threshold, dimension names)
METRICS = {
    "api-5xx-rate": ("AWS/ApiGateway", "5XXError", "Average", 60, 0.05, {"ApiName", "Stage"}),
    "function-errors-users-api": ("AWS/Lambda", "Errors", "Sum", 300, 3, {"FunctionName"}),
    "function-throttles-notifications": ("AWS/Lambda", "Throttles", "Sum", 300, 1, {"FunctionName"}),
    "function-duration-users-api": ("AWS/Lambda", "Duration", "Maximum", 300, 8000, {"FunctionName"}),  # 80% of 10 s
    "function-duration-notifications": ("AWS/Lambda", "Duration", "Maximum", 300, 24000, {"FunctionName"}),  # 80% of 30 s
    "dlq-depth-notifications-dlq": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 60, 1, {"QueueName"}),
    "dlq-depth-outbox-dlq": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 60, 1, {"QueueName"}),
    "queue-age": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 300, 600, {"QueueName"}),
    "pipe-failures": ("AWS/EventBridge/Pipes", "ExecutionFailed", "Sum", 300, 1, {"PipeName"}),
    "replication-latency-eu-west-1": ("AWS/DynamoDB", "ReplicationLatency", "Average", 300, 60000, {"TableName", "ReceivingRegion"}),
    "ses-bounce-rate": ("AWS/SES", "Reputation.BounceRate", "Maximum", 3600, 0.04, set()),
    "ses-complaint-rate": ("AWS/SES", "Reputation.ComplaintRate", "Maximum", 3600, 0.0008, set()),
}


@pytest.mark.parametrize("suffix", METRICS)
def test_alarm_metric_and_threshold(synth, suffix):
    namespace, metric, statistic, period, threshold, dimensions = METRICS[suffix]
    alarm = alarms(synth.templates["prod-us-east-1"])[f"archon-prod-us-east-1-{suffix}"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (namespace, metric, statistic, period)
    assert alarm["Threshold"] == threshold
    assert {d["Name"] for d in alarm.get("Dimensions", [])} == dimensions


def test_latency_alarm_uses_p99_and_table_throttles_add_reads_and_writes(synth):
    prod = alarms(synth.templates["prod-us-east-1"])
    latency = prod["archon-prod-us-east-1-api-latency-p99"]
    assert (latency["ExtendedStatistic"], latency["Threshold"], latency["MetricName"]) == ("p99", 3000, "Latency")
    throttles = prod["archon-prod-us-east-1-table-throttles"]
    assert throttles["Threshold"] == 10
    metrics = {m["Id"]: m for m in throttles["Metrics"]}
    assert [m["Expression"] for m in metrics.values() if "Expression" in m] == ["reads + writes"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m}
    assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
    for m in metrics.values():
        if "MetricStat" in m:
            assert m["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "TableName", "Value": "users-prod"}]


def test_replication_alarm_watches_the_other_region_from_each_side(synth):
    east = alarms(synth.templates["prod-us-east-1"])["archon-prod-us-east-1-replication-latency-eu-west-1"]
    west = alarms(synth.templates["prod-eu-west-1"])["archon-prod-eu-west-1-replication-latency-us-east-1"]
    assert {"Name": "ReceivingRegion", "Value": "eu-west-1"} in east["Dimensions"]
    assert {"Name": "ReceivingRegion", "Value": "us-east-1"} in west["Dimensions"]


@pytest.mark.parametrize("stack", ALARMED_STACKS)
def test_alarm_topic_is_kms_encrypted_tls_only_and_publishable_by_cloudwatch_only(synth, stack):
    template = synth.templates[stack]
    stage = stack.split("-", 1)[0]
    topic = only(template, "AWS::SNS::Topic", TopicName=f"archon-{stage}-alarms")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    [policy] = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert set(allow["Condition"]) == {"StringEquals", "ArnLike"}
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in key_statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and cloudwatch[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_email_subscription_exactly_when_the_stage_names_an_address(synth, stack):
    stage = stack.split("-", 1)[0]
    subs = list(resources(synth.templates[stack], "AWS::SNS::Subscription").values())
    address = synth.stages[stage].alarm_email
    if address is None:
        assert subs == []
    else:
        [sub] = subs
        assert (sub["Properties"]["Protocol"], sub["Properties"]["Endpoint"]) == ("email", address)
        assert "RedrivePolicy" in sub["Properties"]  # undeliverable alarms wait in a DLQ


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_dashboard_per_stage_and_region_shows_traffic_errors_queues_emails_and_alarms(synth, stack):
    template = synth.templates[stack]
    if not synth.stages[stack.split("-", 1)[0]].monitoring.dashboard:  # dev: monitoring.dashboard is false
        assert resources(template, "AWS::CloudWatch::Dashboard") == {}
        return
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"archon-{stack}"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in ("API requests", "API latency", "5XX", "Queue depth", "Oldest message age", "Welcome emails",
                   "UsersCreated", "WelcomeEmailsSent", "WelcomeEmailsFailed", "DuplicateEmailsRejected",
                   "WelcomeEmailsDeduplicated", "ExecutionFailed"):
        assert needle in body, needle
    # The alarm status widget lists every alarm of the stack.
    for logical_id in resources(template, "AWS::CloudWatch::Alarm"):
        assert f'{{\\"Fn::GetAtt\\": [\\"{logical_id}\\", \\"Arn\\"]}}' in body or logical_id in body, logical_id


def test_custom_metrics_are_dimensioned_by_stage_so_stages_sharing_an_account_do_not_mix(synth):
    """The dashboard selects its stage's metrics; the handlers emit them so dimensioned
    (tests/unit/test_openapi_and_metrics.py)."""
    body = json.dumps(resources(synth.templates["staging-us-east-1"], "AWS::CloudWatch::Dashboard").popitem()[1])
    assert '\\"Archon\\",\\"UsersCreated\\",\\"service\\",\\"users-api\\",\\"stage\\",\\"staging\\"' in body


# --- WAF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_web_acl_on_the_api_stage_exactly_where_the_stage_enables_waf(synth, stack):
    stage = stack.split("-", 1)[0]
    template = synth.templates[stack]
    acls = resources(template, "AWS::WAFv2::WebACL")
    waf = synth.stages[stage].waf
    if not waf.enabled:
        assert acls == {} and resources(template, "AWS::WAFv2::WebACLAssociation") == {}
        return
    [(acl_id, acl)] = acls.items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in props["Rules"]}
    rate = rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (waf.rate_limit, "IP")
    assert rules["rate-limit-per-ip"]["Action"] == {"Block": {}}
    managed = {r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in props["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]}
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"}
    [association] = resources(template, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    [(stage_id, _)] = resources(template, "AWS::ApiGateway::Stage").items()
    [(api_id, _)] = resources(template, "AWS::ApiGateway::RestApi").items()
    arn = json.dumps(association["Properties"]["ResourceArn"])
    assert f'"Ref": "{api_id}"' in arn and f'"Ref": "{stage_id}"' in arn
    [logging] = resources(template, "AWS::WAFv2::LoggingConfiguration").values()
    assert "aws-waf-logs-" in json.dumps(logging["Properties"]["LogDestinationConfigs"])
    assert logging["Properties"]["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}]


# --- Custom domain ---------------------------------------------------------------------------

DOMAINS = {
    "dev": {"name": "api.dev.archon.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "archon.example.com"},
    "prod": {"name": "api.archon.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "archon.example.com"},
}


@pytest.fixture(scope="module")
def with_domains(tmp_path_factory) -> dict[str, Any]:
    """dev (one region) and prod (two regions) synthesised with a domain in config, nag included."""
    data = yaml.safe_load(CONFIG_FILE.read_text())
    del data["stages"]["staging"]
    for stage, domain in DOMAINS.items():
        data["stages"][stage]["domain"] = domain
    tmp = tmp_path_factory.mktemp("domains")
    config = tmp / "stages.yaml"
    config.write_text(yaml.safe_dump(data))
    with untraced():
        app = cdk.App(context=cdk_context(), outdir=str(tmp / "cdk.out"))
        built = build_app(app, config_file=config)
        assembly = app.synth()
    report = json.loads((tmp / "cdk.out" / "validation-report.json").read_text())
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
    templates = {s.node.id: assembly.get_stack_artifact(s.artifact_id).template
                 for s in built}
    return {"outdir": tmp / "cdk.out", **templates}


@pytest.mark.slow
def test_domain_templates_pass_cfn_lint_and_checkov(with_domains):
    templates = sorted(str(p) for p in with_domains["outdir"].rglob("*.template.json"))
    assert len(templates) == 4  # dev, prod x2 and the deploy identity
    assert_cfn_lint_passes(templates)
    assert_checkov_passes(templates)

DOMAIN_TYPES = ("AWS::CertificateManager::Certificate", "AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping",
                "AWS::Route53::RecordSet", "AWS::Route53::HealthCheck")


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_without_a_domain_in_config_no_domain_resources_exist(synth, stack):
    for type_ in DOMAIN_TYPES:
        assert resources(synth.templates[stack], type_) == {}, type_


@pytest.mark.parametrize("stack", ["dev-us-east-1", "prod-us-east-1", "prod-eu-west-1"])
def test_domain_gets_a_dns_validated_certificate_tls12_regional_domain_and_root_mapping(with_domains, stack):
    template = with_domains[stack]
    domain = DOMAINS[stack.split("-", 1)[0]]
    cert = only(template, "AWS::CertificateManager::Certificate", DomainName=domain["name"])
    assert cert["Properties"]["ValidationMethod"] == "DNS"
    assert cert["Properties"]["DomainValidationOptions"] == [{"DomainName": domain["name"], "HostedZoneId": domain["hosted_zone_id"]}]
    [(cert_id, _)] = resources(template, "AWS::CertificateManager::Certificate").items()
    api_domain = only(template, "AWS::ApiGateway::DomainName", DomainName=domain["name"])["Properties"]
    assert api_domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert api_domain["SecurityPolicy"] == "TLS_1_2"
    assert api_domain["RegionalCertificateArn"] == {"Ref": cert_id}
    [mapping] = resources(template, "AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Properties"].get("BasePath", "") == ""  # the API at the domain's root
    [(stage_id, _)] = resources(template, "AWS::ApiGateway::Stage").items()
    assert mapping["Properties"]["Stage"] == {"Ref": stage_id}


def test_single_region_stage_gets_a_plain_alias_record(with_domains):
    template = with_domains["dev-us-east-1"]
    [record] = resources(template, "AWS::Route53::RecordSet").values()
    props = record["Properties"]
    assert (props["Name"], props["Type"], props["HostedZoneId"]) == ("api.dev.archon.example.com.", "A", "Z0123456789ABCDEFGHIJ")
    assert "AliasTarget" in props and "Region" not in props and "HealthCheckId" not in props
    assert resources(template, "AWS::Route53::HealthCheck") == {}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_multi_region_stage_gets_latency_records_with_health_checks_on_the_regions_5xx_alarm(with_domains, region):
    template = with_domains[f"prod-{region}"]
    [record] = resources(template, "AWS::Route53::RecordSet").values()
    props = record["Properties"]
    assert (props["Name"], props["Type"], props["Region"]) == ("api.archon.example.com.", "A", region)
    assert props["SetIdentifier"] == f"archon-prod-{region}"
    [(check_id, check)] = resources(template, "AWS::Route53::HealthCheck").items()
    assert props["HealthCheckId"] == {"Ref": check_id}
    config = check["Properties"]["HealthCheckConfig"]
    assert config["Type"] == "CLOUDWATCH_METRIC"
    assert config["AlarmIdentifier"]["Region"] == region
    assert config["InsufficientDataHealthStatus"] == "LastKnownStatus"
    alarm_ref = config["AlarmIdentifier"]["Name"]
    five_xx = [k for k, v in resources(template, "AWS::CloudWatch::Alarm").items()
               if v["Properties"]["AlarmName"] == f"archon-prod-{region}-api-5xx-rate"]
    assert alarm_ref == {"Ref": five_xx[0]}


# --- Runbook ---------------------------------------------------------------------------------


def test_runbook_has_a_section_for_every_alarm_with_what_it_means_how_to_look_and_what_to_do(synth):
    runbook = (ROOT / "docs" / "operations.md").read_text()
    sections = dict(re.findall(r"^### ([a-z0-9-]+)\n(.*?)(?=^### |^## |\Z)", runbook, flags=re.M | re.S))
    slugs = {re.search(r"#([a-z0-9-]+)$", a["AlarmDescription"]).group(1)
             for t in synth.templates.values() for a in alarms(t).values()}
    assert slugs == set(ALARMS)
    for slug in slugs:
        assert slug in sections, f"docs/operations.md has no '### {slug}' section"
        for part in ("**Means:**", "**Look:**", "**Do:**"):
            assert part in sections[slug], f"{slug}: missing {part}"


def test_runbook_gives_a_dlq_redrive_command(synth):
    runbook = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"## Redriving the notifications DLQ\n.*?```bash\n(.*?)```", runbook, flags=re.S).group(1)
    assert 'aws sqs start-message-move-task --region "$REGION" --source-arn "$DLQ_ARN"' in block
    # The ARN the block builds names the DLQ the stacks really create.
    queue = re.search(r'DLQ_ARN=".*:(\S+?)"', block).group(1).replace("${STAGE}", "prod")
    dlq = only(synth.template("prod"), "AWS::SQS::Queue", QueueName=queue)
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("stack", ["staging-us-east-1", "prod-eu-west-1"])
def test_duplicate_rejections_are_ranked_per_caller_from_the_users_api_log(synth, stack):
    """Contributor Insights counts 409s per caller in the users API's log; the alarm reads the top
    caller's count, so one prober pages however many well-behaved callers there are."""
    template = synth.templates[stack]
    [rule] = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::InsightRule"]
    body = json.loads(rule["RuleBody"]) if isinstance(rule["RuleBody"], str) else rule["RuleBody"]
    stage = stack.split("-")[0]
    assert body["LogGroupNames"] == [f"/aws/lambda/archon-users-api-{stage}"]
    assert body["Contribution"]["Keys"] == ["$.caller"]
    assert {"Match": "$.status", "In": [409]} in body["Contribution"]["Filters"]
    [alarm] = [r["Properties"] for r in template["Resources"].values()
               if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["AlarmName"].endswith("-duplicate-rejections")]
    [expression] = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert expression == f"INSIGHT_RULE_METRIC('{rule['RuleName']}', 'MaxContributorValue')"
    assert "#duplicate-rejections" in alarm["AlarmDescription"]


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_the_audit_logs_are_kept_a_year_and_outlive_the_stack(synth, stack):
    template = synth.templates[stack]
    stage = synth.stages[stack.split("-")[0]]
    groups = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}
    audit = [r for r in groups.values() if r["Properties"].get("LogGroupName") == f"/aws/lambda/archon-users-api-{stage.name}"]
    audit += [r for k, r in groups.items() if k.startswith("ApiAccessLogs")]
    assert len(audit) == 2, list(groups)
    for group in audit:
        assert group["Properties"]["RetentionInDays"] == stage.audit_log_retention_days >= 365
        assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"
    [key] = [r for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key" and k.startswith("LogsKey")]
    assert key["DeletionPolicy"] == "Retain"  # the retained logs stay readable
