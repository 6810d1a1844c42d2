"""The checks every synth runs: cdk-nag's AwsSolutions and Serverless packs and AWS Control
Tower's proactive controls (cfn-guard, through cdklabs' policy-validation plugin, offline).

All of them report through CDK validation, so an unacknowledged finding fails `cdk synth`.
Acknowledgements go through `acknowledge`, on one construct, naming the exact finding, with a
reason; they sit beside the construct they excuse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator
from constructs import IConstruct

RULES_CACHE = Path(__file__).resolve().parent.parent / "build" / "cfn-guard-rules"
_RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")


def apply_checks(scope: IConstruct) -> None:
    # The cfn-guard plugin is written to CDK's beta policy-validation interface; CDK validation
    # runs it all the same (its findings appear in the report and are acknowledged alike).
    rules = control_tower_rules(resource_types(scope))
    guard: Any = CfnGuardValidator(control_tower_rules_enabled=False, rules=[str(r) for r in rules])
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), ServerlessChecks(scope), guard)


def resource_types(scope: IConstruct) -> set[str]:
    return {c.cfn_resource_type for c in scope.node.find_all() if isinstance(c, cdk.CfnResource)}


def control_tower_rules(types: set[str]) -> list[Path]:
    """The plugin's own Control Tower rule files that name one of these resource types. Each rule
    selects resources by type and skips a template without them, so the rest can only skip; and
    cfn-guard's time grows with rules times templates (every rule on every template of the app)."""
    return sorted(rule for rule, names in bundled_control_tower_rules().items() if names & types)


def bundled_control_tower_rules() -> dict[Path, set[str]]:
    """Each Control Tower rule file bundled with the installed plugin, unpacked once per plugin
    version under build/, with the resource types it names."""
    import cdklabs.cdk_validator_cfnguard as plugin

    [bundle] = (Path(plugin.__file__).parent / "_jsii").glob("*.jsii.tgz")
    rules = RULES_CACHE / bundle.name.removesuffix(".jsii.tgz")
    if not rules.exists():
        RULES_CACHE.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(dir=RULES_CACHE))
        with tarfile.open(bundle) as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.startswith("package/rules/control-tower/cfn-guard/")]
            archive.extractall(unpacked, members=members, filter="data")
        try:
            os.rename(unpacked / "package" / "rules" / "control-tower" / "cfn-guard", rules)  # atomic: concurrent synths race here
        except OSError:
            if not rules.exists():
                raise
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
    return {rule: set(_RESOURCE_TYPE.findall(rule.read_text())) for rule in rules.rglob("*.guard")}


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
