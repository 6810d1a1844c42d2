"""make diff on real pairs of cloud assemblies: each pair differs by one change a reviewer must see."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam

from cdk_app import packaging
from cdk_app.config import ROOT, load_stages
from cdk_app.stack import UsersServiceStack, service_stacks
from synth_review.__main__ import main
from synth_review.api_contract import ContractError, compare_documents
from synth_review.compare import Report, compare, load_assembly
from synth_review.report import MARKER, markdown, text
from tests.conftest import cdk_context

STACK = "archon-dev-us-east-1"


def assemble(out: Path, mutate: Callable[[UsersServiceStack], None] | None = None, **stage_changes) -> Path:
    """One real cloud assembly of the dev stage, optionally changed."""
    dev = dataclasses.replace(load_stages(only="dev")[0], **stage_changes)
    # As the CLI does: construct paths in the template metadata, which the report uses as labels.
    app = cdk.App(context={**cdk_context(), "aws:cdk:enable-path-metadata": True}, outdir=str(out))
    (stack,) = service_stacks(app, stage=dev)
    if mutate:
        mutate(stack)
    app.synth()
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return assemble(tmp_path_factory.mktemp("base"))


def review(base: Path, head: Path) -> Report:
    return compare(load_assembly(base), load_assembly(head), base_name="base", head_name="head")


def messages(report: Report, category: str) -> list[str]:
    return [f"{f.label}: {f.message}" for f in report.of(category)]


def test_identical_assemblies_have_no_changes(base, tmp_path):
    report = review(base, assemble(tmp_path / "same"))
    assert report.changes == {} and report.findings == []
    assert "No changes." in text(report)


def test_changed_memory_size_is_one_modified_property(base, tmp_path):
    head = assemble(tmp_path / "head", users_api=dataclasses.replace(load_stages(only="dev")[0].users_api, memory_mb=2048))
    report = review(base, head)
    [change] = report.changes[STACK]
    assert (change.label, change.kind, change.paths) == ("UsersApi/Function", "modified", ("MemorySize",))
    assert report.findings == []
    # The counts are of resources, not of stacks.
    assert "1 stack(s) changed; their resources: 0 added, 0 removed, 1 modified, 0 replaced." in text(report)


def test_a_new_route_is_an_added_method_and_flagged_if_unauthenticated(base, tmp_path):
    def add_route(stage: UsersServiceStack) -> None:
        health = stage.api.api.root.add_resource("health")
        health.add_method("GET", apigw.MockIntegration(), authorization_type=apigw.AuthorizationType.NONE)

    report = review(base, assemble(tmp_path / "head", add_route))
    changes = {c.label: c for c in report.changes[STACK]}
    assert changes["GET /health"].kind == "added"
    assert changes["Api/Api/Default/health"].kind == "added"
    # CDK renames the API deployment on every API change: masked, not reported as remove + add.
    assert not any(c.type == "AWS::ApiGateway::Deployment" and c.kind in ("added", "removed") for c in changes.values())
    assert messages(report, "security") == ["GET /health: route added without an authorizer (anyone may call it)"]
    assert report.destructive == []


def test_a_removed_authorizer_is_a_security_finding(base, tmp_path):
    def remove_authorizer(stage: UsersServiceStack) -> None:
        method = stage.api.api.root.get_resource("users").get_resource("{user_id}").node.find_child("GET")
        cfn = method.node.default_child
        cfn.add_property_override("AuthorizationType", "NONE")
        cfn.add_property_deletion_override("AuthorizerId")

    report = review(base, assemble(tmp_path / "head", remove_authorizer))
    security = messages(report, "security")
    assert any(m.startswith("GET /users/{user_id}: method authorization changed (AuthorizationType: COGNITO_USER_POOLS -> NONE)") for m in security), security
    assert any(m.startswith("GET /users/{user_id}: method authorizer changed") for m in security), security
    assert report.destructive == []


def test_a_table_key_change_is_a_destructive_replacement(base, tmp_path):
    def change_key(stage: UsersServiceStack) -> None:
        table = stage.data.node.find_child("Table").node.default_child
        table.add_property_override("KeySchema", [{"AttributeName": "id", "KeyType": "HASH"}])

    report = review(base, assemble(tmp_path / "head", change_key))
    [change] = [c for c in report.changes[STACK] if c.type == "AWS::DynamoDB::GlobalTable"]
    assert (change.kind, change.replaced_by) == ("replaced", ("KeySchema",))
    assert messages(report, "destructive") == [
        "Data/Table: AWS::DynamoDB::GlobalTable replaced because KeySchema changed (the old one is deleted with its data)"]
    md = markdown(report)
    assert md.startswith(MARKER) and "🛑 Destructive changes to stateful resources (1)" in md


def test_a_renamed_queue_is_a_destructive_replacement(base, tmp_path):
    def rename(stage: UsersServiceStack) -> None:
        stage.notifications.queue.queue.node.default_child.add_property_override("QueueName", "welcome-dev")

    report = review(base, assemble(tmp_path / "head", rename))
    assert [f.message for f in report.destructive] == [
        "AWS::SQS::Queue replaced because QueueName changed (the old one is deleted with its data)"]


def test_a_widened_iam_statement_is_reported_with_its_actions_and_resources(base, tmp_path):
    def widen(stage: UsersServiceStack) -> None:
        stage.users_api.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=["*"]))

    report = review(base, assemble(tmp_path / "head", widen))
    assert messages(report, "iam") == [
        "UsersApi/Role/DefaultPolicy: statement widened: + dynamodb:Scan "
        "(now Allow dynamodb:Scan, xray:PutTelemetryRecords, xray:PutTraceSegments on *)"]
    [change] = report.changes[STACK]
    assert change.paths == ("PolicyDocument.Statement[0]",)


def test_a_code_only_change_reads_function_code_changed(base, tmp_path, monkeypatch):
    code = tmp_path / "lambda_src"
    shutil.copytree(packaging.LAMBDA_SRC, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "handlers" / "users_api.py").write_text((code / "handlers" / "users_api.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(packaging, "LAMBDA_SRC", code)
    report = review(base, assemble(tmp_path / "head"))
    assert [(c.label, c.kind, c.paths, c.code_changed) for c in report.changes[STACK]] == [
        ("Notifications/Processor/Function", "modified", (), True),
        ("UsersApi/Function", "modified", (), True),
    ]
    assert "function code changed" in text(report) and report.findings == []


def test_a_code_only_change_of_a_snap_start_function_is_not_a_replaced_version(tmp_path, monkeypatch):
    """A published version's logical id follows the code; the review names it by its function."""
    snap_start = {"users_api": dataclasses.replace(load_stages(only="dev")[0].users_api, snap_start=True)}
    before = assemble(tmp_path / "before", **snap_start)
    code = tmp_path / "lambda_src"
    shutil.copytree(packaging.LAMBDA_SRC, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "handlers" / "users_api.py").write_text((code / "handlers" / "users_api.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(packaging, "LAMBDA_SRC", code)
    report = review(before, assemble(tmp_path / "head", **snap_start))
    assert [(c.label, c.kind, c.code_changed) for c in report.changes[STACK]] == [
        ("Notifications/Processor/Function", "modified", True),
        ("UsersApi/Function", "modified", True),
    ]


def test_cli_fails_on_destructive_changes_unless_allowed(base, tmp_path, capsys, monkeypatch):
    def change_key(stage: UsersServiceStack) -> None:
        stage.data.node.find_child("Table").node.default_child.add_property_override(
            "KeySchema", [{"AttributeName": "id", "KeyType": "HASH"}])

    head = assemble(tmp_path / "head", change_key)
    args = ["--base-assembly", str(base), "--head-assembly", str(head), "--fail-on-destructive"]
    monkeypatch.delenv("ALLOW_DESTRUCTIVE", raising=False)
    # Only the gate is under test: the CDK CLI's own diff of the report has a test of its own.
    monkeypatch.setattr("synth_review.__main__.cdk_diffs", lambda *args: {})
    assert main(args) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: destructive changes (archon-dev-us-east-1 Data/Table")
    assert main([*args, "--allow-destructive", "--format", "md", "--output", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text().startswith(MARKER)
    monkeypatch.setenv("ALLOW_DESTRUCTIVE", "true")
    assert main(args) == 0


def test_cli_names_a_missing_assembly(tmp_path, capsys):
    assert main(["--base-assembly", str(tmp_path / "nothing"), "--head-assembly", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing'}: no cloud assembly here (manifest.json missing); synthesise first"


@pytest.mark.slow
def test_make_diff_on_this_repositorys_history(synth):
    """The real command: HEAD checked out in a worktree and synthesised, against the working tree
    as the session's `cdk synth` made it (every stage); --stage dev compares dev's stacks only."""
    result = subprocess.run([sys.executable, "-m", "synth_review", "--base", "HEAD", "--stage", "dev", "--format", "md",
                             "--head-assembly", str(synth.outdir)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(MARKER) and f"## Synth review: `HEAD` → `{synth.outdir}`" in result.stdout
    assert "API contract (docs/openapi.json): " in result.stdout
    assert "Stacks added" not in result.stdout, "the other stages of the head assembly were compared"


def test_an_unknown_base_ref_is_one_line(capsys):
    assert main(["--base", "no-such-ref-anywhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: finding 'no-such-ref-anywhere' (set BASE=<ref>") and "\n" not in err


def test_a_stale_api_document_fails_before_any_synth(monkeypatch, capsys):
    from synth_review import __main__ as review

    monkeypatch.setattr(review, "stale_document", lambda: "docs/openapi.json differs from the generated document")
    monkeypatch.setattr(review, "checkout", lambda ref: pytest.fail("checked out a base for a stale document"))
    monkeypatch.setattr(review, "synth", lambda *args: pytest.fail("synthesised for a stale document"))
    assert main(["--base", "HEAD"]) == 1
    assert capsys.readouterr().err.strip() == ("error: docs/openapi.json does not describe the code (docs/openapi.json differs from the "
                                               "generated document); the API review compares it")


def test_given_assemblies_without_a_base_document_no_contract_is_checked_or_compared(base, monkeypatch, capsys):
    from synth_review import __main__ as review

    monkeypatch.setattr(review, "stale_document", lambda: pytest.fail("checked a document nothing is compared with"))
    monkeypatch.setattr(review, "cdk_diffs", lambda *args: {})
    assert main(["--base-assembly", str(base), "--head-assembly", str(base)]) == 0
    assert "API contract (docs/openapi.json) not compared." in capsys.readouterr().out


def test_a_failed_synth_shows_the_underlying_error(tmp_path):
    import sys

    from synth_review.__main__ import _run
    from synth_review.compare import ReviewError

    command = [sys.executable, "-c", "import sys; print('b\\'!!  Node 20 is end-of-life  !!\\'', file=sys.stderr); "
               "raise ValueError('stages.qa is not a stage')"]
    with pytest.raises(ReviewError) as failed:
        _run(command, cwd=tmp_path, what="cdk synth in the base")
    message = str(failed.value)
    assert "ValueError: stages.qa is not a stage" in message and "Traceback" in message
    assert "end-of-life" not in message


def test_the_base_and_the_head_synthesise_at_once_and_a_failure_names_the_base_first(tmp_path, monkeypatch):
    import threading

    from synth_review import __main__ as review
    from synth_review.compare import ReviewError

    both_running = threading.Barrier(2, timeout=10)  # broken, and raising, unless the two overlap

    def synth(source: Path, out: Path, stage: str | None) -> None:
        both_running.wait()
        raise ReviewError(f"cdk synth in {source.name} failed")

    monkeypatch.setattr(review, "synth", synth)
    with pytest.raises(ReviewError, match="in base failed"):
        review.synth_side_by_side([(tmp_path / "base", tmp_path / "b"), (tmp_path / "head", tmp_path / "h")], "dev")


# --- the API contract ---------------------------------------------------------------------

CONTRACT = json.loads((ROOT / "docs" / "openapi.json").read_text())


def _changed(edit: Callable[[dict], None]) -> str:
    document = copy.deepcopy(CONTRACT)
    edit(document)
    return json.dumps(document)


def _schemas(document: dict) -> dict:
    return document["components"]["schemas"]


BREAKING = {
    "a removed operation": lambda d: d["paths"]["/users/{user_id}"].pop("get"),
    "a new required request field": lambda d: (_schemas(d)["NewUser"]["properties"].update(age={"type": "integer"}),
                                               _schemas(d)["NewUser"]["required"].append("age")),
    "a removed response field": lambda d: _schemas(d)["User"]["properties"].pop("created_at"),
    "a shorter maximum name": lambda d: _schemas(d)["NewUser"]["properties"]["name"].update(maxLength=10),
    "another scope required": lambda d: d["paths"]["/users"]["get"].update(security=[{"cognito": ["users/admin"]}]),
}
NOT_BREAKING = {
    "a new optional request field": lambda d: _schemas(d)["NewUser"]["properties"].update(nickname={"type": "string"}),
    "a reworded description": lambda d: _schemas(d)["User"].update(description="Someone who signed up."),
}


@pytest.mark.parametrize("change", BREAKING)
def test_the_api_diff_classifies_a_breaking_change(change):
    changes = compare_documents(json.dumps(CONTRACT), _changed(BREAKING[change]))
    assert changes and any(c.type == "breaking" for c in changes), changes


@pytest.mark.parametrize("change", NOT_BREAKING)
def test_the_api_diff_lets_a_compatible_change_pass(change):
    changes = compare_documents(json.dumps(CONTRACT), _changed(NOT_BREAKING[change]))
    assert changes and not any(c.type == "breaking" for c in changes), changes


def test_the_same_contract_has_no_api_changes():
    assert compare_documents(json.dumps(CONTRACT), json.dumps(CONTRACT)) == []


def test_a_planted_breaking_api_change_fails_the_review_unless_labelled(base, tmp_path, capsys, monkeypatch):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(CONTRACT))
    after.write_text(_changed(BREAKING["a removed response field"]))
    args = ["--base-assembly", str(base), "--head-assembly", str(base), "--base-openapi", str(before),
            "--head-openapi", str(after), "--fail-on-breaking-api", "--format", "md", "--output", str(tmp_path / "r.md")]
    monkeypatch.delenv("ALLOW_BREAKING_API", raising=False)
    assert main(args) == 4
    out, err = capsys.readouterr()
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("error: breaking API changes (GET /users responses 200")
    assert "created_at" in err_lines[0] and "allow-breaking-api" in err_lines[0]
    # Flagged at the top of the report, before the infrastructure's findings and changes.
    report = (tmp_path / "r.md").read_text()
    lines = report.splitlines()
    assert lines[4] == "API contract (docs/openapi.json): 3 breaking."
    assert lines[6] == "### 🛑 Breaking API changes (3)"
    assert "<b>API contract</b>: 3 change(s)" in report
    assert main([*args, "--allow-breaking-api"]) == 0
    monkeypatch.setenv("ALLOW_BREAKING_API", "true")
    assert main(args) == 0


def test_a_compatible_api_change_is_listed_and_passes(base, tmp_path, capsys):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(CONTRACT))
    after.write_text(_changed(NOT_BREAKING["a new optional request field"]))
    assert main(["--base-assembly", str(base), "--head-assembly", str(base), "--base-openapi", str(before),
                 "--head-openapi", str(after), "--fail-on-breaking-api"]) == 0
    out = capsys.readouterr().out
    assert "API contract (docs/openapi.json): 1 non-breaking." in out
    assert "[non-breaking] POST /users requestBody content application/json schema properties nickname: [Added] property `nickname`" in out


def test_an_api_document_that_is_not_json_is_named(tmp_path):
    with pytest.raises(ContractError, match=r"docs/openapi.json \(after\) is not JSON"):
        compare_documents(json.dumps(CONTRACT), "{")


def test_each_changed_stack_also_shows_the_cdk_clis_own_diff(base, tmp_path, capsys):
    head = assemble(tmp_path / "head", users_api=dataclasses.replace(load_stages(only="dev")[0].users_api, memory_mb=2048))
    assert main(["--base-assembly", str(base), "--head-assembly", str(head), "--format", "md"]) == 0
    report = capsys.readouterr().out
    shown = report[report.index("As `cdk diff` shows it"):]
    assert "[~] AWS::Lambda::Function UsersApi/Function" in shown
    assert "[~] MemorySize" in shown and "[-] 1024" in shown and "[+] 2048" in shown


# Changes to the dev template, each as (what it is, how the base changes, how the head changes).
def _first(template: dict, type_: str, **match: object) -> dict:
    return next(r for r in template["Resources"].values()
                if r["Type"] == type_ and all(r["Properties"].get(k) == v for k, v in match.items()))


def _key_schema(t: dict) -> None:
    table = _first(t, "AWS::DynamoDB::GlobalTable")
    table["Properties"]["KeySchema"] = [{"AttributeName": "id", "KeyType": "HASH"}]
    table["Properties"]["AttributeDefinitions"].append({"AttributeName": "id", "AttributeType": "S"})


def _custom(token: str) -> Callable[[dict], None]:
    def add(t: dict) -> None:
        t["Resources"]["Probe"] = {"Type": "Custom::Probe", "Properties": {"ServiceToken": token, "Size": 1}}
    return add


def _condition(t: dict) -> None:
    t.setdefault("Conditions", {})["Never"] = {"Fn::Equals": ["a", "b"]}
    [queue_id] = [k for k, r in t["Resources"].items() if r["Properties"].get("QueueName") == "outbox-dev-dlq"]
    t["Resources"][queue_id]["Condition"] = "Never"


def _remove_dashboardless_alarm_dlq(t: dict) -> None:
    [logical_id] = [k for k, r in t["Resources"].items() if r["Type"] == "AWS::SQS::QueuePolicy"][:1]
    del t["Resources"][logical_id]


CORPUS: list[tuple[str, list[Callable[[dict], None]], list[Callable[[dict], None]]]] = [
    ("key schema, queue, function and API names, a condition, a removal, a custom resource's token", [_custom("arn:aws:lambda:us-east-1:1:function:a")], [
        _key_schema,
        lambda t: _first(t, "AWS::SQS::Queue", QueueName="notifications-dev")["Properties"].update(QueueName="welcome-dev"),
        lambda t: _first(t, "AWS::Lambda::Function", FunctionName="archon-users-api-dev")["Properties"].update(FunctionName="users-dev"),
        lambda t: _first(t, "AWS::ApiGateway::RestApi")["Properties"].update(Name="users-api-dev"),
        _condition, _remove_dashboardless_alarm_dlq, _custom("arn:aws:lambda:us-east-1:1:function:b"),
    ]),
    ("table name, and a Pipe source given as text", [], [
        lambda t: _first(t, "AWS::DynamoDB::GlobalTable")["Properties"].update(TableName="people-dev"),
        lambda t: _first(t, "AWS::Pipes::Pipe")["Properties"].update(
            Source="arn:aws:dynamodb:us-east-1:1:table/other/stream/2026-01-01T00:00:00.000"),
    ]),
]
CDK_LINE = re.compile(r"^\[([-~+])\] (\S+) \S+ (\S+)(?: (.*))?$")


@pytest.mark.slow
@pytest.mark.parametrize("name,base_changes,head_changes", CORPUS, ids=[c[0] for c in CORPUS])
def test_the_review_never_counts_fewer_replacements_or_removals_than_cdk_diff(base, tmp_path, name, base_changes, head_changes):
    from synth_review.cdk_diff import cdk_diffs

    def variant(folder: str, changes: list[Callable[[dict], None]]) -> Path:
        out = tmp_path / folder
        shutil.copytree(base, out)
        path = out / "dev-us-east-1.template.json"
        template = json.loads(path.read_text())
        for change in changes:
            change(template)
        path.write_text(json.dumps(template))
        return out

    old, new = variant("old", base_changes), variant("new", base_changes + head_changes)
    shown = cdk_diffs(old, new, [STACK])[STACK]
    cdk_replaced, cdk_removed = set(), set()
    for line in shown.splitlines():
        match = CDK_LINE.match(line)
        if match and match.group(1) == "~" and (match.group(4) or "") in ("replace", "may be replaced"):
            cdk_replaced.add(match.group(3))
        elif match and match.group(1) == "-":
            cdk_removed.add(match.group(3))
    assert cdk_replaced, shown  # the corpus holds replacements cdk diff sees
    ours = review(old, new).changes[STACK]
    replaced = {c.logical_id for c in ours if c.kind == "replaced"}
    removed = {c.logical_id for c in ours if c.kind == "removed"}
    assert cdk_replaced <= replaced, (sorted(cdk_replaced - replaced), shown)
    assert cdk_removed <= removed | replaced, (sorted(cdk_removed - removed), shown)


def test_the_exit_codes_the_readme_states_are_what_the_shell_sees(base, tmp_path):
    """The module exits 3 on a destructive change; through make, as the README says, 2."""
    from tools.shell_env import user_shell_env

    def pair(name: str) -> str:
        """A base and a changed head of their own for each run (a run's `cdk diff` may write into them)."""
        old, head = tmp_path / f"{name}-base", tmp_path / f"{name}-head"
        shutil.copytree(base, old)
        shutil.copytree(base, head)
        path = head / "dev-us-east-1.template.json"
        template = json.loads(path.read_text())
        _key_schema(template)
        path.write_text(json.dumps(template))
        return f"--base-assembly {old} --head-assembly {head} --fail-on-destructive"

    shell = {k: v for k, v in user_shell_env().items() if k != "STAGE"}  # the unit tests' environment sets one make reads
    direct = subprocess.run([sys.executable, "-m", "synth_review", *pair("direct").split()], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=shell)
    through_make = subprocess.run(["make", "-s", "-o", ".venv/.stamp", "-o", "node_modules/.stamp", "-o", ".tools/node/bin/node",
                                   "-o", "build/layer.stamp", "diff", f"DIFF_FLAGS={pair('make')}"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=300, env=shell)
    readme = (ROOT / "README.md").read_text()
    assert direct.returncode == 3 and "exits 3 on destructive changes" in readme, direct.stderr[-2000:]
    assert through_make.returncode == 2 and "make's own exit status, 2" in readme, through_make.stderr[-2000:]


def test_a_stage_neither_side_has_is_an_error_not_no_changes(base, capsys):
    """make diff STAGE=prd (or a STAGE left in the environment) once reported "No changes"."""
    assert main(["--base-assembly", str(base), "--head-assembly", str(base), "--stage", "prd"]) != 0
    err = capsys.readouterr().err
    assert "no stacks of a stage 'prd' on either side" in err
