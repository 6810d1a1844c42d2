"""The deploy path, read from the synthesised templates in both account layouts (one account per
stage group, and every stage in one account) and evaluated by IAM's rules (iam-simulate, through
tests/infra/iam.py), never by a matcher of ours:

- a stage's execution policy cannot escalate: no role without the stage's boundary, no boundary
  removed, no managed policy attached, no role passed but the stage's, to the stage's services;
  nothing changed or read that is not the stage's own (by name, or by tag);
- only main's deploy workflow in the stage's environment may assume the stage's GitHub role, which
  reaches only its own qualifier's bootstrap roles and its own e2e secret;
- cloudsplaining finds no privilege-escalation path in any of the policies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from cdk_app.app import build_app
from cdk_app.config import CONFIG_FILE, ConfigError, load_stages
from cdk_app.deploy_identity import DELIVERY_CLAIMS, github_subject
from cdk_app.execution_policy import report_markdown
from cloud_assembly import stacks as assembly_stacks
from scripts.cfn_permissions import handler_permissions
from tests.conftest import cdk_context, untraced
from tests.infra.conftest import only, resources
from tests.infra.iam import ACCOUNT, Request, managed_policies, resolve, simulate

PERMISSIONS = json.loads((Path(__file__).resolve().parents[2] / "cdk_app" / "cfn_permissions.json").read_text())
OTHER_ACCOUNT = "222222222222"
TAGS = {"service": "archon-serverless-api"}


def config_with_accounts(tmp_path: Path, accounts: dict[str, str], **prod: Any) -> Path:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    data["delivery"].update(github_repository="acme/archon", github_repository_id="4242")
    for stage, account in accounts.items():
        data["stages"][stage]["account"] = account
    data["stages"]["prod"].pop("shares_account", None)
    data["stages"]["prod"].update(prod)
    path = tmp_path / "stages.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _synth(tmp: Path, config: Path) -> tuple[dict[str, dict], dict[str, dict], dict]:
    with untraced():
        app = cdk.App(context=cdk_context(), outdir=str(tmp / "cdk.out"))
        stages = build_app(app, config_file=config)
        assembly = app.synth()
    identities = {a.stack_name: a.template for a in assembly.stacks_recursively if a.stack_name.startswith("archon-deploy-identity-")}
    services = {s.node.id: assembly.get_stack_artifact(s.artifact_id).template for s in stages}
    report = json.loads((tmp / "cdk.out" / "validation-report.json").read_text())
    return identities, services, report


@pytest.fixture(scope="module")
def per_account(tmp_path_factory) -> tuple[dict[str, dict], dict[str, dict], dict]:
    """The recommended setup: prod in an account of its own, dev and staging in another."""
    tmp = tmp_path_factory.mktemp("accounts")
    return _synth(tmp, config_with_accounts(tmp, {"dev": ACCOUNT, "staging": ACCOUNT, "prod": OTHER_ACCOUNT}))


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[dict[str, dict], dict[str, dict], dict]:
    """Every stage in one account, as the shipped config has it."""
    tmp = tmp_path_factory.mktemp("shared")
    return _synth(tmp, config_with_accounts(tmp, {}, shares_account=True))


LAYOUTS = ("per_account", "shared")


def identity_of(layout: tuple, stage: str) -> dict:
    [template] = [t for name, t in layout[0].items() if stage in name.removeprefix("archon-deploy-identity-").split("-")]
    return template


def policies(layout: tuple, stage: str, kind: str, account: str = ACCOUNT) -> list[dict]:
    return [p for name, p in managed_policies(identity_of(layout, stage), account=account).items()
            if name.startswith(f"archon-{kind}-{stage}")]


def role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def boundary(account: str, stage: str) -> str:
    return f"arn:aws:iam::{account}:policy/archon-boundary-{stage}"


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_execution_policy_cannot_escalate_or_touch_what_is_not_its_stages(layout, request):
    synthesised = request.getfixturevalue(layout)
    for stage in ("dev", "prod"):
        account = OTHER_ACCOUNT if (layout == "per_account" and stage == "prod") else ACCOUNT
        other = "prod" if stage == "dev" else "dev"
        own_role = role(account, f"archon-{stage}-us-east-1-UsersApiRole-1AB2C3")
        arn = lambda service, rest: f"arn:aws:{service}:us-east-1:{account}:{rest}"  # noqa: E731
        own_tags = {f"aws:ResourceTag/{k}": v for k, v in {**TAGS, "stage": stage}.items()}
        other_tags = {f"aws:ResourceTag/{k}": v for k, v in {**TAGS, "stage": other}.items()}
        refused = [
            Request("iam:CreateRole", own_role),  # no boundary
            Request("iam:CreateRole", own_role, {"iam:PermissionsBoundary": boundary(account, other)}),
            Request("iam:CreateRole", role(account, "admin"), {"iam:PermissionsBoundary": boundary(account, stage)}),
            Request("iam:AttachRolePolicy", own_role, {"iam:PermissionsBoundary": boundary(account, stage),
                                                       "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            Request("iam:PutRolePolicy", role(account, "admin"), {"iam:PermissionsBoundary": boundary(account, stage)}),
            Request("iam:PutRolePolicy", own_role),  # a role without the boundary
            Request("iam:DeleteRolePermissionsBoundary", own_role, {"iam:PermissionsBoundary": boundary(account, stage)}),
            Request("iam:PutRolePermissionsBoundary", own_role, {"iam:PermissionsBoundary": f"arn:aws:iam::{account}:policy/open"}),
            Request("iam:UpdateAssumeRolePolicy", role(account, "admin")),
            Request("iam:PutUserPolicy", f"arn:aws:iam::{account}:user/alice"),
            Request("iam:PutUserPolicy", f"arn:aws:iam::{account}:user/alice", own_tags),  # a user the stage never creates
            Request("iam:PutGroupPolicy", f"arn:aws:iam::{account}:group/admins", own_tags),
            Request("iam:CreateUser", f"arn:aws:iam::{account}:user/alice"),
            Request("iam:PutGroupPolicy", f"arn:aws:iam::{account}:group/admins"),
            Request("iam:CreatePolicyVersion", boundary(account, stage)),
            Request("iam:PassRole", role(account, "admin"), {"iam:PassedToService": "lambda.amazonaws.com"}),
            Request("iam:PassRole", own_role, {"iam:PassedToService": "ec2.amazonaws.com"}),
            Request("kms:PutKeyPolicy", arn("kms", "key/0f1e2d3c")),
            Request("kms:ScheduleKeyDeletion", arn("kms", "key/0f1e2d3c"), other_tags),
            Request("s3:PutBucketPolicy", "arn:aws:s3:::someone-elses-bucket"),
            Request("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/secret.txt"),
            Request("lambda:UpdateFunctionCode", arn("lambda", "function:payroll")),
            Request("lambda:UpdateFunctionCode", arn("lambda", f"function:archon-users-api-{other}")),
            Request("dynamodb:Scan", arn("dynamodb", "table/payroll")),
            Request("dynamodb:DeleteItem", arn("dynamodb", f"table/users-{other}")),
            Request("dynamodb:DeleteTable", arn("dynamodb", f"table/users-{other}")),
            Request("logs:DeleteLogGroup", arn("logs", "log-group:/aws/lambda/payroll")),
            Request("sqs:SetQueueAttributes", arn("sqs", f"notifications-{other}")),
            Request("cognito-idp:DescribeUserPoolClient", arn("cognito-idp", "userpool/us-east-1_abc")),
            Request("cognito-idp:DeleteUserPool", arn("cognito-idp", "userpool/us-east-1_abc"), other_tags),
            Request("secretsmanager:GetSecretValue", arn("secretsmanager", f"secret:archon/{other}/us-east-1/e2e-client-AbCdEf")),
            Request("apigateway:DELETE", f"arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/{other}", other_tags),
            Request("wafv2:DeleteWebACL", arn("wafv2", f"regional/webacl/archon-{other}-api/1234")),
            Request("pipes:DeletePipe", arn("pipes", f"pipe/archon-outbox-{other}")),
        ]
        allowed = [  # the same shapes on the stage's own resources: the policy still deploys the stage
            Request("iam:CreateRole", own_role, {"iam:PermissionsBoundary": boundary(account, stage)}),
            Request("iam:PutRolePolicy", own_role, {"iam:PermissionsBoundary": boundary(account, stage)}),
            Request("iam:PassRole", own_role, {"iam:PassedToService": "lambda.amazonaws.com"}),
            Request("kms:CreateKey", "*"),
            Request("kms:PutKeyPolicy", arn("kms", "key/0f1e2d3c"), own_tags),
            Request("lambda:UpdateFunctionCode", arn("lambda", f"function:archon-users-api-{stage}")),
            Request("dynamodb:CreateTable", arn("dynamodb", f"table/users-{stage}")),
            Request("sqs:SetQueueAttributes", arn("sqs", f"notifications-{stage}")),
            Request("cognito-idp:DeleteUserPool", arn("cognito-idp", "userpool/us-east-1_abc"), own_tags),
            Request("apigateway:PATCH", "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/x", own_tags),
            Request("secretsmanager:CreateSecret", arn("secretsmanager", f"secret:archon/{stage}/us-east-1/e2e-client-AbCdEf")),
            Request("s3:GetObject", f"arn:aws:s3:::cdk-arc{stage}-assets-{account}-us-east-1/asset.zip"),
        ]
        identity = policies(synthesised, stage, "cfn-execution", account)
        decisions = simulate(refused + allowed, identity=identity)
        wrong = [f"{stage}: {r.action} {r.resource} {r.context}: {d}" for r, d in zip(refused + allowed, decisions)
                 if (d == "Allowed") != (r in allowed)]
        assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_role_of_a_stage_carries_its_boundary_which_caps_it_to_the_stage(layout, request):
    identities, services, _ = request.getfixturevalue(layout)
    for key, template in services.items():
        stage = key.split("-")[0]
        for logical_id, resource in resources(template, "AWS::IAM::Role").items():
            account = OTHER_ACCOUNT if (layout == "per_account" and stage == "prod") else ACCOUNT
            assert resolve(resource["Properties"]["PermissionsBoundary"], refs={}) == boundary(account, stage), logical_id
            assert "ManagedPolicyArns" not in resource["Properties"], logical_id  # nothing to attach (AttachRolePolicy is refused)
            trusted = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
            assert trusted in ("lambda.amazonaws.com", "pipes.amazonaws.com", "apigateway.amazonaws.com"), (logical_id, trusted)
    layout_ = request.getfixturevalue(layout)
    caps = policies(layout_, "dev", "boundary")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    function = role(ACCOUNT, "archon-dev-us-east-1-UsersApiRole-1AB2C3")
    cases = [
        (Request("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/users-dev", principal=function), "Allowed"),
        (Request("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:notifications-dev", principal=function), "Allowed"),
        (Request("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/users-prod", principal=function), "ImplicitlyDenied"),
        (Request("iam:CreateRole", role(ACCOUNT, "escape"), principal=function), "ImplicitlyDenied"),
        (Request("iam:DeleteRolePermissionsBoundary", function, principal=function), "ExplicitlyDenied"),
        (Request("s3:GetObject", "arn:aws:s3:::any/thing", principal=function), "ImplicitlyDenied"),
    ]
    assert simulate([c for c, _ in cases], identity=[everything], boundary=caps) == [d for _, d in cases]


def github_role(template: dict, stage: str) -> dict:
    return only(template, "AWS::IAM::Role", RoleName=f"archon-github-deploy-{stage}")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_only_mains_deploy_workflow_in_the_stages_environment_may_assume_its_role(layout, request):
    synthesised = request.getfixturevalue(layout)
    for stage in ("dev", "staging", "prod"):
        [statement] = github_role(identity_of(synthesised, stage), stage)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"] == {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repository_id:4242:environment:{stage}:ref:refs/heads/main:"
                "job_workflow_ref:acme/archon/.github/workflows/deploy-stage.yml@refs/heads/main")}}
    assert github_subject(repository="acme/archon", repository_id="4242", stage="dev").split(":")[::2][:4] == list(DELIVERY_CLAIMS)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_stages_github_role_reaches_only_its_own_bootstrap_roles_and_secret(layout, request):
    synthesised = request.getfixturevalue(layout)
    for stage, other in (("dev", "prod"), ("prod", "staging")):
        account = OTHER_ACCOUNT if (layout == "per_account" and stage == "prod") else ACCOUNT
        template = identity_of(synthesised, stage)
        refs = {k: f"arn:aws:iam::{account}:policy/{r['Properties']['ManagedPolicyName']}"
                for k, r in resources(template, "AWS::IAM::ManagedPolicy").items()}
        role_id = next(k for k, v in resources(template, "AWS::IAM::Role").items()
                       if v["Properties"].get("RoleName") == f"archon-github-deploy-{stage}")
        [policy] = [resolve(p["Properties"]["PolicyDocument"], refs=refs, account=account)
                    for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
        cdk_role = lambda q, kind, region: role(account, f"cdk-{q}-{kind}-role-{account}-{region}")  # noqa: E731
        cases = [
            (Request("sts:AssumeRole", cdk_role(f"arc{stage}", "deploy", "us-east-1")), "Allowed"),
            (Request("sts:AssumeRole", cdk_role(f"arc{other}", "deploy", "us-east-1")), "ImplicitlyDenied"),
            (Request("sts:AssumeRole", cdk_role("hnb659fds", "deploy", "us-east-1")), "ImplicitlyDenied"),
            (Request("secretsmanager:GetSecretValue",
                     f"arn:aws:secretsmanager:us-east-1:{account}:secret:archon/{stage}/us-east-1/e2e-client-AbCdEf"), "Allowed"),
            (Request("secretsmanager:GetSecretValue",
                     f"arn:aws:secretsmanager:us-east-1:{account}:secret:archon/{other}/us-east-1/e2e-client-AbCdEf"), "ImplicitlyDenied"),
            (Request("secretsmanager:GetSecretValue",  # the users API's cursor key is not the deploy's to read
                     f"arn:aws:secretsmanager:us-east-1:{account}:secret:archon/{stage}/cursor-key-AbCdEf"), "ImplicitlyDenied"),
            (Request("cognito-idp:DescribeUserPoolClient", f"arn:aws:cognito-idp:us-east-1:{account}:userpool/us-east-1_abc",
                     {"aws:ResourceTag/service": TAGS["service"], "aws:ResourceTag/stage": stage}), "ImplicitlyDenied"),
            (Request("cloudformation:DescribeStacks",
                     f"arn:aws:cloudformation:us-east-1:{account}:stack/archon-{other}-us-east-1/abc"), "ImplicitlyDenied"),
        ]
        decisions = simulate([c for c, _ in cases], identity=[policy])
        assert decisions == [d for _, d in cases], list(zip([c.resource for c, _ in cases], decisions))


def test_the_e2e_secret_is_readable_by_the_stages_deploy_role_only(synth):
    template = synth.template("staging")
    [secret_policy] = resources(template, "AWS::SecretsManager::ResourcePolicy").values()
    document = resolve(secret_policy["Properties"]["ResourcePolicy"], refs={}, account=ACCOUNT)
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:archon/staging/us-east-1/e2e-client-AbCdEf"
    read = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    own, other = role(ACCOUNT, "archon-github-deploy-staging"), role(ACCOUNT, "archon-github-deploy-dev")
    decisions = simulate([Request("secretsmanager:GetSecretValue", secret, {"aws:PrincipalArn": own}, principal=own),
                          Request("secretsmanager:GetSecretValue", secret, {"aws:PrincipalArn": other}, principal=other)],
                         identity=[read], resource_policy=document)
    assert decisions == ["Allowed", "ExplicitlyDenied"]
    [secret_resource] = [r for r in resources(template, "AWS::SecretsManager::Secret").values()
                         if r["Properties"]["Name"].endswith("/e2e-client")]
    assert secret_resource["Properties"]["Name"] == "archon/staging/us-east-1/e2e-client"
    assert list(secret_resource["Properties"]["SecretString"]["Fn::GetAtt"])[1] == "ClientSecret"
    assert template["Outputs"]["E2eClientSecretArn"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cloudsplaining_finds_no_privilege_escalation_in_any_policy(layout, request):
    from cloudsplaining.scan.policy_document import PolicyDocument

    identities, services, _ = request.getfixturevalue(layout)
    documents: dict[str, dict] = {}
    for name, template in identities.items():
        documents.update({f"{name}/{k}": v for k, v in managed_policies(template).items()})
        documents.update({f"{name}/{k}": resolve(r["Properties"]["PolicyDocument"], refs={}) for k, r in
                          resources(template, "AWS::IAM::Policy").items()})
    for name, template in services.items():
        documents.update({f"{name}/{k}": resolve(r["Properties"]["PolicyDocument"], refs={}) for k, r in
                          resources(template, "AWS::IAM::Policy").items()})
    assert len(documents) > 20
    found = {name: PolicyDocument(doc).allows_privilege_escalation for name, doc in documents.items()}
    assert not {name: f for name, f in found.items() if f}


def test_a_shared_account_gets_one_qualifier_per_stage(synth):
    for key, template in synth.templates.items():
        stage = key.split("-")[0]
        assert template["Parameters"]["BootstrapVersion"]["Default"] == f"/cdk-bootstrap/arc{stage}/version"
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    for key in synth.templates:
        stage = key.split("-")[0]
        properties = manifest["artifacts"][key]["properties"]
        assert f"cdk-arc{stage}-deploy-role-" in properties["assumeRoleArn"]
        assert f"cdk-arc{stage}-cfn-exec-role-" in properties["cloudFormationExecutionRoleArn"]


def test_what_stays_at_star_is_generated_with_its_reason(synth):
    """docs/execution-policy.md is written from the code (scripts/execution_policy_doc.py)."""
    from scripts.execution_policy_doc import render

    assert (Path(__file__).resolve().parents[2] / "docs" / "execution-policy.md").read_text() == render(), \
        "stale: run .venv/bin/python scripts/execution_policy_doc.py"
    assert "| `kms:CreateKey` | takes no resource ARN" in report_markdown(synth.stages["dev"], PERMISSIONS["AWS::KMS::Key"])


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


def test_deploy_identities_pass_cdk_nag_and_fit_iams_size_limit(per_account):
    for plugin in per_account[2]["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
    for template in per_account[0].values():
        for policy in resources(template, "AWS::IAM::ManagedPolicy").values():
            document = resolve(policy["Properties"]["PolicyDocument"], refs={}, account=ACCOUNT)
            assert len(json.dumps(document, separators=(",", ":"))) < 6144  # IAM's limit


def test_each_account_gets_its_own_identity(per_account, synth):
    assert set(per_account[0]) == {"archon-deploy-identity-dev-staging", "archon-deploy-identity-prod"}
    names = [s.artifact_id for s in assembly_stacks(synth.outdir) if s.artifact_id.startswith("archon-deploy-identity")]
    assert names == ["archon-deploy-identity-dev-staging-prod"]
    provider = only(per_account[0]["archon-deploy-identity-prod"], "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_prod_sharing_an_account_must_be_said_in_config(tmp_path):
    shared = config_with_accounts(tmp_path, {"dev": "111111111111", "prod": "111111111111"})
    with pytest.raises(ConfigError, match=r"stages\.prod\.account: prod shares account 111111111111 with dev; allowed: .*shares_account: true"):
        load_stages(shared)
    unset = config_with_accounts(tmp_path, {})
    with pytest.raises(ConfigError, match="none of them sets account"):
        load_stages(unset)
    accepted = config_with_accounts(tmp_path, {}, shares_account=True)
    assert [s.name for s in load_stages(accepted)] == ["dev", "staging", "prod"]


def test_the_app_adds_none_for_a_single_stage():
    app = cdk.App(context=cdk_context())
    build_app(app, only="dev")
    assert [c.node.id for c in app.node.children if isinstance(c, cdk.Stack)] == ["dev-us-east-1"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_accesses_the_deploy_workflow_checks_with_access_analyzer_are_refused_offline(layout, request):
    """scripts/access_analyzer_checks.py asks IAM Access Analyzer (in the deploy workflow, with
    credentials) that these are not granted; here iam-simulate evaluates the same list."""
    from cdk_app.execution_policy import refused_access

    synthesised = request.getfixturevalue(layout)
    stages = {s.name: s for s in load_stages()}
    for stage in ("dev", "prod"):
        account = OTHER_ACCOUNT if (layout == "per_account" and stage == "prod") else ACCOUNT
        refused = refused_access(stages[stage], [s for s in stages.values() if s.name != stage], account=account, partition="aws")
        requests = [Request(action, resource, account=account)
                    for access in refused for action in access["actions"]
                    for resource in access.get("resources", ["*"])]
        for kind in ("cfn-execution", "boundary"):
            decisions = simulate(requests, identity=policies(synthesised, stage, kind, account))
            assert "Allowed" not in decisions, [(r.action, r.resource) for r, d in zip(requests, decisions) if d == "Allowed"]


def test_the_access_analyzer_script_fails_on_a_widened_or_granting_policy(synth, tmp_path):
    """The workflow step's logic against a stub of the two AWS clients (the checks need AWS)."""
    from scripts.access_analyzer_checks import run

    class Iam:
        def get_policy(self, PolicyArn):
            return {"Policy": {"DefaultVersionId": "v1"}}

        def get_policy_version(self, PolicyArn, VersionId):
            return {"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": []}}}

    class Analyzer:
        def __init__(self, new: str, granted: str) -> None:
            self.new, self.granted, self.calls = new, granted, []

        def check_no_new_access(self, **kwargs):
            self.calls.append(("new", kwargs))
            return {"result": self.new, "message": "widened"}

        def check_access_not_granted(self, **kwargs):
            self.calls.append(("granted", kwargs))
            return {"result": self.granted, "message": "granted"}

    passing = Analyzer("PASS", "PASS")
    assert run("dev", synth.outdir, iam=Iam(), analyzer=passing, account=ACCOUNT, partition="aws") == []
    checked = {json.loads(kw["existingPolicyDocument"]) and kw["policyType"] for kind, kw in passing.calls if kind == "new"}
    assert checked == {"IDENTITY_POLICY"} and len([c for c in passing.calls if c[0] == "new"]) == 6  # the boundary and 5 execution policies
    widened = run("dev", synth.outdir, iam=Iam(), analyzer=Analyzer("FAIL", "PASS"), account=ACCOUNT, partition="aws")
    assert widened and all("grants more than the reviewed one" in f for f in widened)
    granting = run("dev", synth.outdir, iam=Iam(), analyzer=Analyzer("PASS", "FAIL"), account=ACCOUNT, partition="aws")
    assert granting and all("grants a refused access" in f for f in granting)
    assert run("dev", tmp_path, iam=Iam(), analyzer=passing, account=ACCOUNT, partition="aws") == [
        f"{tmp_path}: no deploy identity for dev: run make synth first"]


