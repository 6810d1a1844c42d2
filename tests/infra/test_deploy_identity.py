"""The deploy identity, one per AWS account: GitHub OIDC, a role only the GitHub environments of
the stages in that account may assume, allowed only to assume their regions' CDK bootstrap
roles, and a least-privilege CloudFormation execution policy that covers every resource type the
stages' templates use. cdk-nag clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from cdk_app.app import build_app
from cdk_app.config import CONFIG_FILE, ConfigError, load_stages
from cloud_assembly import stacks as assembly_stacks
from scripts.cfn_permissions import handler_permissions
from tests.conftest import cdk_context, untraced
from tests.infra.conftest import only, resources

PERMISSIONS = json.loads((Path(__file__).resolve().parents[2] / "cdk_app" / "cfn_permissions.json").read_text())


def config_with_accounts(tmp_path: Path, accounts: dict[str, str], **prod: Any) -> Path:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    data["delivery"]["github_repository"] = "acme/archon"
    for stage, account in accounts.items():
        data["stages"][stage]["account"] = account
    data["stages"]["prod"].pop("shares_account", None)
    data["stages"]["prod"].update(prod)
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def per_account(tmp_path_factory) -> tuple[dict[str, dict], dict[str, dict], dict]:
    """The recommended setup: prod in an account of its own, dev and staging in another."""
    tmp = tmp_path_factory.mktemp("accounts")
    config = config_with_accounts(tmp, {"dev": "111111111111", "staging": "111111111111", "prod": "222222222222"})
    with untraced():
        app = cdk.App(context=cdk_context(), outdir=str(tmp / "cdk.out"))
        stages = build_app(app, config_file=config)
        assembly = app.synth()
    identities = {a.stack_name: a.template for a in assembly.stacks_recursively if a.stack_name.startswith("archon-deploy-identity-")}
    services = {s.node.id: assembly.get_stack_artifact(s.artifact_id).template for s in stages}
    report = json.loads((tmp / "cdk.out" / "validation-report.json").read_text())
    return identities, services, report


def trusted_subjects(template: dict) -> list[str]:
    role = only(template, "AWS::IAM::Role", RoleName="archon-github-deploy")
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert role["Properties"]["MaxSessionDuration"] == 3600 and "ManagedPolicyArns" not in role["Properties"]
    subjects = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    return subjects if isinstance(subjects, list) else [subjects]


@pytest.mark.slow
def test_each_account_gets_its_own_identity_trusting_only_its_stages_environments(per_account):
    identities = per_account[0]
    assert set(identities) == {"archon-deploy-identity-dev-staging", "archon-deploy-identity-prod"}
    assert trusted_subjects(identities["archon-deploy-identity-prod"]) == ["repo:acme/archon:environment:prod"]
    assert trusted_subjects(identities["archon-deploy-identity-dev-staging"]) == [
        "repo:acme/archon:environment:dev", "repo:acme/archon:environment:staging"]


def test_the_oidc_provider_is_githubs_with_the_sts_audience(per_account):
    provider = only(per_account[0]["archon-deploy-identity-prod"], "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_role_may_only_assume_the_bootstrap_roles_of_its_stages_regions(per_account):
    for name, regions in (("archon-deploy-identity-prod", ["eu-west-1", "us-east-1"]),
                          ("archon-deploy-identity-dev-staging", ["eu-west-1", "us-east-1"])):
        [policy] = resources(per_account[0][name], "AWS::IAM::Policy").values()
        assume, describe_stacks, describe_client = policy["Properties"]["PolicyDocument"]["Statement"]
        assert sorted(assume["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        arns = [json.dumps(r) for r in assume["Resource"]]
        assert len(arns) == 4 * len(regions)
        assert all(":role/cdk-hnb659fds-" in a and "*" not in a for a in arns)
        for region in regions:
            assert any(f'-deploy-role-", {{"Ref": "AWS::AccountId"}}, "-{region}"' in a for a in arns), region


def test_after_a_deploy_the_role_reads_its_stages_stack_outputs_and_e2e_client_only(per_account):
    """The smoke test and make e2e in the deploy workflow: describe these stages' stacks, and read
    client secrets of user pools tagged with this service and these stages, nothing else."""
    for name, stages in (("archon-deploy-identity-prod", ["prod"]), ("archon-deploy-identity-dev-staging", ["dev", "staging"])):
        [policy] = resources(per_account[0][name], "AWS::IAM::Policy").values()
        _, describe_stacks, describe_client = policy["Properties"]["PolicyDocument"]["Statement"]
        assert describe_stacks["Action"] == "cloudformation:DescribeStacks"
        stacks = [json.dumps(r) for r in describe_stacks["Resource"]]
        assert stacks and all(any(f":stack/archon-{s}-" in a for s in stages) and a.endswith('/*"]]}') for a in stacks), stacks
        assert describe_client["Action"] == "cognito-idp:DescribeUserPoolClient"
        assert describe_client["Condition"] == {"StringEquals": {"aws:ResourceTag/service": "archon-serverless-api",
                                                                 "aws:ResourceTag/stage": stages}}


def test_the_execution_policy_covers_every_synthesised_resource_and_no_more(per_account):
    identities, services, _ = per_account
    for name, stage_names in (("archon-deploy-identity-prod", ["prod"]), ("archon-deploy-identity-dev-staging", ["dev", "staging"])):
        policies = resources(identities[name], "AWS::IAM::ManagedPolicy").values()
        granted = {a for p in policies for st in p["Properties"]["PolicyDocument"]["Statement"]
                   for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
        types = {r["Type"] for key, t in services.items() if key.split("-")[0] in stage_names for r in t["Resources"].values()}
        needed = {a for t in types for a in PERMISSIONS[t]} | {"ssm:GetParameters"}  # the bootstrap version check
        assert needed <= granted, sorted(needed - granted)
        assert granted == needed  # nothing for resource types these stages do not use
        assert "*" not in granted and not any(a.endswith(":*") for a in granted)
        for policy in policies:
            assert len(json.dumps(policy["Properties"]["PolicyDocument"]).replace(" ", "")) < 6144  # IAM's limit


def test_the_permissions_file_is_the_registrys_for_every_type_in_use(synth):
    types = {r["Type"] for t in synth.templates.values() for r in t["Resources"].values()}
    missing = types - set(PERMISSIONS)
    assert not missing, f"run .venv/bin/python scripts/cfn_permissions.py (missing {sorted(missing)})"
    for resource_type in types:
        assert PERMISSIONS[resource_type] == handler_permissions(resource_type), resource_type


def test_an_unknown_resource_type_stops_the_synth_with_the_fix():
    from cdk_app.deploy_identity import UnknownResourceType, execution_actions

    with pytest.raises(UnknownResourceType, match="AWS::Foo::Bar.*scripts/cfn_permissions.py"):
        execution_actions({"AWS::Foo::Bar"})


def test_deploy_identities_pass_cdk_nag(per_account):
    for plugin in per_account[2]["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]


def test_prod_sharing_an_account_must_be_said_in_config(tmp_path):
    shared = config_with_accounts(tmp_path, {"dev": "111111111111", "prod": "111111111111"})
    with pytest.raises(ConfigError, match=r"stages\.prod\.account: prod shares account 111111111111 with dev; allowed: .*shares_account: true"):
        load_stages(shared)
    unset = config_with_accounts(tmp_path, {})
    with pytest.raises(ConfigError, match="none of them sets account"):
        load_stages(unset)
    accepted = config_with_accounts(tmp_path, {}, shares_account=True)
    assert [s.name for s in load_stages(accepted)] == ["dev", "staging", "prod"]


def test_the_shipped_config_gets_one_identity_for_its_one_account(synth):
    names = [s.artifact_id for s in assembly_stacks(synth.outdir) if s.artifact_id.startswith("archon-deploy-identity")]
    assert names == ["archon-deploy-identity-dev-staging-prod"]


def test_the_app_adds_none_for_a_single_stage():
    app = cdk.App(context=cdk_context())
    build_app(app, only="dev")
    assert [c.node.id for c in app.node.children if isinstance(c, cdk.Stack)] == ["dev-us-east-1"]
