"""cdk-nag (AwsSolutions + Serverless) on every stage: zero unacknowledged findings, and every
acknowledgement scoped to one construct, naming one finding, with a reason."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from cdk_app.nag import acknowledge, apply_nag
from tests.conftest import cdk_context


def test_both_packs_ran_with_zero_unacknowledged_findings(synth):
    reports = {r["pluginName"]: r for r in synth.validation_report["pluginReports"]}
    assert set(reports) == {"AwsSolutions", "Serverless"}
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


def test_acknowledgement_counts_per_stage(synth):
    """The known list: a new acknowledgement must be added here on purpose."""
    suppressed = [s for r in synth.validation_report["pluginReports"] for s in r["suppressedViolations"]]
    per_stack: dict[str, list[str]] = {}
    for s in suppressed:
        per_stack.setdefault(s["acknowledgedAt"].split("/")[0], []).append(s["ruleName"])
    base = 10  # X-Ray x2, Lambda DLQ x2, outbox DLQ x2 + its ListStreams, queue DLQ, ESM destination, APIGW logging role's log groups
    alarm_dlq = 2  # the alarm email subscription's DLQ: no DLQ of its own (SQS3, SQSRedrivePolicy)
    assert len(per_stack["dev-us-east-1"]) == base + 1 + 1  # + no WAF by config (APIG3) + COG2 (dev MFA optional)
    assert len(per_stack["prod-us-east-1"]) == base + alarm_dlq
    assert len(per_stack["prod-eu-west-1"]) == base + alarm_dlq + 3  # + CDK's describeTable provider (DLQ, memory, tracing)


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
    if acknowledged:
        acknowledge(queue, "AwsSolutions::AwsSolutions-SQS4", "test: proves an acknowledgement silences exactly this finding")
    apply_nag(app)
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
