"""Writes cdk_app/cfn_permissions.json: for every resource type the app synthesises, the IAM
actions CloudFormation's own handlers for that type need (create, read, update, delete, list), as
the CloudFormation registry's resource schemas state them. cfn-lint ships those schemas; the
deploy identity builds each account's least-privilege CloudFormation execution policy from this
file (cdk_app/deploy_identity.py), so `cdk synth` needs neither cfn-lint nor the registry.

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

    sys.path.insert(0, str(ROOT))
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


def main() -> int:
    sys.path.insert(0, str(ROOT))  # run as a script: scripts/ is first on the path, not the project
    from scripts.generated_file import write_or_check

    return write_or_check(OUTPUT, generate(), ".venv/bin/python scripts/cfn_permissions.py")


if __name__ == "__main__":
    sys.exit(main())
