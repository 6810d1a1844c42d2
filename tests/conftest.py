"""One synth of the whole app per test run, with cdk.json's context (the same feature flags
as `cdk synth`). Tests read the templates and the cdk-nag validation report from it."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from filelock import FileLock

from cdk_app.app import build_app
from cdk_app.config import ROOT, StageConfig, load_stages


def cdk_context() -> dict[str, Any]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@contextmanager
def untraced() -> Iterator[None]:
    """Pauses coverage (under make test) around code none of the measured packages (.coveragerc)
    is in, such as a synth: under the tracer it takes more CPU and measures nothing."""
    import coverage

    current = coverage.Coverage.current()
    if current is None:
        yield
        return
    current.stop()
    try:
        yield
    finally:
        current.start()


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
    """One synth for the whole run. Under pytest-xdist the first worker to get here synthesises
    into the run's shared temporary folder and the others read its assembly."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    outdir, index = shared / "session-cdk.out", shared / "session-stacks.json"
    with FileLock(str(shared / "session-synth.lock")):
        if not index.exists():
            with untraced():
                app = cdk.App(context=cdk_context(), outdir=str(outdir))
                built = build_app(app)
                assembly = app.synth()
            index.write_text(json.dumps({stack.node.id: assembly.get_stack_artifact(stack.artifact_id).template_file for stack in built}))
    stacks = json.loads(index.read_text())
    templates = {name: json.loads((outdir / file).read_text()) for name, file in stacks.items()}
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesised(outdir=outdir, templates=templates, stages={s.name: s for s in load_stages()}, validation_report=report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a slow test first, in their own order: make test's workers take whole files in
    this order (--dist loadfile --no-loadscope-reorder), so the long ones start early instead of
    ending the run on one worker while the other idles."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
