"""Synth and test time: what CI pays on every pull request.

    make bench          # all benchmarks; this one alone: .venv/bin/python bench/synth.py

`cdk synth` of every stage (as `make synth` runs it, into a scratch directory) against one
minimal stack synthesised the same way (the jsii and CDK CLI floor); medians of BENCH_SYNTH_RUNS.
Then the whole `make test`, once, wall time (skip it with BENCH_SUITE=0).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.report import publish
from tools.shell_env import user_shell_env

ROOT = Path(__file__).resolve().parent.parent

RUNS = int(os.environ.get("BENCH_SYNTH_RUNS", "3"))
MINIMAL_APP = """
import aws_cdk as cdk
app = cdk.App()
stack = cdk.Stack(app, "Minimal")
cdk.CfnWaitConditionHandle(stack, "Nothing")  # CloudFormation wants one resource
app.synth()
"""


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    env = user_shell_env(CDK_DISABLE_VERSION_CHECK="1")
    synth_all, synth_minimal = [], []
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        for i in range(RUNS):
            synth_all.append(timed(["npx", "cdk", "synth", "--quiet", "-o", f"{tmp}/all-{i}"], env=env))
            synth_minimal.append(timed(["npx", "cdk", "synth", "--quiet", "--app", f"{sys.executable} {minimal}", "-o", f"{tmp}/min-{i}"], env=env))
        templates = len(list(Path(f"{tmp}/all-0").rglob("*.template.json")))
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; median of {RUNS} runs.", "",
        "| Step | wall time | vs floor |", "| --- | --- | --- |",
        f"| `cdk synth` all stages ({templates} templates, cdk-nag and cfn-guard included) | {statistics.median(synth_all):.1f} s | {statistics.median(synth_all) / statistics.median(synth_minimal):.2f}x |",
        f"| floor: `cdk synth` of one stack with one resource | {statistics.median(synth_minimal):.1f} s | 1.00x |",
    ]
    if os.environ.get("BENCH_SUITE", "1") != "0":
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        suite = timed(["make", "test"], env={**env, "CI": "true"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        lines.append(f"| `make test`, whole suite, set-up already done ({os.cpu_count()} test workers) | {suite:.0f} s "
                     f"(CPU {cpu:.0f} s: {cpu / suite:.1f} cores busy) | |")
    publish("synth", "Synth and test time", lines,
            "The floor is what any CDK app in Python pays per `cdk synth`: the CLI, a Node process and the "
            "jsii bridge. Above it: cdk-nag's two packs and AWS Control Tower's controls through cfn-guard, which "
            "runs only the bundled rules that name a resource type of the app (every rule on every template took "
            "22.8 s for this synth). `make test` runs the test files on every core (pytest-xdist, a file's fixtures "
            "on one worker); the workers share one `cdk synth` of every stage through the CLI, which the "
            "infrastructure tests read, the runners serve and the CLI test lists, and the other synths are the "
            "behaviours under test (the CLI synthesising one stage, per-account identities, a custom domain, "
            "`make diff` of two commits). The suite is CPU-bound: its CPU time over two cores is the "
            "floor of its wall time. Coverage traces the test processes and the runner subprocesses; the tools "
            "that run none of the measured code (cfn-lint, the CDK CLI's synths, schemathesis) run untraced, and "
            "the test processes pause coverage around their own synths. The Terraform sidecar's checks, checkov, "
            "mypy and the short fuzz, ledger and page runs are inside the figure. The 90 s goal is not met.")


if __name__ == "__main__":
    main()