def test_the_boundary_allows_every_action_the_stages_roles_are_granted(per_account):
    """A role gets the intersection of its policies and its boundary: an action a role's policy
    grants that the boundary lacks would fail at run time, on AWS only."""
    identities, services, _ = per_account
    for stage in ("dev", "staging", "prod"):
        account = OTHER_ACCOUNT if stage == "prod" else ACCOUNT
        caps = policies(per_account, stage, "boundary", account)
        actions: set[str] = set()
        for key, template in services.items():
            if key.split("-")[0] != stage:
                continue
            for resource in template["Resources"].values():
                documents = []
                if resource["Type"] == "AWS::IAM::Policy":
                    documents.append(resource["Properties"]["PolicyDocument"])
                if resource["Type"] == "AWS::IAM::Role":
                    documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
                for document in documents:
                    for statement in document["Statement"]:
                        granted = statement["Action"]
                        actions |= set(granted if isinstance(granted, list) else [granted])
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        requests = [Request(action, "*", account=account, principal=role(account, f"archon-{stage}-fn")) for action in sorted(actions)]
        decisions = simulate(requests, identity=[everything], boundary=caps)
        missing = [r.action for r, d in zip(requests, decisions) if d != "Allowed"]
        assert not missing, f"{stage}: the boundary lacks {missing}"
