"""The deploy identity stack: GitHub OIDC, a role only this repository's environments may assume,
allowed only to assume the CDK bootstrap roles; cdk-nag clean."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest

from cdk_app.config import load_raw, load_stages
from cdk_app.deploy_identity import DeployIdentityStack
from cdk_app.nag import apply_nag
from tests.conftest import cdk_context
from tests.infra.conftest import only, resources


@pytest.fixture(scope="module")
def identity(tmp_path_factory) -> tuple[dict, dict]:
    outdir = tmp_path_factory.mktemp("identity")
    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    stack = DeployIdentityStack(app, "DeployIdentity", repository="acme/archon", stages=load_stages())
    apply_nag(app)
    assembly = app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    return assembly.get_stack_artifact(stack.artifact_id).template, report


def test_oidc_provider_is_githubs_with_the_sts_audience(identity):
    provider = only(identity[0], "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_only_this_repositorys_stage_environments_may_assume_the_role(identity):
    role = only(identity[0], "AWS::IAM::Role", RoleName="archon-github-deploy")
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [
            "repo:acme/archon:environment:dev", "repo:acme/archon:environment:staging", "repo:acme/archon:environment:prod"],
    }}
    assert role["Properties"]["MaxSessionDuration"] == 3600
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_role_may_only_assume_the_cdk_bootstrap_roles_of_the_configured_regions(identity):
    [policy] = resources(identity[0], "AWS::IAM::Policy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    arns = [json.dumps(r) for r in statement["Resource"]]
    assert len(arns) == 4 * 2  # deploy, file-publishing, image-publishing, lookup x us-east-1, eu-west-1
    assert all(":role/cdk-hnb659fds-" in a and "*" not in a for a in arns)
    for region in ("us-east-1", "eu-west-1"):
        assert any(f'-deploy-role-", {{"Ref": "AWS::AccountId"}}, "-{region}"' in a for a in arns), region


def test_deploy_identity_passes_cdk_nag(identity):
    for plugin in identity[1]["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]


def test_the_app_adds_it_once_from_config_and_never_for_a_single_stage():
    from cdk_app.app import build_app

    assert load_raw()["delivery"]["github_repository"]
    app = cdk.App(context=cdk_context())
    build_app(app, only="dev")
    assert app.node.try_find_child("DeployIdentity") is None
