"""One synth of the whole app per test run, as users make it: `cdk synth` through the CDK CLI
(cdk.json's app and context, the CLI's own metadata). Tests read the templates and the
validation report from it; the CLI tests list it and the runners serve it."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from filelock import FileLock

from cdk_app.config import ROOT, StageConfig, load_stages
from cloud_assembly import stacks as assembly_stacks
from tools.shell_env import unmeasured_env

CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"


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
    templates: dict[str, dict[str, Any]]  # the service stacks': "dev-us-east-1" -> template JSON
    stages: dict[str, StageConfig]
    validation_report: dict[str, Any]

    def template(self, stage: str, region: str | None = None) -> dict[str, Any]:
        region = region or self.stages[stage].primary_region
        return self.templates[f"{stage}-{region}"]

    def assertions(self, stage: str, region: str | None = None) -> Any:
        from aws_cdk.assertions import Template  # starts the jsii runtime: only the tests that use it pay

        return Template.from_json(self.template(stage, region))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    """One synth for the whole run. Under pytest-xdist the first worker to get here synthesises
    into the run's shared temporary folder and the others read its assembly."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    outdir, done = shared / "session-cdk.out", shared / "session-synth.done"
    with FileLock(str(shared / "session-synth.lock")):
        if not done.exists():
            # No coverage in the app's process: none of the measured packages (.coveragerc) runs there.
            result = subprocess.run([str(CDK_CLI), "synth", "--quiet", "--output", str(outdir)], cwd=ROOT,
                                    env=unmeasured_env(), capture_output=True, text=True)
            if result.returncode != 0:
                pytest.fail(f"cdk synth failed (exit {result.returncode}):\n{result.stderr[-5000:]}", pytrace=False)
            done.touch()  # not the manifest: app.py writes the assembly before it fails on a finding
    stages = {s.name: s for s in load_stages()}
    service_stacks = {f"{stage.name}-{region}" for stage in stages.values() for region in stage.aws_regions}
    templates = {stack.artifact_id: stack.template for stack in assembly_stacks(outdir) if stack.artifact_id in service_stacks}
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesised(outdir=outdir, templates=templates, stages=stages, validation_report=report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a slow test first, in their own order: make test's workers take whole files in
    this order (--dist loadfile --no-loadscope-reorder), so the long ones start early instead of
    ending the run on one worker while the other idles."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    synth_files = {item.path for item in items if {"synth", "api"} & set(item.fixturenames)}  # api asks for synth when it runs
    # The first worker to need the session synth makes it while the others wait: a slow file that
    # needs none goes first, to run meanwhile.
    items.sort(key=lambda item: (item.path not in slow_files, item.path in synth_files))
