"""Edge protection: a regional WAF web ACL on the API stage, with logging."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_app.defaults import Lifecycle, log_group
from cdk_app.ids import staged_unique_id

# AWS managed rule groups, in evaluation order after the rate limit.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",  # known bots and malicious sources
    "AWSManagedRulesKnownBadInputsRuleSet",  # exploit payloads (Log4j, ...)
    "AWSManagedRulesCommonRuleSet",  # OWASP-style common attacks
)


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


class ApiFirewall(Construct):
    """A web ACL (managed rule groups + a per-IP rate limit from config) on one API stage."""

    def __init__(self, scope: Construct, id: str, *, lifecycle: Lifecycle, name: str, rate_limit: int, stage_arn: str) -> None:
        """The web ACL `name` on the API stage `stage_arn`, blocking an IP address over
        `rate_limit` requests in 5 minutes."""
        super().__init__(scope, id)
        stack = Stack.of(self)
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="rate-limit-per-ip",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=_visibility(f"{name}-rate-limit"),
            )
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group
                        )
                    ),
                    visibility_config=_visibility(f"{name}-{group}"),
                )
            )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="REGIONAL",
            description=f"Archon {lifecycle.stage}: managed rule groups and a per-IP rate limit",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(name),
            rules=rules,
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        # WAF requires the log group's name to start with aws-waf-logs-.
        log_group_name = f"aws-waf-logs-{name}"
        self.logs = log_group(self, "Logs", lifecycle=lifecycle, name=log_group_name)
        # WAF wants the group's ARN without the ":*" that LogGroup.log_group_arn carries.
        log_group_arn = stack.format_arn(
            service="logs", resource="log-group", resource_name=log_group_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        # Stated here rather than left to WAF to add on first delivery: only this group, only
        # for log deliveries from this account.
        # Named as CDK named it while the stacks sat in a Stage: a new name would replace it.
        delivery = logs.ResourcePolicy(self, "LogDelivery", resource_policy_name=staged_unique_id(self, "LogDelivery"))
        delivery.document.add_statements(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{log_group_arn}:log-stream:*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="logs", resource="*")},
                },
            )
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            # Tokens never reach the logs.
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})],
        )
        self.logging.node.add_dependency(self.logs, delivery)
