"""Synthesised IAM policies as AWS would hold them once deployed, and their evaluation by
@cloud-copilot/iam-simulate (tools/iam_simulate.mjs): no matcher of our own decides a test."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

import cloud_assembly
from cdk_app.config import ROOT

ACCOUNT = "111111111111"
PARTITION = "aws"


def resolve(value: Any, *, refs: dict[str, Any], region: str = "us-east-1", account: str = ACCOUNT) -> Any:
    """The value as a deploy into `account` would have it (cloud_assembly.resolve)."""
    return cloud_assembly.resolve(value, account=account, partition=PARTITION, region=region, refs=refs)


def managed_policies(template: dict[str, Any], **kwargs: Any) -> dict[str, dict[str, Any]]:
    """The template's managed policies by name, resolved."""
    return {r["Properties"]["ManagedPolicyName"]: resolve(r["Properties"]["PolicyDocument"], refs={}, **kwargs)
            for r in template["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"}


@dataclass
class Request:
    action: str
    resource: str
    context: dict[str, str | list[str]] = field(default_factory=dict)
    principal: str = f"arn:aws:iam::{ACCOUNT}:role/cdk-principal"
    account: str = ACCOUNT


def default_key_policy(account: str = ACCOUNT) -> dict[str, Any]:
    """The key policy CDK gives every key (the account's IAM policies decide), which KMS requires
    before an identity policy counts."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}


def simulate(requests: list[Request], *, identity: list[dict[str, Any]], boundary: list[dict[str, Any]] | None = None,
             resource_policy: dict[str, Any] | None = None) -> list[str]:
    """Each request's decision: Allowed, ImplicitlyDenied or ExplicitlyDenied."""
    simulations = [{
        "request": {"principal": r.principal, "action": r.action, "resource": {"resource": r.resource, "accountId": r.account},
                    "contextVariables": r.context},
        "identityPolicies": [{"name": f"p{i}", "policy": p} for i, p in enumerate(identity)],
        **({"permissionBoundaryPolicies": [{"name": f"b{i}", "policy": p} for i, p in enumerate(boundary)]} if boundary else {}),
        **({"resourcePolicy": resource_policy} if resource_policy else
           {"resourcePolicy": default_key_policy(r.account)} if r.action.startswith("kms:") else {}),
    } for r in requests]
    node = ROOT / ".tools" / "node" / "bin" / "node"
    result = subprocess.run([str(node), str(ROOT / "tools" / "iam_simulate.mjs")], input=json.dumps(simulations),
                            capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    decisions: list[str] = json.loads(result.stdout)
    errors = [f"{r.action} on {r.resource}: {d}" for r, d in zip(requests, decisions) if d.startswith("error")]
    assert not errors, errors
    return decisions
