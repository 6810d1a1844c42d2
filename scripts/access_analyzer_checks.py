"""IAM Access Analyzer's checks of a stage's deploy policies as the account holds them, before the
deploy workflow deploys the stage (needs the stage's deploy role's credentials):

- check-no-new-access: each of the stage's execution policies and its boundary, as deployed,
  grants nothing the reviewed code (the deploy identity in cdk.out) does not: a policy widened
  in the console, or an identity stack not redeployed after a change, stops the deploy;
- check-access-not-granted: none of them grants the refused shapes (execution_policy.refused_access):
  IAM user and group policies, removing a boundary, attaching a managed policy, and data or
  changes on another stage's tables, queues, functions, secrets and asset bucket.

    .venv/bin/python scripts/access_analyzer_checks.py STAGE [--assembly cdk.out]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def synthesised_policies(assembly: Path, stage: str, *, account: str, partition: str) -> dict[str, dict[str, Any]]:
    """The stage's boundary and execution policies as the deploy identity in `assembly` states them."""
    from cloud_assembly import resolve, stacks

    found: dict[str, dict[str, Any]] = {}
    if not (assembly / "manifest.json").exists():
        return found
    for artifact in stacks(assembly):
        if not artifact.artifact_id.startswith("archon-deploy-identity-"):
            continue
        for resource in artifact.template["Resources"].values():
            name = resource.get("Properties", {}).get("ManagedPolicyName", "")
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and (
                    name == f"archon-boundary-{stage}" or name.startswith(f"archon-cfn-execution-{stage}-")):
                found[name] = resolve(resource["Properties"]["PolicyDocument"], account=account, partition=partition)
    return found


def run(stage: str, assembly: Path, *, iam: Any, analyzer: Any, account: str, partition: str) -> list[str]:
    """The checks' failures, each a line; empty when every check passes."""
    from cdk_app.config import load_stages
    from cdk_app.execution_policy import refused_access

    stages = load_stages()
    [own] = [s for s in stages if s.name == stage]
    reviewed = synthesised_policies(assembly, stage, account=account, partition=partition)
    if not reviewed:
        return [f"{assembly}: no deploy identity for {stage}: run make synth first"]
    refused = refused_access(own, [s for s in stages if s.name != stage], account=account, partition=partition)
    failures = []
    for name, document in sorted(reviewed.items()):
        arn = f"arn:{partition}:iam::{account}:policy/{name}"
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        deployed = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        deployed_text = deployed if isinstance(deployed, str) else json.dumps(deployed)
        new = analyzer.check_no_new_access(newPolicyDocument=deployed_text, existingPolicyDocument=json.dumps(document),
                                           policyType="IDENTITY_POLICY")
        if new["result"] != "PASS":
            failures.append(f"{name}: the deployed policy grants more than the reviewed one: {new.get('message', '')}; "
                            "redeploy the deploy identity stack with an administrator's credentials")
        for chunk in range(0, len(refused), 100):  # the API takes up to 100 accesses per call
            granted = analyzer.check_access_not_granted(policyDocument=deployed_text, access=refused[chunk:chunk + 100],
                                                        policyType="IDENTITY_POLICY")
            if granted["result"] != "PASS":
                failures.append(f"{name}: grants a refused access: {granted.get('message', '')} "
                                f"{json.dumps(granted.get('reasons', []))[:500]}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage")
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out")
    args = parser.parse_args()
    import boto3

    identity = boto3.client("sts").get_caller_identity()
    account, partition = identity["Account"], identity["Arn"].split(":")[1]
    failures = run(args.stage, args.assembly, iam=boto3.client("iam"), analyzer=boto3.client("accessanalyzer"),
                   account=account, partition=partition)
    for failure in failures:
        print(f"access-analyzer: {failure}", file=sys.stderr)
    if not failures:
        print(f"access-analyzer: {args.stage}'s boundary and execution policies are as reviewed and grant none of the refused accesses")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
