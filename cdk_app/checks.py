"""The checks every synth runs: cdk-nag's AwsSolutions and Serverless packs and AWS Control
Tower's proactive controls (cfn-guard, through cdklabs' policy-validation plugin, offline).

All of them report through CDK validation, so an unacknowledged finding fails `cdk synth`.
Acknowledgements go through `acknowledge`, on one construct, naming the exact finding, with a
reason; they sit beside the construct they excuse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator
from constructs import IConstruct

GUARD = "cdk-validator-cfnguard"  # the plugin's name in findings: cdk-validator-cfnguard::<rule>


def apply_checks(scope: IConstruct) -> None:
    # The cfn-guard plugin is written to CDK's beta policy-validation interface; CDK validation
    # runs it all the same (its findings appear in the report and are acknowledged alike).
    guard: Any = CfnGuardValidator(control_tower_rules_enabled=True)
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), ServerlessChecks(scope), guard)


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledges one finding (e.g. 'AwsSolutions::AwsSolutions-IAM5[Resource::*]' or
    'cdk-validator-cfnguard::lambda_inside_vpc_check') on one construct."""
    if len(reason) < 20:
        raise ValueError(f"acknowledgement of {finding} needs a reason a reviewer would accept")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def unacknowledged(assembly_dir: str | Path) -> list[str]:
    """Findings the synth reported and nobody acknowledged, as plugin::rule at construct path.
    Some controls report without failing the synth; app.py fails it on any of them."""
    report = Path(assembly_dir) / "validation-report.json"
    if not report.exists():
        return []
    return [f"{plugin['pluginName']}::{violation['ruleName']} at {resource.get('constructPath', '?')}"
            for plugin in json.loads(report.read_text()).get("pluginReports", [])
            for violation in plugin.get("violations", [])
            for resource in violation.get("violatingConstructs", violation.get("violatingResources", [{}]))]


def fail_on_unacknowledged(assembly_dir: str | Path) -> None:
    """Exits 1, naming each finding, when any is left unacknowledged."""
    findings = unacknowledged(assembly_dir)
    if findings:
        print(f"error: {len(findings)} finding(s) of the synth's checks are not acknowledged (cdk_app/checks.py):", file=sys.stderr)
        for finding in findings:
            print(f"  {finding}", file=sys.stderr)
        sys.exit(1)
