"""Every stack output a script, workflow or doc names is one the synthesised templates have: a
rename in the CDK code cannot break the deploy workflow's credentials step or a README command
silently (the e2e client's output was once ClientIdE2E in the templates and ClientIdE2e in the
script and README)."""

from __future__ import annotations

import re

import yaml

from cdk_app.config import ROOT
from cloud_assembly import stacks as assembly_stacks

# How each kind of file names an output: a shell function over describe-stacks called with the
# name, a describe-stacks query, or prose ("output `ApiUrl`", "outputs `A` and `B`").
CALLS = re.compile(r"\$\((?:output|out) ([A-Za-z0-9]+)\)")
QUERIES = re.compile(r"OutputKey=='([A-Za-z0-9]+)'")
PROSE = re.compile(r"(?:stack )?outputs? `([A-Za-z0-9<>]+)`")
MENTIONED = re.compile(r"`((?:ClientId|DeployRoleArn|BootstrapCommand)[A-Za-z0-9]+)`")


def named_outputs(text: str) -> set[str]:
    names = set(CALLS.findall(text)) | set(QUERIES.findall(text)) | set(PROSE.findall(text)) | set(MENTIONED.findall(text))
    expanded = set()
    for name in names:  # DeployRoleArn<Stage> stands for one per stage
        expanded |= {name.replace("<Stage>", s) for s in ("Dev", "Staging", "Prod")} if "<Stage>" in name else {name}
    return expanded


def sources() -> dict[str, str]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "scripts").glob("*.sh")),
             *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
    texts = {str(f.relative_to(ROOT)): f.read_text() for f in files}
    # A workflow's run steps are read as the YAML holds them (the shell they run).
    for name in [n for n in texts if n.endswith(".yml")]:
        jobs = yaml.safe_load(texts[name]).get("jobs", {})
        texts[name] = "\n".join(step.get("run", "") for job in jobs.values() for step in job.get("steps", []))
    return texts


def test_every_output_a_script_workflow_or_doc_names_is_synthesised(synth):
    outputs = {name for stack in assembly_stacks(synth.outdir) for name in stack.template.get("Outputs", {})}
    named = {path: named_outputs(text) for path, text in sources().items()}
    assert named["scripts/e2e-credentials.sh"] >= {"ApiUrl", "TokenUrl", "ClientIdE2e", "E2eClientSecretArn"}
    assert named["README.md"] >= {"DeployRoleArnProd", "BootstrapCommandDev", "ClientIdReader", "UserPoolId"}
    missing = {path: sorted(names - outputs) for path, names in named.items() if names - outputs}
    assert not missing, f"named but not synthesised: {missing}"


def test_the_e2e_client_output_is_the_one_the_script_reads(synth):
    from cdk_app.identity import E2E_CLIENT, E2E_SECRET_OUTPUT, client_output

    for key, template in synth.templates.items():
        assert client_output(E2E_CLIENT) == "ClientIdE2e" and "ClientIdE2e" in template["Outputs"], key
        assert E2E_SECRET_OUTPUT in template["Outputs"], key
    assert client_output("billing-service") == "ClientIdBillingService"
