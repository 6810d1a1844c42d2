"""One synth of the whole app per test session, with cdk.json's context (the same feature flags
as `cdk synth`). Tests read the templates and the cdk-nag validation report from it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_app.app import build_app
from cdk_app.config import ROOT, StageConfig, load_stages


def cdk_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesised:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # "dev-us-east-1" -> template JSON
    stages: dict[str, StageConfig]
    validation_report: dict[str, Any]

    def template(self, stage: str, region: str | None = None) -> dict[str, Any]:
        region = region or self.stages[stage].primary_region
        return self.templates[f"{stage}-{region}"]

    def assertions(self, stage: str, region: str | None = None) -> Template:
        return Template.from_json(self.template(stage, region))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    built = build_app(app)
    assembly = app.synth()
    templates = {}
    for stack in built:
        templates[stack.node.id] = assembly.get_stack_artifact(stack.artifact_id).template
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesised(outdir=outdir, templates=templates, stages={s.name: s for s in load_stages()}, validation_report=report)
